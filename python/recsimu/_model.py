"""What the environments know about the served model, and the encoding of its states as arrays.

The observation of one user is a Gymnasium ``Dict`` of three arrays of length N (the model's
state length), one entry per (item, feedback) pair of the state, oldest first, LEFT-padded like the
model pads a short state:

- ``items``: item indices in [0, V); padding is V.
- ``feedback``: label indices in [0, K); padding is K.
- ``mask``: 1 for a real pair, 0 for padding.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from gymnasium import spaces

from ._http import Client
from .errors import InvalidActionError

# Seeds the server takes as they are: 0 <= seed < 2**53 (JSON numbers stay exact there).
MAX_SERVER_SEED = 2**53
# Episode seeds drawn from an environment's np_random, like the server's own: 32 bits.
DRAWN_SEED_BOUND = 2**32


class ServedModel:
    """The served model's vocabulary, labels, rewards and limits (``GET /v1/model`` + items)."""

    def __init__(self, model: Mapping[str, Any], item_ids: Sequence[str]):
        self.raw = dict(model)
        self.labels: tuple[str, ...] = tuple(model["labels"])
        self.positive: tuple[bool, ...] = tuple(bool(p) for p in model["positive"])
        self.rewards: dict[str, float] = {k: float(v) for k, v in model["rewards"].items()}
        self.state_length = int(model["state_length"])
        self.item_ids: tuple[str, ...] = tuple(item_ids)
        self.max_steps = int(model["env"]["max_steps"])
        self.leave_after_skips = int(model["env"]["leave_after_skips"])
        # "rule" (leave after --leave-after-skips negatives) or "learned" (serve --leave learned)
        self.leave: str = str(model["env"].get("leave", "rule"))
        self.leave_model: dict[str, Any] | None = model["env"].get("leave_model")
        self.limits: dict[str, Any] = dict(model.get("limits", {}))
        self.item_index = {item: i for i, item in enumerate(self.item_ids)}
        self.label_index = {label: k for k, label in enumerate(self.labels)}
        if len(self.item_index) != len(self.item_ids) or not self.item_ids:
            raise ValueError("the server's item list is empty or holds duplicates")

    @classmethod
    def fetch(cls, client: Client) -> "ServedModel":
        """Reads ``GET /v1/model`` and pages through ``GET /v1/items``."""
        model = client.request("GET", "/v1/model")
        items: list[str] = []
        offset: int | None = 0
        while offset is not None:
            page = client.request("GET", f"/v1/items?offset={offset}&limit=10000")
            items.extend(page["items"])
            offset = page["next_offset"]
        return cls(model, items)

    @property
    def num_items(self) -> int:
        """V, the number of items (actions)."""
        return len(self.item_ids)

    def observation_space(self) -> spaces.Dict:
        """The space of one user's observation (see the module docstring)."""
        n, v, k = self.state_length, self.num_items, len(self.labels)
        return spaces.Dict({
            "items": spaces.MultiDiscrete(np.full(n, v + 1, dtype=np.int64)),
            "feedback": spaces.MultiDiscrete(np.full(n, k + 1, dtype=np.int64)),
            "mask": spaces.MultiBinary(n),
        })

    def empty_arrays(self, batch: int | None = None) -> dict[str, np.ndarray]:
        """All-padding observation arrays, of shape (N,) or (batch, N)."""
        shape = (self.state_length,) if batch is None else (batch, self.state_length)
        return {
            "items": np.full(shape, self.num_items, dtype=np.int64),
            "feedback": np.full(shape, len(self.labels), dtype=np.int64),
            "mask": np.zeros(shape, dtype=np.int8),
        }

    def encode_rows(self, states: Sequence[Sequence[Mapping[str, str]]]) -> dict[str, np.ndarray]:
        """Observation arrays of shape (len(states), N) from the server's states (lists of
        {"item", "feedback"}, oldest first): built as Python lists, converted once."""
        n, v, k = self.state_length, self.num_items, len(self.labels)
        item_index, label_index = self.item_index, self.label_index
        items, feedback, mask = [], [], []
        for state in states:
            pairs = state[-n:] if n > 0 else []
            pad = n - len(pairs)
            items.append([v] * pad + [item_index[p["item"]] for p in pairs])
            feedback.append([k] * pad + [label_index[p["feedback"]] for p in pairs])
            mask.append([0] * pad + [1] * len(pairs))
        shape = (len(states), n)
        return {
            "items": np.array(items, dtype=np.int64).reshape(shape),
            "feedback": np.array(feedback, dtype=np.int64).reshape(shape),
            "mask": np.array(mask, dtype=np.int8).reshape(shape),
        }

    def encode(self, state: Sequence[Mapping[str, str]]) -> dict[str, np.ndarray]:
        """One observation (a dict of three arrays of shape (N,)) from the server's state."""
        return {key: a[0] for key, a in self.encode_rows([state]).items()}

    def item_id(self, action: Any, where: str = "action") -> str:
        """The item id that ``action`` names: an index in [0, V) (any integer type) or an id."""
        if isinstance(action, np.ndarray) and action.shape == ():
            action = action.item()
        if isinstance(action, str):
            if action in self.item_index:
                return action
            raise InvalidActionError(
                f"{where} = {_clip(action)!r} is not an item id of the model "
                f"({self.num_items} items; see env.item_ids)")
        if isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_)):
            i = int(action)
            if 0 <= i < self.num_items:
                return self.item_ids[i]
            raise InvalidActionError(
                f"{where} = {i} is out of range: expected an item index in [0, {self.num_items})")
        raise InvalidActionError(
            f"{where} = {_clip(repr(action))}: expected an item index (int in "
            f"[0, {self.num_items})) or an item id (str), got {type(action).__name__}")

    def indices_of(self, actions: Any, count: int) -> np.ndarray:
        """The item indices (int64, shape (count,)) of a batch of ``count`` actions: an array of
        indices (checked at once) or a sequence of indices and ids. Raises InvalidActionError
        naming the first bad entry (``actions[2]``)."""
        arr = np.asarray(actions)
        if arr.shape != (count,):
            raise InvalidActionError(
                f"actions: expected {count} actions (one per environment), got shape {arr.shape}")
        if arr.dtype.kind in "iu":
            if count and (arr.min() < 0 or arr.max() >= self.num_items):
                i = int(np.flatnonzero((arr < 0) | (arr >= self.num_items))[0])
                self.item_id(arr[i], f"actions[{i}]")  # raises, naming the first bad one
            return arr.astype(np.int64, copy=False)
        index = self.item_index
        return np.array([index[self.item_id(a, f"actions[{i}]")]
                         for i, a in enumerate(list(actions))], dtype=np.int64)

    def page_ids(self, action: Any, size: int, where: str = "action") -> list[str]:
        """The item ids of a page of ``size`` distinct items: a 1-D array or a sequence of indices
        (any integer type) or ids. Raises InvalidActionError naming the entry (``action[2]``)."""
        if isinstance(action, np.ndarray):
            if action.shape != (size,):
                raise InvalidActionError(f"{where}: expected a page of {size} distinct items, "
                                         f"got shape {action.shape}")
            entries = action.tolist()
        elif isinstance(action, Sequence) and not isinstance(action, (str, bytes)):
            if len(action) != size:
                raise InvalidActionError(f"{where}: expected a page of {size} distinct items, "
                                         f"got {len(action)}")
            entries = list(action)
        else:
            raise InvalidActionError(
                f"{where} = {_clip(repr(action))}: expected a page of {size} distinct items "
                f"(indices or ids), got {type(action).__name__}")
        ids = [self.item_id(a, f"{where}[{j}]") for j, a in enumerate(entries)]
        first: dict[str, int] = {}
        for j, item in enumerate(ids):
            if item in first:
                raise InvalidActionError(
                    f"{where}[{j}] = {_clip(repr(entries[j]))} repeats {where}[{first[item]}] "
                    f"(item {_clip(item)!r}): a page holds distinct items")
            first[item] = j
        return ids

    def page_indices_of(self, actions: Any, count: int, size: int) -> np.ndarray:
        """The item indices (int64, shape (count, size)) of the pages of ``count`` environments:
        an array of shape (count, size) of indices (checked at once), or a sequence of ``count``
        pages (indices or ids). Raises InvalidActionError naming the entry (``actions[1][2]``)."""
        if isinstance(actions, np.ndarray) and actions.shape != (count, size):
            raise InvalidActionError(f"actions: expected {count} pages of {size} items (one per "
                                     f"environment), got shape {actions.shape}")
        if not isinstance(actions, np.ndarray) and len(actions) != count:
            raise InvalidActionError(f"actions: expected {count} pages (one per environment), "
                                     f"got {len(actions)}")
        if isinstance(actions, np.ndarray) and actions.dtype.kind in "iu":
            ordered = np.sort(actions, axis=1)
            bad = ((actions < 0) | (actions >= self.num_items)).any(axis=1)
            bad |= (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
            for i in np.flatnonzero(bad)[:1].tolist():
                self.page_ids(actions[i], size, f"actions[{i}]")  # raises, naming the entry
            return actions.astype(np.int64, copy=False)
        index = self.item_index
        return np.array([[index[item] for item in self.page_ids(a, size, f"actions[{i}]")]
                         for i, a in enumerate(actions)], dtype=np.int64).reshape(count, size)

    def start_state(self, state: Any, where: str = "options['state']") -> list[dict[str, str]]:
        """A start state for the server from pairs of (item, feedback): ids, indices or dicts."""
        if isinstance(state, (str, bytes)) or not isinstance(state, Sequence):
            raise ValueError(f"{where}: expected a list of (item, feedback) pairs, got "
                             f"{type(state).__name__}")
        out = []
        for i, pair in enumerate(state):
            if isinstance(pair, Mapping):
                item, fb = pair.get("item"), pair.get("feedback")
            elif isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) == 2:
                item, fb = pair
            else:
                raise ValueError(f"{where}[{i}]: expected {{'item', 'feedback'}} or a pair "
                                 f"(item, feedback), got {_clip(repr(pair))}")
            try:
                item_id = self.item_id(item, f"{where}[{i}].item")
            except InvalidActionError as e:
                raise ValueError(e.message) from None
            out.append({"item": item_id, "feedback": self._label(fb, f"{where}[{i}].feedback")})
        return out

    def _label(self, fb: Any, where: str) -> str:
        if isinstance(fb, str) and fb in self.label_index:
            return fb
        if isinstance(fb, (int, np.integer)) and not isinstance(fb, (bool, np.bool_)):
            if 0 <= int(fb) < len(self.labels):
                return self.labels[int(fb)]
        raise ValueError(f"{where} = {_clip(repr(fb))}: expected a label "
                         f"({', '.join(self.labels)}) or its index in [0, {len(self.labels)})")


