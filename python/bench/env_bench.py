"""Throughput, latency and package overhead of the Python environments over HTTP (a benchmark).

    python python/bench/env_bench.py --model runs/demo/model            # launches a server
    python python/bench/env_bench.py --url http://127.0.0.1:8080 --envs 1,64,256 --repeats 3

Every figure is the median of ``--repeats`` runs (default 3). For each vector size (1, 64, 256):

1. **Package vs raw HTTP**, the same vector steps both ways on long episodes that do not end (so
   no resets): ``RecSimuVectorEnv.step`` with pre-drawn actions, and the same requests sent raw
   (``http.client`` on one keep-alive connection, ``json.dumps`` of the same ``{"steps": [...],
   "observation": false}`` payload, one ``POST /v1/sessions/step`` per vector step, ``json.loads``
   of the answer, nothing else). Same session seeds, same actions, so the server does the same work; the two sides run
   interleaved in blocks of steps (the order flips every block), so both see the same machine
   load. ``overhead`` = median over repeats of package wall time / raw wall time − 1;
   ``client_cpu_extra_ms`` = the package's extra CPU time in this process per vector step
   (``time.process_time``), which depends much less on what else runs.
2. **With resets**: ``RecSimuVectorEnv`` with ``--max-steps`` (50) episodes and Gymnasium's
   next-step autoreset for ``--seconds``; the autoreset steps count as steps, as an agent sees them.

Then single-step latency from one client: ``RecSimuEnv.step`` timed one by one, and the same raw
``POST /v1/sessions/{id}/step``, alternating step by step (p50, p99, mean; resets not timed).

The table goes to stderr, ONE JSON line to stdout. ``--profile`` also prints where the package's
time goes at the largest size (cProfile, on stderr). The load average is recorded: the numbers
depend on what else runs.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import io
import json
import os
import pstats
import statistics
import sys
import time
from typing import Any, Iterator
from urllib.parse import urlsplit

import numpy as np

import recsimu

# Episodes long enough that no session ends during a timed run (the server's largest max_steps).
LONG_EPISODE = 1_000_000
WARMUP_STEPS = 5
TARGETS = {"env_steps_per_s_at_256": 10_000, "single_step_p99_ms": 20.0, "overhead": 0.10}


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


@contextlib.contextmanager
def server_url(args: argparse.Namespace) -> Iterator[str]:
    if args.model is None:
        yield args.url
        return
    with recsimu.launch(args.model, backend=args.backend) as server:
        yield server.url


class Raw:
    """The raw HTTP client the package is compared with: one keep-alive connection, JSON in and
    out with the package's own encoding (compact separators, the same headers)."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.headers = {"Accept": "application/json", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        self.conn.request(method, path, body=data, headers=self.headers)
        res = self.conn.getresponse()
        raw = res.read()
        if res.status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {res.status} {raw[:200]!r}")
        return json.loads(raw) if raw else None

    def open_sessions(self, seeds: list[int]) -> list[str]:
        return [self.call("POST", "/v1/sessions", {"seed": s, "max_steps": LONG_EPISODE})
                ["session_id"] for s in seeds]

    def close_sessions(self, ids: list[str]) -> None:
        for sid in ids:
            self.call("DELETE", f"/v1/sessions/{sid}")
        self.conn.close()


class PackageVector:
    """The package's side: a ``RecSimuVectorEnv`` of n envs on episodes that do not end."""

    def __init__(self, url: str, n: int, seed: int):
        self.env = recsimu.RecSimuVectorEnv(url, n, max_steps=LONG_EPISODE)
        self.env.reset(seed=seed)

    def step(self, a: np.ndarray) -> None:
        self.env.step(a)

    def close(self) -> None:
        self.env.close()


class RawVector:
    """The raw side: the same sessions (environment i gets seed + i, as the package's
    ``reset(seed=seed)``) and the same ``POST /v1/sessions/step`` payloads (with the package's
    ``"observation": false``, so both get the same answers)."""

    def __init__(self, url: str, item_ids: tuple[str, ...], n: int, seed: int):
        self.raw, self.item_ids = Raw(url), item_ids
        self.ids = self.raw.open_sessions([seed + i for i in range(n)])

    def step(self, a: np.ndarray) -> None:
        ids = self.item_ids
        body = {"steps": [{"session_id": s, "action": ids[j]}
                          for s, j in zip(self.ids, a.tolist())], "observation": False}
        self.raw.call("POST", "/v1/sessions/step", body)["results"]

    def close(self) -> None:
        self.raw.close_sessions(self.ids)


class PackageSingle:
    """The package's single env (``RecSimuEnv.step``)."""

    def __init__(self, url: str, seed: int):
        self.env = recsimu.RecSimuEnv(url, max_steps=LONG_EPISODE)
        self.env.reset(seed=seed)

    def step(self, a: Any) -> None:
        self.env.step(int(a))

    def close(self) -> None:
        self.env.close()


