"""A Gymnasium-style client for a `recsimu serve` endpoint (Python standard library only).

    from recsimu_env import RecSimuEnv
    env = RecSimuEnv("http://127.0.0.1:8080")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.items()[0])
    env.close()

Observations are lists of {"item": ..., "feedback": ...} dicts, oldest first (at most N).
The class follows Gymnasium's method signatures but does not import gymnasium. For a real
`gymnasium.Env` (spaces, seeding, a vector env, a server launcher) install the package in
python/ (`pip install ./python`; docs/python.md).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Iterable, Sequence

__all__ = ["RecSimuEnv", "RecSimuError", "step_many"]


class RecSimuError(Exception):
    """An error answer of the server: HTTP status, error code, message and JSON path."""

    def __init__(self, status: int, code: str, message: str, path: str | None = None):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.path = path


class _Client:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token is not None:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                raw = res.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                err = json.loads(raw)["error"]
                raise RecSimuError(e.code, err.get("code", "?"), err.get("message", ""), err.get("path")) from None
            except (ValueError, KeyError, TypeError):
                raise RecSimuError(e.code, "http_error", raw[:200].decode("utf-8", "replace")) from None
        return json.loads(raw) if raw else None


class RecSimuEnv:
    """One simulated user as a Gymnasium-style environment backed by a server session.

    base_url: the server, e.g. "http://127.0.0.1:8080".
    token: bearer token when the server requires one.
    max_steps: episode length; None uses the server's default.
    """

    def __init__(self, base_url: str, token: str | None = None, max_steps: int | None = None):
        self._client = _Client(base_url, token)
        self.max_steps = max_steps
        self.session_id: str | None = None
        self._model: dict[str, Any] | None = None

    # Gymnasium API -------------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """Starts a new episode; returns (observation, info).

        options may hold "state": a start state (list of {"item", "feedback"}, oldest first).
        Without it the server draws a logged start state with the seed.
        """
        self._end_session()
        body: dict[str, Any] = {}
        if seed is not None:
            body["seed"] = seed
        if self.max_steps is not None:
            body["max_steps"] = self.max_steps
        if options and options.get("state") is not None:
            body["state"] = options["state"]
        res = self._client.request("POST", "/v1/sessions", body)
        self.session_id = res["session_id"]
        return res["observation"], res["info"]

    def step(self, action: str):
        """Recommends item `action`; returns (observation, reward, terminated, truncated, info).

        info holds the sampled "feedback", the label probabilities "probs", "real",
        "expected_reward", "step" and "seed".
        """
        if self.session_id is None:
            raise RuntimeError("call reset() before step()")
        res = self._client.request("POST", f"/v1/sessions/{self.session_id}/step", {"action": action})
        return _as_tuple(res)

    def close(self) -> None:
        """Ends the server session (safe to call twice)."""
        self._end_session()

    # Extras --------------------------------------------------------------------------------

    def feedback(self, state: Sequence[dict[str, str]], action: str, sample: bool = False,
                 seed: int | None = None) -> dict[str, Any]:
        """The simulator's answer for one (state, action): probs, real, expected_reward
        (and feedback, reward, seed when sample=True). Does not touch the episode."""
        body: dict[str, Any] = {"state": list(state), "action": action}
        if sample:
            body["sample"] = True
            if seed is not None:
                body["seed"] = seed
        return self._client.request("POST", "/v1/feedback", body)

    def feedback_batch(self, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Many feedback requests ({"state", "action", ...}) in one call (one model batch)."""
        return self._client.request("POST", "/v1/feedback", {"requests": list(requests)})["results"]

    def model(self) -> dict[str, Any]:
        """GET /v1/model: labels, rewards, N, item count, backend, limits (cached)."""
        if self._model is None:
            self._model = self._client.request("GET", "/v1/model")
        return self._model

    def iter_items(self, page_size: int = 1000) -> Iterable[str]:
        """Every item id of the model's vocabulary, fetched page by page."""
        offset: int | None = 0
        while offset is not None:
            page = self._client.request("GET", f"/v1/items?offset={offset}&limit={page_size}")
            yield from page["items"]
            offset = page["next_offset"]

    def items(self) -> list[str]:
        """All item ids (see iter_items for large vocabularies)."""
        return list(self.iter_items())

    @staticmethod
    def step_many(envs: Sequence["RecSimuEnv"], actions: Sequence[str]):
        """Steps several environments of one server in ONE request (one model batch).
        Returns one (observation, reward, terminated, truncated, info) per environment."""
        return step_many(envs, actions)

    def _end_session(self) -> None:
        if self.session_id is None:
            return
        sid, self.session_id = self.session_id, None
        try:
            self._client.request("DELETE", f"/v1/sessions/{sid}")
        except RecSimuError as e:
            if e.status != 404:  # already expired: nothing to end
                raise

    def __enter__(self) -> "RecSimuEnv":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def step_many(envs: Sequence[RecSimuEnv], actions: Sequence[str]):
    """Steps several environments of one server in ONE request; see RecSimuEnv.step_many."""
    if len(envs) != len(actions):
        raise ValueError(f"expected one action per environment, got {len(actions)} for {len(envs)}")
    if not envs:
        return []
    client = envs[0]._client
    steps = []
    for env in envs:
        if env.session_id is None:
            raise RuntimeError("call reset() on every environment before step_many()")
        if env._client.base_url != client.base_url:
            raise ValueError("step_many() needs environments of one server")
        steps.append({"session_id": env.session_id})
    for s, a in zip(steps, actions):
        s["action"] = a
    res = client.request("POST", "/v1/sessions/step", {"steps": steps})
    return [_as_tuple(r) for r in res["results"]]


def _as_tuple(res: dict[str, Any]):
    info = dict(res["info"])
    info["feedback"] = res["feedback"]
    return res["observation"], res["reward"], res["terminated"], res["truncated"], info