# Info fields that are real numbers: JSON writes 1.0 as 1 (and a spread of 0 as 0), so they are
# made floats, for stable float64 columns in batched infos.
FLOAT_KEYS = frozenset({
    "real", "expected_reward", "spread", "support", "leave_prob", "uncertainty_penalty",
    "support_penalty",
})


def step_info(res: Mapping[str, Any]) -> dict[str, Any]:
    """A step's info: the server's (probs, real, expected_reward, seed, step, negative_streak and
    any other field, such as ``spread``, ``ood`` and ``leave_prob``) plus the sampled
    ``feedback`` label; probabilities and the ``FLOAT_KEYS`` as floats."""
    info = dict(res["info"])
    info["probs"] = {k: float(v) for k, v in info["probs"].items()}
    for key in FLOAT_KEYS.intersection(info):
        info[key] = float(info[key])
    info["feedback"] = res["feedback"]
    return info


def slate_info(res: Mapping[str, Any]) -> dict[str, Any]:
    """A page step's info: the server's counters and total ``expected_reward``, ``feedback`` (one
    label per item), and the page's per-item answers as arrays of length k: ``probs`` (label ->
    array), ``real``, ``item_reward``, ``item_expected_reward``, and any other per-item field (such
    as ``ood``) under its own name."""
    info = dict(res["info"])
    slate = info.pop("slate")
    for key in FLOAT_KEYS.intersection(info):
        info[key] = float(info[key])
    info["feedback"] = list(res["feedback"])
    rename = {"reward": "item_reward", "expected_reward": "item_expected_reward"}
    for key in slate[0] if slate else ():
        if key in ("item", "feedback"):
            continue
        info[rename.get(key, key)] = _column([entry.get(key) for entry in slate])
    return info


def _column(values: list[Any]) -> Any:
    """Per-item values as one column: numbers as a float64 array, booleans as a bool array, dicts
    as a dict of columns, anything else as a list."""
    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.bool_)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.float64)
    if all(isinstance(v, Mapping) for v in values):
        return {k: _column([v.get(k) for v in values]) for k in values[0]}
    return list(values)


def _clip(s: str, n: int = 60) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def episode_seed(seed: int | None, rng: np.random.Generator) -> int:
    """The server's episode seed for ``reset(seed)``: ``seed`` itself when given and in
    [0, 2**53), so ``reset(seed=42)`` replays the episode that ``POST /v1/sessions {"seed": 42}``
    gives; otherwise a 32-bit draw from the environment's ``np_random`` (seeded by reset)."""
    if seed is not None and 0 <= int(seed) < MAX_SERVER_SEED:
        return int(seed)
    return int(rng.integers(0, DRAWN_SEED_BOUND))