class RawSingle:
    """The raw single step: ``POST /v1/sessions/{id}/step`` with ``{"action": id}``."""

    def __init__(self, url: str, item_ids: tuple[str, ...], seed: int):
        self.raw, self.item_ids = Raw(url), item_ids
        [self.sid] = self.raw.open_sessions([seed])

    def step(self, a: Any) -> None:
        self.raw.call("POST", f"/v1/sessions/{self.sid}/step", {"action": self.item_ids[int(a)]})

    def close(self) -> None:
        self.raw.close_sessions([self.sid])


def paired(sides: dict[str, Any], actions: np.ndarray, block: int) -> dict[str, dict]:
    """Steps every side through the same ``actions``, interleaved in blocks of ``block`` steps
    (the order flips every block), so both see the same machine load. Returns per side the wall
    time of each block and the client's CPU time in all (after ``WARMUP_STEPS``)."""
    try:
        for side in sides.values():
            for a in actions[:WARMUP_STEPS]:
                side.step(a)
        out = {k: {"times": [], "cpu": 0.0} for k in sides}
        names = list(sides)
        for b, start in enumerate(range(WARMUP_STEPS, len(actions), block)):
            chunk = actions[start:start + block]
            for k in (names if b % 2 == 0 else names[::-1]):
                step, c0, t0 = sides[k].step, time.process_time(), time.perf_counter()
                for a in chunk:
                    step(a)
                out[k]["times"].append(time.perf_counter() - t0)
                out[k]["cpu"] += time.process_time() - c0
        return out
    finally:
        for side in sides.values():
            side.close()


def with_resets(url: str, n: int, seconds: float, max_steps: int) -> float:
    """Env steps/s of the vector env with short episodes and autoreset, for ``seconds``."""
    env = recsimu.RecSimuVectorEnv(url, n, max_steps=max_steps)
    try:
        env.action_space.seed(0)
        env.reset(seed=0)
        for _ in range(WARMUP_STEPS):
            env.step(env.action_space.sample())
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            env.step(env.action_space.sample())
            steps += 1
        return steps * n / (time.perf_counter() - start)
    finally:
        env.close()


