"""``RecSimuVectorEnv``: many simulated users of one server as a ``gymnasium.vector.VectorEnv``.

A vector step is ONE request, ``POST /v1/sessions/step`` with every stepping environment's
session and action, answered with one batched model call. It asks for answers without the state
(``observation: false``): the environment keeps each user's last N pairs itself, as the server
does (drop the oldest pair, append the action's item and the sampled label; k pairs for a page),
so that the answers stay small. Episodes that end are reset the way Gymnasium 1.x defines for
the chosen :class:`~gymnasium.vector.AutoresetMode` (``NEXT_STEP`` by default), all of a step's
resets in ONE ``POST /v1/sessions/batch`` whose entries replace the finished sessions.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Sequence

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ._http import Client
from ._infos import batch_infos, stack_infos, step_columns
from ._model import ServedModel, episode_seed, slate_info, step_info
from .env import _check_slate_size, _lost, _url_and_token, action_space
from .errors import EnvClosedError, ResetNeededError, ServerUnreachableError, SessionLostError

__all__ = ["RecSimuVectorEnv"]

_RESET_OPTIONS = frozenset({"state", "reset_mask"})
_MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)


class RecSimuVectorEnv(VectorEnv):
    """``num_envs`` simulated users of one ``recsimu serve`` server, stepped together.

    Spaces are the single environment's (see ``RecSimuEnv``) batched: ``action_space`` is
    ``MultiDiscrete([V] * num_envs)``, or with ``slate_size=k`` > 1 a ``Slate`` of shape
    (num_envs, k) (pages of distinct items; a page that repeats one raises
    ``InvalidActionError`` naming it, e.g. ``actions[3][1]``); observations are a dict of
    (num_envs, N) arrays. Rewards, terminations and truncations are arrays of shape (num_envs,);
    infos are Gymnasium's batched dict (one array per key plus a ``_key`` mask of the
    environments that have it): ``infos["probs"]["click"]``, ``infos["spread"]`` (float64) and
    ``infos["ood"]["any"]`` (bool) where the server sends them.

    **Autoreset** (``metadata["autoreset_mode"]``): ``NEXT_STEP`` (Gymnasium's default): the step
    after an episode ends resets that environment; its action is ignored, its reward is 0, its
    ``terminated``/``truncated`` are False and its info is the reset info. ``SAME_STEP``: the
    ending step returns the NEW episode's first observation, the last one in
    ``info["final_obs"]`` and the last step's info in ``info["final_info"]``. Either way the
    results equal a ``gymnasium.vector.SyncVectorEnv`` of ``RecSimuEnv`` in the same mode,
    episode for episode (the tests check this), but in one request per step (two in a step in
    which some environments reset: the step and one batched reset).

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
        slate_size: items per action: 1 (default) one item per environment; k > 1 a page of k.

    Attributes:
        model: the served model (``ServedModel``): ``labels``, ``positive``, ``rewards`` (label ->
            reward), ``state_length`` (N), ``item_ids``, ``max_steps``, ``limits``, ``raw``
            (``GET /v1/model``).
    """

    def __init__(self, url: Any = "http://127.0.0.1:8080", num_envs: int = 1, *,
                 token: str | None = None, max_steps: int | None = None, timeout: float = 60.0,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
                 slate_size: int = 1):
        url, token = _url_and_token(url, token)
        _check_slate_size(slate_size)
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
        self.slate_size = int(slate_size)
        try:
            self.single_action_space = action_space(self.model, self.slate_size)
        except ValueError:
            self._client.close()
            raise
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
        """Resets every environment (or those in ``options["reset_mask"]``, a bool array) in one
        request; returns ``(observations, infos)``. ``options["state"]`` is a start state for
        all of them (see ``RecSimuEnv.reset``)."""
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
        rows = np.flatnonzero(mask).tolist()
        if rows:
            for i, info in zip(rows, self._reset_many(rows, [seeds[i] for i in rows], state)):
                infos[i] = info
        self._autoreset[mask] = False
        return self._observations(), batch_infos(infos, self.num_envs)

    def step(self, actions: Any):
        """One step of every environment in one request; returns ``(observations, rewards,
        terminations, truncations, infos)``. ``actions``: item indices of shape (num_envs,)
        (or a list of item ids); with ``slate_size`` k > 1, pages of shape (num_envs, k)."""
        self._check_open()
        if None in self._sessions:
            missing = [i for i, s in enumerate(self._sessions) if s is None]
            raise ResetNeededError(f"environment {missing[0]} has no episode "
                                   f"({len(missing)} of {self.num_envs}): call reset()")
        n, page = self.num_envs, self.slate_size > 1
        index = (self.model.page_indices_of(actions, n, self.slate_size) if page
                 else self.model.indices_of(actions, n))
        next_step = self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
        resetting = self._autoreset if next_step and self._autoreset.any() else None
        # Environment rows that step: all of them (the common case) or those not resetting.
        rows: Any = slice(None) if resetting is None else np.flatnonzero(~resetting)
        stepping = list(range(n)) if resetting is None else rows.tolist()
        results = self._step_request(stepping, index[rows])
        rewards, terminated, truncated = _outcomes(n, rows, results)
        if results:
            self._advance(rows, index[rows], results)
        done = terminated | truncated
        # The environments whose episode restarts now: NEXT_STEP, those that ended last step;
        # SAME_STEP, those that end in this one.
        ending = resetting if next_step else (done if done.any() else None)
        if ending is None:  # the common step: infos straight from the answers
            if next_step:
                self._autoreset = done
            return (self._observations(), rewards, terminated, truncated,
                    self._step_infos(results))
        infos: list[dict[str, Any] | None] = [None] * n
        for i, res in zip(stepping, results):
            infos[i] = slate_info(res) if page else step_info(res)
        restart = np.flatnonzero(ending).tolist()
        final = {i: ({k: v[i].copy() for k, v in self._obs.items()}, infos[i]) for i in restart}
        for i, info in zip(restart, self._reset_many(restart, None, None)):
            infos[i] = info if next_step else {"final_obs": final[i][0],
                                               "final_info": final[i][1], **info}
        if next_step:
            self._autoreset = done
        return self._observations(), rewards, terminated, truncated, batch_infos(infos, n)

    def close_extras(self, **kwargs: Any) -> None:
        """Ends every server session (one request) and the connection."""
        live = [s for s in self._sessions if s is not None]
        self._sessions = [None] * self.num_envs
        try:
            if live:
                self._client.request("POST", "/v1/sessions/delete", {"session_ids": live})
        except ServerUnreachableError:
            pass  # the server is gone: nothing left to end
        finally:
            self._client.close()

    # Helpers ----------------------------------------------------------------------------------

    def _step_request(self, stepping: list[int], index: np.ndarray) -> list[dict[str, Any]]:
        """Steps environments ``stepping`` with item indices ``index`` (one row each); the
        answers leave the state out (``observation: false``): ``_advance`` keeps it here."""
        if not stepping:
            return []
        ids = self.model.item_ids
        if index.ndim == 2:
            actions: list[Any] = [[ids[a] for a in row] for row in index.tolist()]
        else:
            actions = [ids[a] for a in index.tolist()]
        steps = [{"session_id": self._sessions[i], "action": a} for i, a in zip(stepping, actions)]
        try:
            return self._client.request("POST", "/v1/sessions/step",
                                        {"steps": steps, "observation": False})["results"]
        except SessionLostError as e:
            i = _entry(e.path, "steps", stepping)
            sid = self._sessions[i] if i is not None else None
            if i is not None:
                self._sessions[i] = None
            where = f"environment {i}: " if i is not None else ""
            raise _lost(e, sid, self.model, where) from None

    def _advance(self, rows: Any, index: np.ndarray, results: list[dict[str, Any]]) -> None:
        """The server's transition, here: each stepped row (``rows``: an index array, or a slice
        of all) drops its oldest pairs and appends (item, sampled feedback) of its action (k
        pairs for a page), keeping N pairs."""
        labels = self.model.label_index
        if index.ndim == 2:
            feedback = np.array([[labels[f] for f in r["feedback"]] for r in results],
                                dtype=np.int64)
        else:
            index = index[:, None]
            feedback = np.array([labels[r["feedback"]] for r in results], dtype=np.int64)[:, None]
        n, k = self.model.state_length, index.shape[1]
        if n == 0:
            return
        if k > n:
            index, feedback, k = index[:, -n:], feedback[:, -n:], n
        for key, new in (("items", index), ("feedback", feedback), ("mask", 1)):
            a = self._obs[key]
            if k < n:
                a[rows, :n - k] = a[rows, k:]
            a[rows, n - k:] = new

    def _step_infos(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """The batched infos of a step in which every environment stepped and none reset."""
        n = self.num_envs
        if self.slate_size > 1:
            infos = [slate_info(r) for r in results]
            return stack_infos(infos, n) or batch_infos(infos, n)
        columns = step_columns(results, n)
        return columns if columns is not None else batch_infos(
            [step_info(r) for r in results], n)

    def _reset_many(self, rows: list[int], seeds: list[int | None] | None,
                    state: Any) -> list[dict[str, Any]]:
        """Starts new episodes in environments ``rows`` with ONE ``POST /v1/sessions/batch``
        (each replacing the environment's finished session); writes their observations and
        returns their infos. Episode seeds: ``seeds`` (aligned with rows), else each
        environment's generator."""
        entries = []
        for j, i in enumerate(rows):
            seed = None if seeds is None else seeds[j]
            if seed is not None:
                self._rngs[i] = seeding.np_random(seed)[0]
            elif self._rngs[i] is None:
                self._rngs[i] = seeding.np_random()[0]
            body: dict[str, Any] = {"seed": episode_seed(seed, self._rngs[i])}
            if self.max_steps is not None:
                body["max_steps"] = self.max_steps
            if state is not None:
                body["state"] = state
            if self._sessions[i] is not None:
                body["replace"] = self._sessions[i]
            entries.append(body)
        while True:
            try:
                results = self._client.request("POST", "/v1/sessions/batch",
                                               {"sessions": entries})["results"]
                break
            except SessionLostError as e:
                j = _entry(e.path, "sessions", list(range(len(entries))))
                if j is None or "replace" not in entries[j]:
                    raise
                del entries[j]["replace"]  # it expired already: nothing to end
        for i, res in zip(rows, results):
            self._sessions[i] = res["session_id"]
        for key, values in self.model.encode_rows([r["observation"] for r in results]).items():
            self._obs[key][rows] = values
        return [dict(r["info"]) for r in results]

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


def _outcomes(n: int, rows: Any, results: list[dict[str, Any]]):
    """Rewards, terminations and truncations (arrays of n) from the answers of ``rows`` (an
    index array, or a slice of all); the other environments get 0 and False."""
    columns = [list(map(itemgetter(key), results)) for key in ("reward", "terminated", "truncated")]
    if isinstance(rows, slice):
        return (np.array(columns[0], dtype=np.float64), np.array(columns[1], dtype=np.bool_),
                np.array(columns[2], dtype=np.bool_))
    out = (np.zeros(n, dtype=np.float64), np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_))
    if results:
        for array, column in zip(out, columns):
            array[rows] = column
    return out


def _entry(path: str | None, key: str, rows: list[int]) -> int | None:
    """The environment of the request entry a JSON path such as ``steps[3].session_id`` names
    (entry j of the request's ``key`` list is environment ``rows[j]``)."""
    if not path or not path.startswith(f"{key}["):
        return None
    try:
        j = int(path[len(key) + 1:path.index("]")])
    except ValueError:
        return None
    return rows[j] if 0 <= j < len(rows) else None
