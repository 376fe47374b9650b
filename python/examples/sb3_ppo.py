"""Stable-Baselines3 PPO on the simulator, compared with random and most-popular on the same
seeded episodes. Needs ``pip install stable-baselines3`` (and so PyTorch); without it, this
script says so and exits with code 2.

    python examples/sb3_ppo.py --model runs/demo/model --timesteps 20000
    python examples/sb3_ppo.py --url http://127.0.0.1:8080

PPO trains with ``"MultiInputPolicy"`` on ``gymnasium.make("recsimu/RecSimu-v0")`` environments in
SB3's own ``DummyVecEnv`` (one HTTP request per environment step: SB3 steps its environments one
by one). SB3 one-hot encodes the ``MultiDiscrete`` observation parts, so the input has N·(V+K+3)
numbers: fine for hundreds of items; for large vocabularies write a features extractor with an
item embedding. Evaluation: PPO's most probable item not yet shown in the episode.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import _common
import recsimu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_connection_args(p)
    p.add_argument("--timesteps", type=int, default=20_000, help="PPO steps (default 20000)")
    p.add_argument("--envs", type=int, default=8, help="SB3 environments (default 8)")
    p.add_argument("--eval-episodes", type=int, default=512, help="default 512")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    args = p.parse_args(argv)
    try:
        import torch
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env
    except ImportError as e:
        print(f"sb3_ppo: this example needs stable-baselines3 ({e}); install it with "
              "`pip install stable-baselines3`, or run examples/numpy_agent.py, which needs only "
              "numpy", file=sys.stderr)
        return 2
    import gymnasium as gym

    try:
        with _common.connect(args) as (url, token):
            venv = make_vec_env(
                lambda: gym.make(recsimu.ENV_ID, url=url, token=token, max_steps=args.max_steps),
                n_envs=args.envs, seed=args.seed)
            model = PPO("MultiInputPolicy", venv, n_steps=128, batch_size=64, seed=args.seed,
                        verbose=0)
            model.learn(total_timesteps=args.timesteps)
            venv.close()

            def ppo_policy(obs: dict, used: np.ndarray) -> np.ndarray:
                with torch.no_grad():
                    dist = model.policy.get_distribution(model.policy.obs_to_tensor(obs)[0])
                    probs = dist.distribution.probs.cpu().numpy()
                probs[used] = -1.0
                return probs.argmax(axis=1)

            seeds = [_common.EVAL_SEED_BASE + e for e in range(args.eval_episodes)]
            policies = {
                "random": _common.random_policy(args.seed),
                "most-popular": _common.popular_policy(_common.popularity_ranking(url, token)),
                "sb3-ppo": ppo_policy,
            }
            returns = {name: _common.evaluate(url, token, pol, seeds, args.max_steps)
                       for name, pol in policies.items()}
    except recsimu.RecSimuError as err:
        print(f"sb3_ppo: {err}", file=sys.stderr)
        return 1
    _common.report(returns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
