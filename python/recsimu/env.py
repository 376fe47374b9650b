"""``RecSimuEnv``: one simulated user of a ``recsimu serve`` server as a ``gymnasium.Env``.

Each episode is one server session (``POST /v1/sessions``); each step is one request. The user's
feedback is sampled on the server from the simulator's probabilities with the episode's seed, so
a seeded ``reset`` replays the same start state and the same feedback for the same actions.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from ._http import Client
from ._model import ServedModel, episode_seed, slate_info, step_info
from .errors import (EnvClosedError, ResetNeededError, ServerUnreachableError, SessionLostError)
from .spaces import Slate

__all__ = ["RecSimuEnv"]

_RESET_OPTIONS = frozenset({"state"})


class RecSimuEnv(gymnasium.Env):
    """One simulated user, served by ``recsimu serve``, as a Gymnasium environment.

    - **Action**: ``Discrete(V)``, the index of the recommended item; ``env.item_ids[a]`` is its id.
      An item id (str) is accepted too. With ``slate_size=k`` > 1: a page of k DISTINCT items,
      ``Slate(V, k)`` (a ``MultiDiscrete([V] * k)`` whose samples are distinct; see
      ``recsimu.spaces``), top to bottom; a page that repeats an item raises
      ``InvalidActionError`` naming it (``action[2]``).
    - **Observation**: ``Dict(items, feedback, mask)``, the last N (item, feedback) pairs, oldest
      first, left-padded: ``items`` in [0, V] (V = padding), ``feedback`` in [0, K] (K = padding),
      ``mask`` 1 for a real pair.
    - **Reward**: the reward of the sampled feedback label (the server's ``--reward`` table).
      For a page: the sum of its items' rewards.
    - **terminated**: the user left (``--leave-after-skips``, or the learned leave model of
      ``serve --leave learned``); **truncated**: the step limit.
    - **info** of a step: ``feedback`` (the sampled label), ``probs`` (label -> probability),
      ``expected_reward``, ``real``, ``seed``, ``step``, ``negative_streak``, ``leave_prob`` (with
      the learned leave model), and any other field the server sends (such as ``ood``). For a
      page: ``feedback`` is a list of k labels, ``probs`` maps each label to an array of k
      probabilities, ``real``, ``item_reward`` and ``item_expected_reward`` are arrays of k, and
      ``expected_reward`` is the page's total (item j is answered given the state and the items
      above it with their sampled feedback).

    Args:
        url: the server's base URL, e.g. ``"http://127.0.0.1:8080"``, or a ``recsimu.Server``
            from ``recsimu.launch`` (its URL and token are used).
        token: bearer token, when the server requires one.
        max_steps: episode length (step limit); ``None`` uses the server's ``--max-steps``.
        timeout: seconds to wait for the server on each request.
        render_mode: ``None`` (there is nothing to render).
        slate_size: items per action: 1 (default) recommends one item; k > 1 a page of k.

    Attributes:
        model: the served model (``ServedModel``): ``labels``, ``positive``, ``rewards`` (label ->
            reward), ``state_length`` (N), ``item_ids``, ``max_steps``, ``limits``, ``raw``
            (``GET /v1/model``).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, url: Any = "http://127.0.0.1:8080", *, token: str | None = None,
                 max_steps: int | None = None, timeout: float = 60.0,
                 render_mode: str | None = None, slate_size: int = 1):
        url, token = _url_and_token(url, token)
        _check_slate_size(slate_size)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: expected None (nothing to render), got {render_mode!r}")
        if max_steps is not None and (not isinstance(max_steps, (int, np.integer))
                                      or isinstance(max_steps, bool) or max_steps < 1):
            raise ValueError(f"max_steps: expected an integer >= 1 or None, got {max_steps!r}")
        self.url = url
        self.render_mode = render_mode
        self.max_steps = None if max_steps is None else int(max_steps)
        self._client = Client(url, token, timeout)
        self._closed = False
        self._session: str | None = None
        self._done = True
        try:
            self.model = ServedModel.fetch(self._client)
        except BaseException:
            self._client.close()
            raise
        self.slate_size = int(slate_size)
        try:
            self.action_space = action_space(self.model, self.slate_size)
        except ValueError:
            self._client.close()
            raise
        self.observation_space = self.model.observation_space()

    # Model facts ------------------------------------------------------------------------------

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Item id of each action index: ``item_ids[a]`` is the item that action ``a`` shows."""
        return self.model.item_ids

    @property
    def labels(self) -> tuple[str, ...]:
        """Feedback labels in index order (``feedback`` observations index into this)."""
        return self.model.labels

    @property
    def session_id(self) -> str | None:
        """The server session of the current episode (``None`` before reset and after close)."""
        return self._session

    # Gymnasium API ----------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Starts an episode; returns ``(observation, info)``.

        ``seed`` seeds ``np_random`` and, when in [0, 2**53), is the server's episode seed itself:
        it fixes the start state (drawn from the model's logged start states) and every sampled
        feedback. Unseeded resets draw the episode seed from ``np_random``, so ``reset(seed=s)``
        followed by plain resets is a reproducible sequence of episodes.
        ``options={"state": [(item, feedback), ...]}`` starts from a given state instead (items as
        ids or indices, feedback as labels or indices, oldest first).
        """
        self._check_open()
        super().reset(seed=seed)
        body = self._session_body(seed, options)
        self._end_session()
        res = self._client.request("POST", "/v1/sessions", body)
        self._session = res["session_id"]
        self._done = False
        return self.model.encode(res["observation"]), dict(res["info"])

    def step(self, action: Any):
        """Recommends item ``action`` (an index in [0, V) or an item id), or with ``slate_size``
        k > 1 a page of k distinct items; returns ``(observation, reward, terminated, truncated,
        info)``."""
        self._check_open()
        if self._session is None or self._done:
            raise ResetNeededError("call reset() before step()" if self._session is None else
                                   "the episode is over (terminated or truncated): call reset()")
        page = self.slate_size > 1
        item = self.model.page_ids(action, self.slate_size) if page else self.model.item_id(action)
        try:
            res = self._client.request("POST", f"/v1/sessions/{self._session}/step",
                                       {"action": item})
        except SessionLostError as e:
            sid, self._session, self._done = self._session, None, True
            raise _lost(e, sid, self.model) from None
        terminated, truncated = bool(res["terminated"]), bool(res["truncated"])
        self._done = terminated or truncated
        return (self.model.encode(res["observation"]), float(res["reward"]), terminated, truncated,
                slate_info(res) if page else step_info(res))

    def close(self) -> None:
        """Ends the server session and the connection. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._end_session()
        except (ServerUnreachableError, SessionLostError):
            pass  # the server is gone or forgot the session: nothing left to end
        self._client.close()

    # Helpers ----------------------------------------------------------------------------------

    def _session_body(self, seed: int | None, options: dict[str, Any] | None) -> dict[str, Any]:
        options = options or {}
        unknown = sorted(set(options) - _RESET_OPTIONS)
        if unknown:
            raise ValueError(f"options: unknown key(s) {', '.join(map(repr, unknown))} "
                             f"(known: 'state')")
        body: dict[str, Any] = {"seed": episode_seed(seed, self.np_random)}
        if self.max_steps is not None:
            body["max_steps"] = self.max_steps
        if options.get("state") is not None:
            body["state"] = self.model.start_state(options["state"])
        return body

    def _check_open(self) -> None:
        if self._closed:
            raise EnvClosedError(f"the environment is closed (server {self.url}): make a new one")

    def _end_session(self) -> None:
        if self._session is None:
            return
        sid, self._session, self._done = self._session, None, True
        try:
            self._client.request("DELETE", f"/v1/sessions/{sid}")
        except SessionLostError:
            pass  # already expired


def _check_slate_size(slate_size: Any) -> None:
    if not isinstance(slate_size, (int, np.integer)) or isinstance(slate_size, bool) \
            or slate_size < 1:
        raise ValueError(f"slate_size: expected an integer >= 1, got {slate_size!r}")


def action_space(model: ServedModel, slate_size: int) -> spaces.Space:
    """One user's action space: ``Discrete(V)`` for single items, ``Slate(V, k)`` for pages."""
    if slate_size == 1:
        return spaces.Discrete(model.num_items)
    most = model.limits.get("max_page_items")
    if isinstance(most, int) and slate_size > most:
        raise ValueError(f"slate_size = {slate_size} exceeds the server's page limit of {most} "
                         "items")
    return Slate(model.num_items, slate_size)


def _url_and_token(url: Any, token: str | None) -> tuple[str, str | None]:
    """A URL string and token from a URL or a ``recsimu.Server``."""
    if hasattr(url, "url") and not isinstance(url, str):
        return str(url.url), token if token is not None else getattr(url, "token", None)
    if not isinstance(url, str):
        raise TypeError(f"url: expected a URL string or a recsimu.Server, got {type(url).__name__}")
    return url, token


def _lost(e: SessionLostError, session: str | None, model: ServedModel,
          where: str = "") -> SessionLostError:
    """A SessionLostError that says what happened and what to do."""
    ttl = model.limits.get("session_ttl_seconds")
    why = f"expired after {ttl:g} s idle" if isinstance(ttl, (int, float)) else "expired"
    return SessionLostError(
        f"{where}session {session} was lost ({e.message}): it {why}, was deleted, or the server "
        "restarted; call reset() to start a new episode",
        status=e.status, code=e.code, path=e.path)
