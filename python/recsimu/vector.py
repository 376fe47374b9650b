"""``RecSimuVectorEnv``: many simulated users of one server as a ``gymnasium.vector.VectorEnv``.

A vector step is ONE request, ``POST /v1/sessions/step`` with every stepping environment's
session and action, answered with one batched model call. Episodes that end are reset the way
Gymnasium 1.x defines for the chosen :class:`~gymnasium.vector.AutoresetMode` (``NEXT_STEP`` by
default); a reset costs one ``POST /v1/sessions`` (plus a ``DELETE`` of the finished session) per
ending episode, on the same keep-alive connection.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ._http import Client
from ._model import ServedModel, episode_seed, step_info
from .env import _lost, _url_and_token
from .errors import EnvClosedError, ResetNeededError, ServerUnreachableError, SessionLostError

__all__ = ["RecSimuVectorEnv"]

_RESET_OPTIONS = frozenset({"state", "reset_mask"})
_MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)


class RecSimuVectorEnv(VectorEnv):
    """``num_envs`` simulated users of one ``recsimu serve`` server, stepped together.

    Spaces are the single environment's (see ``RecSimuEnv``) batched: ``action_space`` is
    ``MultiDiscrete([V] * num_envs)``; observations are a dict of (num_envs, N) arrays. Rewards,
    terminations and truncations are arrays of shape (num_envs,); infos are Gymnasium's batched
    dict (one array per key plus a ``_key`` mask of the environments that have it).

    **Autoreset** (``metadata["autoreset_mode"]``): ``NEXT_STEP`` (Gymnasium's default): the step
    after an episode ends resets that environment; its action is ignored, its reward is 0, its
    ``terminated``/``truncated`` are False and its info is the reset info. ``SAME_STEP``: the
    ending step returns the NEW episode's first observation, the last one in
    ``info["final_obs"]`` and the last step's info in ``info["final_info"]``. Either way the
    results equal a ``gymnasium.vector.SyncVectorEnv`` of ``RecSimuEnv`` in the same mode,
    episode for episode (the tests check this), but in one request per step.

    **Seeds**: ``reset(seed=s)`` seeds environment i with ``s + i`` (a list gives one seed each),
    as ``SyncVectorEnv`` does; autoresets draw each environment's next episode seed from its
    own generator, so a seeded run is reproducible.

    Args:
        url: the server's base URL, or a ``recsimu.Server``.
        num_envs: number of simulated users (at most the server's ``--max-batch``).
        token: bearer token, when the server requires one.
        max_steps: episode length; ``None`` uses the server's ``--max-steps``.
        timeout: seconds to wait for the server on each request.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` (default) or ``AutoresetMode.SAME_STEP``.

    Attributes:
        model: the served model (``ServedModel``): ``labels``, ``positive``, ``rewards`` (label ->
            reward), ``state_length`` (N), ``item_ids``, ``max_steps``, ``limits``, ``raw``
            (``GET /v1/model``).
    """

    def __init__(self, url: Any = "http://127.0.0.1:8080", num_envs: int = 1, *,
                 token: str | None = None, max_steps: int | None = None, timeout: float = 60.0,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP):
        url, token = _url_and_token(url, token)
        mode = AutoresetMode(autoreset_mode)
        if mode not in _MODES:
            raise ValueError(f"autoreset_mode: expected NEXT_STEP or SAME_STEP, got {mode}")
        if not isinstance(num_envs, (int, np.integer)) or isinstance(num_envs, bool) \
                or num_envs < 1:
            raise ValueError(f"num_envs: expected an integer >= 1, got {num_envs!r}")
        if max_steps is not None and (not isinstance(max_steps, (int, np.integer))
                                      or isinstance(max_steps, bool) or max_steps < 1):
            raise ValueError(f"max_steps: expected an integer >= 1 or None, got {max_steps!r}")
        self.url = url
        self.num_envs = int(num_envs)
        self.max_steps = None if max_steps is None else int(max_steps)
        self.metadata = {"autoreset_mode": mode, "render_modes": []}
        self._client = Client(url, token, timeout)
        try:
            self.model = ServedModel.fetch(self._client)
        except BaseException:
            self._client.close()
            raise
        for limit, flag in (("max_batch", "--max-batch"), ("max_sessions", "--max-sessions")):
            most = self.model.limits.get(limit)
            if isinstance(most, int) and self.num_envs > most:
                self._client.close()
                raise ValueError(f"num_envs = {self.num_envs} exceeds the server's {flag} "
                                 f"{most}: use fewer environments or restart the server with a "
                                 f"larger {flag}")
        self.single_action_space = spaces.Discrete(self.model.num_items)
        self.single_observation_space = self.model.observation_space()
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._sessions: list[str | None] = [None] * self.num_envs
        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._autoreset = np.zeros(self.num_envs, dtype=np.bool_)
        self._obs = self.model.empty_arrays(self.num_envs)

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Item id of each action index."""
        return self.model.item_ids

    @property
    def labels(self) -> tuple[str, ...]:
        """Feedback labels in index order."""
        return self.model.labels

    @property
    def session_ids(self) -> list[str | None]:
        """The server session of each environment's current episode."""
        return list(self._sessions)

    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None):
        """Resets every environment (or those in ``options["reset_mask"]``, a bool array);
        returns ``(observations, infos)``. ``options["state"]`` is a start state for all of them
        (see ``RecSimuEnv.reset``)."""
        self._check_open()
        seeds = self._seeds(seed)
        if isinstance(seed, (int, np.integer)):
            super().reset(seed=int(seed))
        options = dict(options or {})
        unknown = sorted(set(options) - _RESET_OPTIONS)
        if unknown:
            raise ValueError(f"options: unknown key(s) {', '.join(map(repr, unknown))} "
                             f"(known: 'state', 'reset_mask')")
        mask = self._reset_mask(options.pop("reset_mask", None))
        state = options.get("state")
        if state is not None:
            state = self.model.start_state(state)
        infos: list[dict[str, Any] | None] = [None] * self.num_envs
        for i in np.flatnonzero(mask).tolist():
            infos[i] = self._reset_one(i, seeds[i], state)
        self._autoreset[mask] = False
        return self._observations(), _batch_infos(infos, self.num_envs)

    def step(self, actions: Any):
        """One step of every environment in one request; returns ``(observations, rewards,
        terminations, truncations, infos)``. ``actions``: item indices of shape (num_envs,)
        (or a list of item ids)."""
        self._check_open()
        missing = [i for i, s in enumerate(self._sessions) if s is None]
        if missing:
            raise ResetNeededError(f"environment {missing[0]} has no episode "
                                   f"({len(missing)} of {self.num_envs}): call reset()")
        items = self.model.item_ids_of(actions, self.num_envs)
        next_step = self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
        resetting = self._autoreset.copy() if next_step else np.zeros(self.num_envs, np.bool_)
        stepping = np.flatnonzero(~resetting).tolist()
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=np.bool_)
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        infos: list[dict[str, Any] | None] = [None] * self.num_envs
        results = self._step_request(stepping, items)
        if results:
            self._write_rows(stepping, [r["observation"] for r in results])
            rewards[stepping] = [r["reward"] for r in results]
            terminated[stepping] = [bool(r["terminated"]) for r in results]
            truncated[stepping] = [bool(r["truncated"]) for r in results]
            for i, res in zip(stepping, results):
                infos[i] = step_info(res)
        if next_step:
            for i in np.flatnonzero(resetting).tolist():
                infos[i] = self._reset_one(i, None, None)
            self._autoreset = terminated | truncated
        else:
            for i in np.flatnonzero(terminated | truncated).tolist():
                final_obs = {k: v[i].copy() for k, v in self._obs.items()}
                final_info = infos[i]
                infos[i] = {"final_obs": final_obs, "final_info": final_info,
                            **self._reset_one(i, None, None)}
        return self._observations(), rewards, terminated, truncated, _batch_infos(
            infos, self.num_envs)

    def close_extras(self, **kwargs: Any) -> None:
        """Ends every server session and the connection."""
        for i in range(self.num_envs):
            try:
                self._end_session(i)
            except (ServerUnreachableError, SessionLostError):
                break  # the server is gone: the rest cannot be ended either
        self._sessions = [None] * self.num_envs
        self._client.close()

    # Helpers ----------------------------------------------------------------------------------

    def _step_request(self, stepping: list[int], items: list[str]) -> list[dict[str, Any]]:
        if not stepping:
            return []
        steps = [{"session_id": self._sessions[i], "action": items[i]} for i in stepping]
        try:
            return self._client.request("POST", "/v1/sessions/step", {"steps": steps})["results"]
        except SessionLostError as e:
            i = _entry(e.path, stepping)
            sid = self._sessions[i] if i is not None else None
            if i is not None:
                self._sessions[i] = None
            where = f"environment {i}: " if i is not None else ""
            raise _lost(e, sid, self.model, where) from None

    def _reset_one(self, i: int, seed: int | None, state: Any) -> dict[str, Any]:
        """Starts a new episode in environment i; writes its observation; returns its info."""
        if seed is not None:
            self._rngs[i] = seeding.np_random(seed)[0]
        elif self._rngs[i] is None:
            self._rngs[i] = seeding.np_random()[0]
        body: dict[str, Any] = {"seed": episode_seed(seed, self._rngs[i])}
        if self.max_steps is not None:
            body["max_steps"] = self.max_steps
        if state is not None:
            body["state"] = state
        self._end_session(i)
        res = self._client.request("POST", "/v1/sessions", body)
        self._sessions[i] = res["session_id"]
        self._write_rows([i], [res["observation"]])
        return dict(res["info"])

    def _write_rows(self, rows: list[int], states: list[Any]) -> None:
        """Writes the observations of environments ``rows`` from the server's states."""
        for key, values in self.model.encode_rows(states).items():
            self._obs[key][rows] = values

    def _end_session(self, i: int) -> None:
        sid = self._sessions[i]
        if sid is None:
            return
        self._sessions[i] = None
        try:
            self._client.request("DELETE", f"/v1/sessions/{sid}")
        except SessionLostError:
            pass  # already expired

    def _seeds(self, seed: Any) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            return [int(seed) + i for i in range(self.num_envs)]
        seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"seed: expected one seed per environment ({self.num_envs}), "
                             f"got {len(seeds)}")
        return [None if s is None else int(s) for s in seeds]

    def _reset_mask(self, mask: Any) -> np.ndarray:
        if mask is None:
            return np.ones(self.num_envs, dtype=np.bool_)
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ \
                or mask.shape != (self.num_envs,):
            raise ValueError(f"options['reset_mask']: expected a bool array of shape "
                             f"({self.num_envs},), got {mask!r}")
        return mask

    def _observations(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._obs.items()}

    def _check_open(self) -> None:
        if self.closed:
            raise EnvClosedError(f"the vector environment is closed (server {self.url}): "
                                 "make a new one")


def _entry(path: str | None, stepping: list[int]) -> int | None:
    """The environment index of the request entry a JSON path such as ``steps[3].session_id``
    names (entry j of the request is environment ``stepping[j]``)."""
    if not path or not path.startswith("steps["):
        return None
    try:
        j = int(path[len("steps["):path.index("]")])
    except ValueError:
        return None
    return stepping[j] if 0 <= j < len(stepping) else None


def _batch_infos(infos: list[dict[str, Any] | None], n: int) -> dict[str, Any]:
    """Per-environment infos batched as ``VectorEnv._add_info`` does, column by column: each key
    becomes an array of length n (its dtype from the first environment that has the key; dicts
    recursively; ``final_obs`` and other objects in an object array) plus a ``_key`` bool mask."""
    out: dict[str, Any] = {}
    keys: dict[str, None] = {}
    for d in infos:
        if d is not None:
            keys.update(dict.fromkeys(d))
    for key in keys:
        idx = [i for i, d in enumerate(infos) if d is not None and key in d]
        values = [infos[i][key] for i in idx]  # type: ignore[index]
        first = values[0]
        if key != "final_obs" and isinstance(first, dict):
            column: Any = _batch_infos(
                [d[key] if d is not None and key in d else None for d in infos], n)
        elif key != "final_obs" and (type(first) in (int, float, bool)
                                     or isinstance(first, np.number)):
            column = np.zeros(n, dtype=type(first))
            column[idx] = values
        elif key != "final_obs" and isinstance(first, np.ndarray):
            column = np.zeros((n, *first.shape), dtype=first.dtype)
            for i, v in zip(idx, values):
                column[i] = v
        else:
            column = np.full(n, None, dtype=object)
            for i, v in zip(idx, values):
                column[i] = v
        mask = np.zeros(n, dtype=np.bool_)
        mask[idx] = True
        out[key], out[f"_{key}"] = column, mask
    return out
