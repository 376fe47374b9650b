"""``recsimu.launch``: starts ``recsimu serve`` on a free loopback port for this Python process.

The server is ``recsimu serve`` run as a child process: the ``recsimu`` binary (given, or found on
PATH), else ``deno run -A <repo>/main.ts serve``. It is started with ``--port 0``; its URL is read
from the line ``recsimu serve: listening on URL ...`` that it prints on stderr, and ``/healthz`` is
polled until it answers. It stops (SIGTERM, then SIGKILL after a grace period) on ``close()``, at
the end of a ``with`` block, or when the interpreter exits.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import re
import shutil
import subprocess
import threading
import time
import weakref
from pathlib import Path
from typing import IO, Sequence

from ._http import Client
from .errors import LaunchError, RecSimuError

__all__ = ["launch", "Server"]

_LISTENING = re.compile(r"listening on (https?://\S+)")
_LIVE: "weakref.WeakSet[Server]" = weakref.WeakSet()


class Server:
    """A running ``recsimu serve`` child process (see :func:`launch`).

    Attributes:
        url: the server's base URL, e.g. ``http://127.0.0.1:41237``.
        token: the bearer token the server requires, or ``None``.
        process: the ``subprocess.Popen`` of the server.
        command: the command line that started it.
    """

    def __init__(self, process: subprocess.Popen, command: list[str], token: str | None):
        self.process = process
        self.command = command
        self.token = token
        self.url: str = ""
        self._lines: collections.deque[str] = collections.deque(maxlen=40)
        self._listening = threading.Event()
        self._log: IO[str] | None = None
        self._reader: threading.Thread | None = None
        _LIVE.add(self)

    @property
    def stderr_tail(self) -> str:
        """The last lines the server printed on stderr."""
        return "\n".join(self._lines)

    def close(self, timeout: float = 10.0) -> None:
        """Stops the server: SIGTERM (it finishes in-flight requests), then SIGKILL after
        ``timeout`` seconds. Safe to call twice."""
        _LIVE.discard(self)
        p = self.process
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self._reader is not None:
            self._reader.join(2.0)  # the pipe ends with the process: let the reader finish
        if p.stderr is not None and (self._reader is None or not self._reader.is_alive()):
            p.stderr.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"<recsimu.Server {self.url or '(starting)'} {state}>"

    def _read_stderr(self) -> None:
        """Keeps the stderr pipe drained (a full pipe would block the server); notes the URL."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            line = line.rstrip("\n")
            self._lines.append(line)
            if self._log is not None:
                print(line, file=self._log, flush=True)
            if not self._listening.is_set():
                m = _LISTENING.search(line)
                if m:
                    self.url = m.group(1).rstrip(";,)")
                    self._listening.set()
        self._listening.set()  # the process ended: wake the waiter


def launch(model_dir: str | os.PathLike[str], *, recsimu: str | os.PathLike[str] | None = None,
           repo: str | os.PathLike[str] | None = None, token: str | None = None,
           max_steps: int | None = None, leave_after_skips: int | None = None,
           leave: str | None = None, reward: str | dict[str, float] | None = None, backend: str | None = None,
           workers: int | None = None, user_model: str | None = None,
           real_score: str | bool | None = None, args: Sequence[str] = (),
           startup_timeout: float = 120.0, log: IO[str] | None = None) -> Server:
    """Starts ``recsimu serve --model model_dir --port 0`` and returns once it answers.

    Args:
        model_dir: the trained model folder.
        recsimu: the ``recsimu`` binary to run. Default: ``recsimu`` on PATH, else
            ``deno run -A <repo>/main.ts``.
        repo: the recsimu repository (for ``deno run``). Default: ``$RECSIMU_REPO``, else the
            repository this package was installed from when it is still there, else the nearest
            folder above the working directory that holds recsimu's ``main.ts``.
        token: bearer token the server should require (also used by environments given the
            returned ``Server``).
        max_steps: ``--max-steps``, the episode length (default: the server's, 50).
        leave_after_skips: ``--leave-after-skips``, negatives in a row after which the user leaves.
        leave: ``--leave``: ``"rule"`` (the default: by ``leave_after_skips``) or ``"learned"``
            (by the model's learned leave model, fitted by ``recsimu train``).
        reward: ``--reward``, e.g. ``"skip=0,click=1,purchase=5"`` or a dict label -> reward.
        backend: ``--backend`` (auto, webgpu, wasm, cpu).
        workers: ``--workers``, the server's prediction threads (default 1): with 2, a vector
            step of 64 or more environments is computed on two cores.
        user_model: ``--user-model``: ``"auto"`` (the server's default: the one with the lower
            validation log-loss, recorded by ``recsimu train``), ``"network"`` (the
            discriminator) or ``"glm"`` (the structured user model train fits beside it).
        real_score: ``--real-score``: ``"on"`` (the default) or ``"off"`` (also ``True`` /
            ``False``); off needs ``user_model="glm"``: the infos then carry no ``real`` and no
            ``ood.low_real``, and the server never runs the discriminator (several times more
            steps per second on a vector env).
        args: further ``recsimu serve`` flags, e.g. ``["--max-sessions", "20000"]``.
        startup_timeout: seconds to wait for the server to answer ``/healthz``.
        log: a text stream to copy the server's stderr to (default: kept, shown on failure).

    Raises:
        LaunchError: no way to run recsimu, or the server exited or did not answer in time (the
            message ends with its last stderr lines).
    """
    command = _command(recsimu, repo) + ["serve", "--model", os.fspath(model_dir), "--port", "0",
                                         "--host", "127.0.0.1"]
    if token is not None:
        command += ["--token", token]
    for flag, value in (("--max-steps", max_steps), ("--leave-after-skips", leave_after_skips),
                        ("--leave", leave), ("--backend", backend), ("--workers", workers),
                        ("--user-model", user_model),
                        ("--real-score", {True: "on", False: "off"}.get(real_score, real_score))):
        if value is not None:
            command += [flag, str(value)]
    if reward is not None:
        spec = reward if isinstance(reward, str) else ",".join(f"{k}={v}" for k, v in
                                                               reward.items())
        command += ["--reward", spec]
    command += [str(a) for a in args]
    env = {**os.environ, "NO_COLOR": "1"}
    if token is None and env.get("RECSIMU_TOKEN"):
        token = env["RECSIMU_TOKEN"]  # the server reads it too: environments must send it
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                   errors="replace", env=env)
    except OSError as e:
        raise LaunchError(f"cannot start {command[0]!r}: {e}") from None
    server = Server(process, command, token)
    server._log = log
    server._reader = threading.Thread(target=server._read_stderr, name="recsimu-serve-stderr",
                                      daemon=True)
    server._reader.start()
    try:
        _wait_until_ready(server, startup_timeout)
    except BaseException:
        server.close()
        raise
    return server


