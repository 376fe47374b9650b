"""Shared test fixtures: a tiny model trained with the recsimu CLI and servers launched on it.

Each is made once per test process (the first test that needs it pays: ~10 s to train, ~3 s per
server) and removed when the process exits. The repository is the one these tests live in.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import recsimu

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "python" / "examples"


def recsimu_cli(*args: str) -> None:
    """Runs ``deno run -A main.ts ARGS`` in the repository; raises with its stderr on failure."""
    deno = shutil.which("deno")
    if deno is None:
        raise RuntimeError("the Python tests need deno on PATH to train their model")
    env = {**os.environ, "RECSIMU_THREADS": "1", "NO_COLOR": "1"}
    out = subprocess.run([deno, "run", "-A", str(REPO / "main.ts"), *args], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"recsimu {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")


@functools.cache
def model_dir() -> str:
    """A tiny trained model: 30 items, 3 labels, N = 5 (a few seconds on the CPU backend)."""
    tmp = tempfile.mkdtemp(prefix="recsimu-pytest-")
    atexit.register(shutil.rmtree, tmp, True)
    recsimu_cli("synth", "--out", f"{tmp}/s", "--sessions", "60", "--items", "30", "--categories",
                "4", "--min-length", "10", "--max-length", "20", "--quiet")
    recsimu_cli("train", "--data", f"{tmp}/s/log.csv", "--out", f"{tmp}/m", "--backend", "cpu",
                "--state-length", "5", "--min-count", "1", "--hidden", "8", "--fc", "8",
                "--emb-dim", "6", "--batch", "32", "--i2v-epochs", "1", "--quiet")
    return f"{tmp}/m"


@functools.cache
def server() -> recsimu.Server:
    """A server with the defaults (50 steps, the user never leaves)."""
    return recsimu.launch(model_dir(), repo=REPO, backend="cpu")


@functools.cache
def leaving_server() -> recsimu.Server:
    """A server whose users leave after one negative feedback, with batches of at most 16."""
    return recsimu.launch(model_dir(), repo=REPO, backend="cpu", leave_after_skips=1,
                          args=["--max-batch", "16"])


@functools.cache
def learned_leave_server() -> recsimu.Server:
    """A server whose users leave by the model's learned leave model (``--leave learned``)."""
    return recsimu.launch(model_dir(), repo=REPO, backend="cpu", leave="learned")
