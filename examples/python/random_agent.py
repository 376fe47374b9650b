"""A random recommender against a `recsimu serve` endpoint: the smallest end-to-end RL loop.

    python3 random_agent.py --url http://127.0.0.1:8080 --episodes 5

Prints each episode's return and length, then the mean return. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recsimu_env import RecSimuEnv, RecSimuError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8080", help="server base URL")
    p.add_argument("--episodes", type=int, default=5, help="number of episodes (default 5)")
    p.add_argument("--seed", type=int, default=0, help="root seed; episode e uses seed + e (default 0)")
    p.add_argument("--max-steps", type=int, default=None, help="episode length (default: the server's)")
    p.add_argument("--token", default=os.environ.get("RECSIMU_TOKEN"), help="bearer token (default: $RECSIMU_TOKEN)")
    args = p.parse_args(argv)
    if args.episodes < 1:
        p.error("--episodes must be at least 1")

    rng = random.Random(args.seed)
    try:
        with RecSimuEnv(args.url, token=args.token, max_steps=args.max_steps) as env:
            model = env.model()
            items = env.items()
            print(f"model: {len(items)} items, labels {model['labels']}, N = {model['state_length']}, "
                  f"rewards {model['rewards']}")
            returns = []
            for e in range(args.episodes):
                obs, info = env.reset(seed=args.seed + e)
                total, steps, done = 0.0, 0, False
                while not done:
                    obs, reward, terminated, truncated, info = env.step(rng.choice(items))
                    total += reward
                    steps += 1
                    done = terminated or truncated
                returns.append(total)
                why = "user left" if terminated else "step limit"
                print(f"episode {e + 1}: return {total:g} in {steps} steps ({why})")
    except (RecSimuError, OSError) as err:
        print(f"random_agent: {err}", file=sys.stderr)
        return 1
    print(f"mean return over {len(returns)} episodes: {sum(returns) / len(returns):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