def _wait_until_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    if not server._listening.wait(timeout):
        raise _failed(server, f"no 'listening on' line within {timeout:g} s")
    if not server.url:  # stderr ended without the line: the process is exiting
        try:
            raise _failed(server, f"it exited with code {server.process.wait(10)}")
        except subprocess.TimeoutExpired:
            raise _failed(server, "it closed stderr without printing 'listening on'") from None
    client = Client(server.url, server.token, timeout=5.0)
    try:
        while True:
            try:
                if client.request("GET", "/healthz") == {"status": "ok"}:
                    return
            except RecSimuError:
                pass
            if server.process.poll() is not None:
                raise _failed(server, f"it exited with code {server.process.returncode}")
            if time.monotonic() > deadline:
                raise _failed(server, f"{server.url}/healthz did not answer within {timeout:g} s")
            time.sleep(0.05)
    finally:
        client.close()


def _failed(server: Server, why: str) -> LaunchError:
    tail = server.stderr_tail.strip() or "(nothing on stderr)"
    return LaunchError(f"recsimu serve did not start: {why}\ncommand: "
                       f"{' '.join(server.command)}\nstderr:\n{tail}")


def _command(recsimu: str | os.PathLike[str] | None,
             repo: str | os.PathLike[str] | None) -> list[str]:
    """The command that runs recsimu: the binary, or deno on the repository's main.ts."""
    if recsimu is not None:
        return [os.fspath(recsimu)]
    found = shutil.which("recsimu")
    if found is not None and repo is None:
        return [found]
    main = _find_main(repo)
    deno = shutil.which("deno")
    if main is None or deno is None:
        missing = "deno is not on PATH" if deno is None else "recsimu's main.ts was not found"
        raise LaunchError(
            f"cannot run recsimu: no recsimu binary on PATH and {missing}; pass "
            "recsimu='/path/to/recsimu' (e.g. from `deno task compile`), or repo='/path/to/recsimu' "
            "with deno installed, or set RECSIMU_REPO")
    return [deno, "run", "-A", str(main)]


def _find_main(repo: str | os.PathLike[str] | None) -> Path | None:
    """recsimu's main.ts: in ``repo``, ``$RECSIMU_REPO``, the source tree of this package, or a
    folder above the working directory (the first that is a recsimu repository)."""
    if repo is not None:
        return _main_in(Path(repo))
    if os.environ.get("RECSIMU_REPO"):
        return _main_in(Path(os.environ["RECSIMU_REPO"]))
    candidates = [Path(__file__).resolve().parents[2]]
    cwd = Path.cwd().resolve()
    candidates += [cwd, *cwd.parents]
    for c in candidates:
        main = _main_in(c)
        if main is not None:
            return main
    return None


def _main_in(folder: Path) -> Path | None:
    main, config = folder / "main.ts", folder / "deno.json"
    try:
        if main.is_file() and json.loads(config.read_text()).get("name") == "@recsimu/recsimu":
            return main
    except (OSError, ValueError):
        pass
    return None


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        try:
            server.close(timeout=5.0)
        except Exception:  # noqa: BLE001 - exiting: stop the others regardless
            pass
