"""Throughput and latency of the Python environments over HTTP (a benchmark, not a test).

    python python/bench/env_bench.py --model runs/demo/model            # launches a server
    python python/bench/env_bench.py --url http://127.0.0.1:8080 --envs 1,64,256 --seconds 10

1. Vectorised env steps/s: ``RecSimuVectorEnv`` with 1, 64 and 256 users and random actions for
   ``--seconds`` each (one HTTP request per vector step, plus one session per ending episode with
   Gymnasium's next-step autoreset; the autoreset steps count as steps, as an agent sees them).
2. Single-step latency: ``RecSimuEnv.step`` timed one by one from one client on one keep-alive
   connection (resets not timed): p50, p99 and mean.

The machine's load average is printed before and after: the numbers depend on what else runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from typing import Iterator

import numpy as np

import recsimu


@contextlib.contextmanager
def server_url(args: argparse.Namespace) -> Iterator[str]:
    if args.model is None:
        yield args.url
        return
    with recsimu.launch(args.model, backend=args.backend) as server:
        yield server.url


def vector_steps_per_second(url: str, n: int, seconds: float, max_steps: int) -> dict:
    env = recsimu.RecSimuVectorEnv(url, n, max_steps=max_steps)
    try:
        env.action_space.seed(0)
        env.reset(seed=0)
        for _ in range(3):  # warm-up: connection, JIT, model caches
            env.step(env.action_space.sample())
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            env.step(env.action_space.sample())
            steps += 1
        elapsed = time.perf_counter() - start
    finally:
        env.close()
    return {"envs": n, "vector_steps": steps, "env_steps_per_s": steps * n / elapsed,
            "ms_per_vector_step": 1000 * elapsed / steps}


def step_latency(url: str, steps: int, max_steps: int) -> dict:
    env = recsimu.RecSimuEnv(url, max_steps=max_steps)
    rng = np.random.default_rng(0)
    times = []
    try:
        env.reset(seed=0)
        for _ in range(10):  # warm-up
            env.step(int(rng.integers(env.action_space.n)))
        env.reset(seed=1)
        while len(times) < steps:
            a = int(rng.integers(env.action_space.n))
            t0 = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(a)
            times.append(time.perf_counter() - t0)
            if terminated or truncated:
                env.reset()
    finally:
        env.close()
    ms = 1000 * np.array(times)
    return {"steps": steps, "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--url", help="a running server")
    g.add_argument("--model", help="a model folder: launch `recsimu serve` on it")
    p.add_argument("--backend", default=None, help="--backend of the launched server")
    p.add_argument("--envs", default="1,64,256", help="vector sizes (default 1,64,256)")
    p.add_argument("--seconds", type=float, default=5.0, help="seconds per size (default 5)")
    p.add_argument("--latency-steps", type=int, default=500, help="timed single steps (500)")
    p.add_argument("--max-steps", type=int, default=50, help="episode length (default 50)")
    args = p.parse_args(argv)
    sizes = [int(x) for x in args.envs.split(",") if x.strip()]
    load_before = os.getloadavg()
    try:
        with server_url(args) as url:
            model = recsimu.RecSimuEnv(url)
            described = model.model.raw
            model.close()
            shape = described.get("model", {}).get("shape", {})
            print(f"model: {described['item_count']} items, N = {described['state_length']}, "
                  f"hidden {shape.get('hidden', '?')}, backend {described.get('backend')}")
            vec = [vector_steps_per_second(url, n, args.seconds, args.max_steps) for n in sizes]
            lat = step_latency(url, args.latency_steps, args.max_steps)
    except recsimu.RecSimuError as e:
        print(f"env_bench: {e}", file=sys.stderr)
        return 1
    load_after = os.getloadavg()
    print(f"{'envs':>6} {'env steps/s':>12} {'ms/vector step':>15}")
    for r in vec:
        print(f"{r['envs']:>6} {r['env_steps_per_s']:>12,.0f} {r['ms_per_vector_step']:>15.2f}")
    print(f"single step ({lat['steps']} steps, one client): p50 {lat['p50_ms']:.2f} ms, "
          f"p99 {lat['p99_ms']:.2f} ms, mean {lat['mean_ms']:.2f} ms")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"({os.cpu_count()} CPUs)")
    print(json.dumps({"vector": vec, "latency": lat, "load": [load_before[0], load_after[0]],
                      "cpus": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
