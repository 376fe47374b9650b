"""A softmax policy-gradient recommender (REINFORCE) in plain numpy, trained through
``recsimu.RecSimuVectorEnv`` and compared with random and most-popular on the same episodes.

    python examples/numpy_agent.py --model runs/demo/model              # launches a server
    python examples/numpy_agent.py --url http://127.0.0.1:8080 --iterations 60

Policy: a softmax over the items not yet shown in the episode, linear in φ(s): the (normalised) bag
of items the user reacted positively to and the one-hot last item, plus a per-item bias.
Training: ``--envs`` episodes per iteration with sampled actions, then one Adam step on
-mean(A·log π(a|s)) - c·mean(H(π(·|s))), where A is the return-to-go of the EXPECTED rewards that
each step's info carries (lower variance than the sampled reward, same mean) minus a running
per-step baseline, normalised. Evaluation: the greedy policy (most probable unshown item) on
``--eval-episodes`` seeded episodes shared with the reference policies.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import _common
import recsimu


class SoftmaxPolicy:
    """logits(s) = b + mean of P[item] over the state's positively rated items + L[last item].

    P and L have V + 1 rows (row V: padding, i.e. no such item); this is a linear policy on the
    features φ(s) = [positive bag (V + 1), one-hot last item (V + 1)], computed by row lookups.
    """

    def __init__(self, model: "recsimu._model.ServedModel", seed: int):
        self.v = model.num_items
        self.positive = np.array([*model.positive, False])  # feedback K (padding) is not positive
        self.params = [np.zeros((self.v + 1, self.v)), np.zeros((self.v + 1, self.v)),
                       np.zeros(self.v)]  # P, L, b
        self._adam = [(np.zeros_like(x), np.zeros_like(x)) for x in self.params]
        self._t = 0
        self.rng = np.random.default_rng(seed)

    def features(self, obs: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(items (n, N), weights of the positive bag (n, N), last item (n,))."""
        items = obs["items"]
        pos = (self.positive[obs["feedback"]] & (obs["mask"] == 1)).astype(np.float64)
        return items, pos / np.maximum(1.0, pos.sum(axis=1, keepdims=True)), items[:, -1]

    def probs(self, phi: tuple, used: np.ndarray) -> np.ndarray:
        items, weights, last = phi
        p_, l_, b = self.params
        z = b + np.einsum("nj,njv->nv", weights, p_[items]) + l_[last]
        z[used] = -np.inf
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def sample(self, p: np.ndarray) -> np.ndarray:
        u = self.rng.random((p.shape[0], 1))
        return np.minimum((p.cumsum(axis=1) < u).sum(axis=1), self.v - 1)

    def greedy(self) -> _common.Policy:
        return lambda obs, used: self.probs(self.features(obs), used).argmax(axis=1)

    def update(self, phi: tuple, p: np.ndarray, actions: np.ndarray, adv: np.ndarray,
               lr: float, entropy: float) -> None:
        """One Adam step on -mean(A·log p(a)) - entropy·mean(H(p)) over m samples."""
        items, weights, last = phi
        m = len(actions)
        g = p * adv[:, None]  # dL/dz = -A (onehot(a) - p) + entropy · p (log p + H)
        g[np.arange(m), actions] -= adv
        logp = np.log(np.where(p > 0, p, 1.0))
        g += entropy * p * (logp + (-(p * logp).sum(axis=1, keepdims=True)))
        g /= m
        bag = np.zeros((m, self.v + 1))
        np.add.at(bag, (np.repeat(np.arange(m), items.shape[1]), items.ravel()), weights.ravel())
        grad_l = np.zeros((self.v + 1, self.v))
        np.add.at(grad_l, last, g)
        grads = [bag.T @ g, grad_l, g.sum(axis=0)]
        self._t += 1
        c1, c2 = 1 - 0.9 ** self._t, 1 - 0.999 ** self._t
        for param, grad, (mom, vel) in zip(self.params, grads, self._adam):
            mom[:] = 0.9 * mom + 0.1 * grad
            vel[:] = 0.999 * vel + 0.001 * grad * grad
            param -= lr * (mom / c1) / (np.sqrt(vel / c2) + 1e-8)


