"""A random recommender through ``gymnasium.make("recsimu/RecSimu-v0")``: the smallest RL loop.

    python examples/random_agent.py --url http://127.0.0.1:8080 --episodes 5
    python examples/random_agent.py --model runs/demo/model       # launches a server

Prints each episode's return and length, then the mean return. Episode e uses seed --seed + e,
so a run repeats exactly.
"""

from __future__ import annotations

import argparse
import sys

import gymnasium as gym

import _common
import recsimu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_connection_args(p)
    p.add_argument("--episodes", type=int, default=5, help="number of episodes (default 5)")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    args = p.parse_args(argv)
    if args.episodes < 1:
        p.error("--episodes must be at least 1")
    try:
        with _common.connect(args) as (url, token):
            env = gym.make(recsimu.ENV_ID, url=url, token=token, max_steps=args.max_steps)
            model = env.unwrapped.model
            print(f"model: {model.num_items} items, labels {list(model.labels)}, "
                  f"N = {model.state_length}, rewards {model.rewards}")
            env.action_space.seed(args.seed)
            returns = []
            for e in range(args.episodes):
                obs, info = env.reset(seed=args.seed + e)
                total, steps, done = 0.0, 0, False
                while not done:
                    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
                    total += reward
                    steps += 1
                    done = terminated or truncated
                returns.append(total)
                why = "user left" if terminated else "step limit"
                print(f"episode {e + 1}: return {total:g} in {steps} steps ({why})")
            env.close()
    except recsimu.RecSimuError as err:
        print(f"random_agent: {err}", file=sys.stderr)
        return 1
    print(f"mean return over {len(returns)} episodes: {sum(returns) / len(returns):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
