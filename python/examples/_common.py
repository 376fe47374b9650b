"""Helpers shared by the examples: connecting (a URL, or a model folder to launch), the two
reference policies (random, most-popular) and a paired evaluation on the same seeded episodes.

Every policy is evaluated on the SAME episodes: the same seeds give the same logged start states
and the same random numbers for the sampled feedback (common random numbers), so the paired
difference against random is far more precise than the two means' own errors suggest.
"""

from __future__ import annotations

import argparse
import contextlib
import math
from typing import Callable, Iterator

import numpy as np

import recsimu

# Seeds of the evaluation episodes start here; training episodes use seeds below it.
EVAL_SEED_BASE = 1_000_000

# A policy maps (observations, used-item mask of shape (n, V)) to item indices of shape (n,).
Policy = Callable[[dict, np.ndarray], np.ndarray]


def add_connection_args(p: argparse.ArgumentParser) -> None:
    """--url or --model (launch a server on it), --token, --max-steps."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--url", default=None, help="a running server (default http://127.0.0.1:8080)")
    g.add_argument("--model", default=None, help="a model folder: launch `recsimu serve` on it")
    p.add_argument("--token", default=None, help="bearer token of the server")
    p.add_argument("--max-steps", type=int, default=20, help="episode length (default 20)")


@contextlib.contextmanager
def connect(args: argparse.Namespace) -> Iterator[tuple[str, str | None]]:
    """Yields (url, token): the given server, or one launched on --model and stopped after."""
    if args.model is None:
        yield args.url or "http://127.0.0.1:8080", args.token
        return
    with recsimu.launch(args.model, token=args.token) as server:
        yield server.url, server.token


def random_policy(seed: int) -> Policy:
    """Uniformly among the items not yet recommended in the episode."""
    rng = np.random.default_rng(seed)

    def act(obs: dict, used: np.ndarray) -> np.ndarray:
        scores = rng.random(used.shape)
        scores[used] = -1.0
        return scores.argmax(axis=1)

    return act


def popular_policy(ranking: np.ndarray) -> Policy:
    """The most popular item not yet recommended in the episode (``ranking``: best first)."""
    rank = np.empty_like(ranking)
    rank[ranking] = np.arange(len(ranking))  # rank[item] = its place in the ranking

    def act(obs: dict, used: np.ndarray) -> np.ndarray:
        scores = np.where(used, len(rank), rank[None, :])
        return scores.argmin(axis=1)

    return act


def popularity_ranking(url: str, token: str | None, episodes: int = 256) -> np.ndarray:
    """Items ranked by how often they occur in the model's logged start states (the histories
    the environment starts from), most frequent first; ties by index."""
    env = recsimu.RecSimuVectorEnv(url, min(episodes, 256), token=token)
    try:
        counts = np.zeros(env.model.num_items + 1, dtype=np.int64)
        for first in range(0, episodes, env.num_envs):
            obs, _ = env.reset(seed=[first + i for i in range(env.num_envs)])
            np.add.at(counts, obs["items"][obs["mask"] == 1], 1)
    finally:
        env.close()
    return np.argsort(-counts[:-1], kind="stable")


def evaluate(url: str, token: str | None, policy: Policy, seeds: list[int],
             max_steps: int) -> np.ndarray:
    """The return of ``policy`` in each seeded episode (sampled feedback), in batches of 256."""
    returns = []
    for first in range(0, len(seeds), 256):
        batch = seeds[first:first + 256]
        env = recsimu.RecSimuVectorEnv(url, len(batch), token=token, max_steps=max_steps)
        try:
            returns.append(_run(env, policy, batch))
        finally:
            env.close()
    return np.concatenate(returns)


def _run(env: recsimu.RecSimuVectorEnv, policy: Policy, seeds: list[int]) -> np.ndarray:
    obs, _ = env.reset(seed=seeds)
    n, v = env.num_envs, env.model.num_items
    used = np.zeros((n, v), dtype=np.bool_)
    total = np.zeros(n)
    done = np.zeros(n, dtype=np.bool_)
    while not done.all():
        used[used.all(axis=1)] = False  # every item shown: start over
        actions = policy(obs, used)
        used[np.arange(n), actions] = True
        obs, rewards, terminated, truncated, _ = env.step(actions)
        total += np.where(done, 0.0, rewards)
        done |= terminated | truncated
    return total


def report(results: dict[str, np.ndarray], reference: str = "random") -> None:
    """Mean return ± standard error per policy, and the paired difference to ``reference``."""
    ref = results[reference]
    print(f"{'policy':<16} {'mean return':>12} {'± stderr':>9} {'vs ' + reference:>12} "
          f"{'± stderr':>9}")
    for name, r in results.items():
        d = r - ref
        print(f"{name:<16} {r.mean():>12.4f} {_se(r):>9.4f} {d.mean():>+12.4f} {_se(d):>9.4f}")
    print(f"({len(ref)} episodes per policy, the same seeds and start states for every policy)")


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else float("nan")