def _cat(phis: list[tuple], keep: np.ndarray) -> tuple:
    return tuple(np.concatenate([f[k] for f in phis])[keep] for k in range(3))


def train(url: str, token: str | None, args: argparse.Namespace) -> SoftmaxPolicy:
    env = recsimu.RecSimuVectorEnv(url, args.envs, token=token, max_steps=args.max_steps)
    policy = SoftmaxPolicy(env.model, args.seed)
    baseline = np.zeros(args.max_steps)
    start, steps = time.monotonic(), 0
    try:
        for it in range(args.iterations):
            seeds = [args.seed * 100_003 + it * args.envs + i for i in range(args.envs)]
            obs, _ = env.reset(seed=seeds)
            used = np.zeros((args.envs, policy.v), dtype=np.bool_)
            phis, probs, acts, exp_r, alive = [], [], [], [], []
            done = np.zeros(args.envs, dtype=np.bool_)
            for t in range(args.max_steps):
                used[used.all(axis=1)] = False
                phi = policy.features(obs)
                p = policy.probs(phi, used)
                a = policy.sample(p)
                used[np.arange(args.envs), a] = True
                obs, _, terminated, truncated, info = env.step(a)
                steps += args.envs
                phis.append(phi), probs.append(p), acts.append(a), alive.append(~done)
                exp_r.append(np.where(done, 0.0, info["expected_reward"]))
                done = done | terminated | truncated
                if done.all():
                    break
            togo = np.array(exp_r)  # (T, n) -> discounted return-to-go, in place
            for t in range(togo.shape[0] - 2, -1, -1):
                togo[t] += args.gamma * togo[t + 1]
            horizon = togo.shape[0]
            baseline[:horizon] += 0.1 * (togo.mean(axis=1) - baseline[:horizon])
            adv = togo - baseline[:horizon, None]
            live = np.array(alive)
            adv = (adv - adv[live].mean()) / (adv[live].std() + 1e-8)
            policy.update(_cat(phis, live.ravel()), np.concatenate(probs)[live.ravel()],
                          np.concatenate(acts)[live.ravel()], adv.ravel()[live.ravel()],
                          args.lr, args.entropy)
            if not args.quiet and (it + 1) % max(1, args.iterations // 10) == 0:
                sps = steps / (time.monotonic() - start)
                ret = float(np.sum(exp_r, axis=0).mean())
                print(f"iteration {it + 1}/{args.iterations}: mean expected return {ret:.4f}, "
                      f"{sps:,.0f} env steps/s", file=sys.stderr)
    finally:
        env.close()
    return policy


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _common.add_connection_args(p)
    p.add_argument("--iterations", type=int, default=40, help="policy updates (default 40)")
    p.add_argument("--envs", type=int, default=64, help="episodes per update (default 64)")
    p.add_argument("--lr", type=float, default=0.2, help="Adam learning rate (default 0.2)")
    p.add_argument("--gamma", type=float, default=0.5, help="discount (default 0.5)")
    p.add_argument("--entropy", type=float, default=0.01, help="entropy bonus (default 0.01)")
    p.add_argument("--eval-episodes", type=int, default=512, help="default 512")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)
    try:
        with _common.connect(args) as (url, token):
            policy = train(url, token, args)
            seeds = [_common.EVAL_SEED_BASE + e for e in range(args.eval_episodes)]
            ranking = _common.popularity_ranking(url, token)
            results = {
                "random": _common.random_policy(args.seed),
                "most-popular": _common.popular_policy(ranking),
                "numpy-reinforce": policy.greedy(),
            }
            returns = {name: _common.evaluate(url, token, pol, seeds, args.max_steps)
                       for name, pol in results.items()}
    except recsimu.RecSimuError as e:
        print(f"numpy_agent: {e}", file=sys.stderr)
        return 1
    _common.report(returns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
