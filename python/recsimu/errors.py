"""The exceptions of the recsimu package: one base class, one subclass per thing a caller handles.

Every exception is a :class:`RecSimuError`; each also derives from the built-in or Gymnasium
exception it means, so code that catches ``ValueError``, ``ConnectionError`` or
``gymnasium.error.ResetNeeded`` keeps working.
"""

from __future__ import annotations

import gymnasium

__all__ = [
    "RecSimuError",
    "ServerError",
    "SessionLostError",
    "InvalidActionError",
    "EnvClosedError",
    "ResetNeededError",
    "ServerUnreachableError",
    "LaunchError",
]


class RecSimuError(Exception):
    """Base class of every recsimu error.

    ``status``, ``code`` and ``path`` are the server's HTTP status, error code and JSON path of the
    fault for errors the server answered, and ``None`` for errors found on the client.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 path: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.path = path


class ServerError(RecSimuError):
    """An error answer of the server (4xx or 5xx), e.g. ``HTTP 422 unknown_item: action: ...``."""


class SessionLostError(ServerError):
    """The server no longer knows the environment's session (404 ``session_not_found``).

    The session expired after ``--session-ttl`` seconds idle, was deleted, or the server restarted.
    Call ``reset()`` to start a new episode.
    """


class InvalidActionError(RecSimuError, ValueError):
    """An action that is no item: an index outside [0, V), an unknown id, or a wrong type."""


class EnvClosedError(RecSimuError, gymnasium.error.ClosedEnvironmentError):
    """``reset()`` or ``step()`` on an environment after ``close()``."""


class ResetNeededError(RecSimuError, gymnasium.error.ResetNeeded):
    """``step()`` before the first ``reset()``, or after the episode ended."""


class ServerUnreachableError(RecSimuError, ConnectionError):
    """No answer from the server: refused, reset, timed out, or not an HTTP server."""


class LaunchError(RecSimuError):
    """``recsimu.launch`` could not start the server (the message holds the end of its stderr)."""