def vector_size(url: str, model: Any, n: int, args: argparse.Namespace) -> dict:
    """Package vs raw at n envs (paired, interleaved), and the with-resets throughput."""
    rng = np.random.default_rng(n)
    probe = PackageVector(url, n, 0)
    t0 = time.perf_counter()
    for a in rng.integers(model.num_items, size=(10, n)):
        probe.step(a)
    per_step = (time.perf_counter() - t0) / 10
    probe.close()
    # Each side gets about args.seconds of steps per repeat.
    steps = int(min(100_000, max(50, args.seconds / max(per_step, 1e-6))))
    actions = rng.integers(model.num_items, size=(WARMUP_STEPS + steps, n))
    reps = []
    for r in range(args.repeats):
        sides = {"package": PackageVector(url, n, 1000 * r),
                 "raw": RawVector(url, model.item_ids, n, 1000 * r)}
        reps.append(paired(sides, actions, block=max(1, min(20, steps // 20))))
    resets = [with_resets(url, n, args.seconds, args.max_steps) for _ in range(args.repeats)]
    wall = {k: [sum(x[k]["times"]) for x in reps] for k in ("package", "raw")}
    cpu = {k: [x[k]["cpu"] for x in reps] for k in ("package", "raw")}
    ms = lambda ts: [1000 * t / steps for t in ts]  # noqa: E731

    def side(k: str) -> dict:
        return {"env_steps_per_s": n * steps / statistics.median(wall[k]),
                "ms_per_vector_step": statistics.median(ms(wall[k])),
                "client_cpu_ms_per_vector_step": statistics.median(ms(cpu[k])),
                "repeats_ms": ms(wall[k])}
    return {"envs": n, "vector_steps": steps, "package": side("package"), "raw": side("raw"),
            "overhead": statistics.median(p / q for p, q in zip(wall["package"], wall["raw"]))
            - 1,
            "client_cpu_extra_ms": statistics.median(
                1000 * (p - q) / steps for p, q in zip(cpu["package"], cpu["raw"])),
            "with_resets": {"max_steps": args.max_steps,
                            "env_steps_per_s": statistics.median(resets),
                            "repeats": resets}}


def percentiles(times: list[float]) -> dict:
    ms = 1000 * np.array(times)
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean())}


def latency(url: str, model: Any, args: argparse.Namespace) -> dict:
    """Single-step latency, package and raw, interleaved step by step; medians over repeats."""
    actions = np.random.default_rng(7).integers(model.num_items,
                                                size=WARMUP_STEPS + args.latency_steps)
    pkg, raw = [], []
    for r in range(args.repeats):
        sides = {"package": PackageSingle(url, r), "raw": RawSingle(url, model.item_ids, r)}
        res = paired(sides, actions, block=1)
        pkg.append(percentiles(res["package"]["times"]))
        raw.append(percentiles(res["raw"]["times"]))
    med = lambda rs: {k: statistics.median(x[k] for x in rs) for k in rs[0]}  # noqa: E731
    return {"steps": args.latency_steps, "package": med(pkg), "raw": med(raw),
            "overhead": statistics.median(p["mean_ms"] / q["mean_ms"] for p, q in zip(pkg, raw))
            - 1, "repeats": {"package": pkg, "raw": raw}}


def profile(url: str, model: Any, n: int, steps: int) -> str:
    """cProfile of ``steps`` package vector steps at n envs: the top functions by own time."""
    actions = np.random.default_rng(1).integers(model.num_items, size=(WARMUP_STEPS + steps, n))
    prof = cProfile.Profile()
    prof.runcall(paired, {"package": PackageVector(url, n, 0)}, actions, steps)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(18)
    return out.getvalue()


def targets(vec: list[dict], lat: dict) -> dict:
    at256 = next((r for r in vec if r["envs"] == 256), None)
    worst = max([r["overhead"] for r in vec] + [lat["overhead"]])
    out = {
        "single_step_p99_ms": {"value": lat["package"]["p99_ms"],
                               "threshold": TARGETS["single_step_p99_ms"]},
        "overhead": {"value": worst, "threshold": TARGETS["overhead"],
                     "note": "largest package overhead over the sizes and the single step"},
    }
    if at256 is not None:
        out["env_steps_per_s_at_256"] = {"value": at256["package"]["env_steps_per_s"],
                                         "threshold": TARGETS["env_steps_per_s_at_256"]}
    for name, t in out.items():
        t["pass"] = (t["value"] >= t["threshold"] if name == "env_steps_per_s_at_256"
                     else t["value"] <= t["threshold"])
    return out


def print_table(vec: list[dict], lat: dict) -> None:
    log(f"{'envs':>5} {'package steps/s':>16} {'raw steps/s':>12} {'overhead':>9} "
        f"{'ms/step pkg':>12} {'raw':>7} {'extra CPU ms':>13} {'with resets/s':>14}")
    for r in vec:
        log(f"{r['envs']:>5} {r['package']['env_steps_per_s']:>16,.0f} "
            f"{r['raw']['env_steps_per_s']:>12,.0f} {100 * r['overhead']:>8.1f}% "
            f"{r['package']['ms_per_vector_step']:>12.2f} {r['raw']['ms_per_vector_step']:>7.2f} "
            f"{r['client_cpu_extra_ms']:>13.3f} {r['with_resets']['env_steps_per_s']:>14,.0f}")
    p, q = lat["package"], lat["raw"]
    log(f"single step ({lat['steps']} steps, one client): package p50 {p['p50_ms']:.2f} ms, "
        f"p99 {p['p99_ms']:.2f} ms; raw p50 {q['p50_ms']:.2f} ms, p99 {q['p99_ms']:.2f} ms; "
        f"overhead {100 * lat['overhead']:.1f}%")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--url", help="a running server")
    g.add_argument("--model", help="a model folder: launch `recsimu serve` on it")
    p.add_argument("--backend", default=None, help="--backend of the launched server")
    p.add_argument("--envs", default="1,64,256", help="vector sizes (default 1,64,256)")
    p.add_argument("--seconds", type=float, default=2.0,
                   help="seconds per timed run (default 2)")
    p.add_argument("--repeats", type=int, default=3, help="runs per figure (default 3)")
    p.add_argument("--latency-steps", type=int, default=500, help="timed single steps (500)")
    p.add_argument("--max-steps", type=int, default=50,
                   help="episode length of the with-resets runs (default 50)")
    p.add_argument("--profile", action="store_true",
                   help="also profile the package at the largest size (stderr)")
    args = p.parse_args(argv)
    args.sizes = [int(x) for x in args.envs.split(",") if x.strip()]
    if args.repeats < 1 or not args.sizes:
        p.error("--repeats and --envs: expected at least one")
    return args


def measure(url: str, args: argparse.Namespace) -> dict:
    env = recsimu.RecSimuEnv(url)
    model = env.model
    env.close()
    shape = model.raw.get("model", {}).get("shape", {})
    described = {"items": model.num_items, "state_length": model.state_length,
                 "hidden": shape.get("hidden"), "backend": model.raw.get("backend")}
    log(f"model: {described['items']} items, N = {described['state_length']}, hidden "
        f"{described['hidden']}, backend {described['backend']}")
    if model.leave_after_skips > 0:
        raise recsimu.RecSimuError("the server ends episodes (--leave-after-skips): the package"
                                   " vs raw comparison needs episodes that do not end")
    vec = []
    for n in args.sizes:
        vec.append(vector_size(url, model, n, args))
        log(f"  {n} envs done")
    lat = latency(url, model, args)
    if args.profile:
        log(profile(url, model, max(args.sizes), 200))
    return {"model": described, "vector": vec, "latency": lat, "targets": targets(vec, lat)}


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    load_before = os.getloadavg()
    try:
        with server_url(args) as url:
            result = measure(url, args)
    except recsimu.RecSimuError as e:
        log(f"env_bench: {e}")
        return 1
    load_after = os.getloadavg()
    print_table(result["vector"], result["latency"])
    log(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"({os.cpu_count()} CPUs)")
    print(json.dumps({"bench": "python_env", "repeats": args.repeats, **result,
                      "load": [load_before[0], load_after[0]], "cpus": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
