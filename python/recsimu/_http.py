"""A small JSON-over-HTTP client on ``http.client`` with one keep-alive connection.

One connection is reused for every request (a vector step is one request on it). A request that
fails on a reused connection before any answer arrived (the server closed an idle connection) is
sent once more on a fresh one; any other failure raises at once.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit

from .errors import ServerError, ServerUnreachableError, SessionLostError

# Failures that mean "the reused connection was already gone": safe to send again once.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
          ConnectionAbortedError)


class Client:
    """JSON requests to one recsimu server over one keep-alive connection.

    url: the server's base URL, ``http://host:port`` (``https://`` also works).
    token: bearer token, sent as ``Authorization: Bearer ...`` when given.
    timeout: seconds to wait for a connection or an answer.
    """

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url: expected http://host:port, got {url!r}")
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._headers = {"Accept": "application/json"}
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token}"
        self._conn: http.client.HTTPConnection | None = None
        self._used = False  # the current connection has answered at least once

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Sends one request; returns the parsed JSON answer (``None`` for an empty one).

        Raises ServerError (SessionLostError for an unknown session) for a 4xx or 5xx answer and
        ServerUnreachableError when no answer comes.
        """
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            reused = self._conn is not None and self._used
            try:
                conn = self._connection()
                conn.request(method, self._prefix + path, body=data, headers=headers)
                res = conn.getresponse()
                raw = res.read()
                self._used = True
            except _STALE as e:
                self.close()
                if reused and attempt == 0:
                    continue
                raise self._unreachable(e) from None
            except (OSError, http.client.HTTPException) as e:
                self.close()
                raise self._unreachable(e) from None
            if res.will_close:
                self.close()
            if res.status >= 400:
                raise _server_error(res.status, raw)
            return json.loads(raw) if raw else None
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Closes the connection (the next request opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._used = False

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
            self._used = False
        return self._conn

    def _unreachable(self, e: BaseException) -> ServerUnreachableError:
        if isinstance(e, socket.timeout):
            why = f"no answer within {self._timeout:g} s"
        else:
            why = str(e) or type(e).__name__
        return ServerUnreachableError(f"cannot reach the recsimu server at {self.url}: {why}")


def _server_error(status: int, raw: bytes) -> ServerError:
    """The exception for an error answer: the server's JSON error, or the start of the body."""
    try:
        err = json.loads(raw)["error"]
        code, message, path = str(err["code"]), str(err.get("message", "")), err.get("path")
    except (ValueError, KeyError, TypeError):
        code, message, path = "http_error", raw[:200].decode("utf-8", "replace"), None
    cls = SessionLostError if code == "session_not_found" else ServerError
    return cls(f"HTTP {status} {code}: {message}", status=status, code=code, path=path)
