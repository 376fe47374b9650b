"""Pages (``slate_size`` > 1) in RecSimuEnv and RecSimuVectorEnv, and the learned leave model
(``recsimu serve --leave learned``), against real servers on the fixture model."""

from __future__ import annotations

import unittest
import warnings

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium.vector import SyncVectorEnv

import recsimu
from _fixture import learned_leave_server, server

N, V, K = 5, 30, 3  # the fixture model: state length, items, labels


class SlateEnvTest(unittest.TestCase):
    def setUp(self) -> None:
        self.env = recsimu.RecSimuEnv(server().url, slate_size=3)
        self.addCleanup(self.env.close)

    def test_check_env_passes_with_pages_of_three(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_env(self.env, skip_render_check=True)
        made = gym.make(recsimu.ENV_ID, url=server().url, slate_size=3)
        self.addCleanup(made.close)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_env(made.unwrapped, skip_render_check=True)

    def test_the_action_space_is_a_multidiscrete_of_distinct_pages(self) -> None:
        space = self.env.action_space
        self.assertIsInstance(space, recsimu.Slate)
        self.assertIsInstance(space, gym.spaces.MultiDiscrete)
        self.assertEqual(space, gym.spaces.MultiDiscrete([V] * 3))
        space.seed(0)
        for _ in range(200):
            page = space.sample()
            self.assertEqual(len(set(page.tolist())), 3)
            self.assertIn(page, space)
        self.assertNotIn(np.array([4, 4, 5]), space)
        single = recsimu.RecSimuEnv(server().url)
        self.addCleanup(single.close)
        self.assertIsInstance(single.action_space, gym.spaces.Discrete)

    def test_a_page_step_answers_every_item_and_appends_the_page(self) -> None:
        self.env.reset(seed=3)
        rewards = self.env.model.rewards
        obs, reward, terminated, truncated, info = self.env.step(np.array([4, 9, 2]))
        np.testing.assert_array_equal(obs["items"][-3:], [4, 9, 2])
        self.assertEqual(len(info["feedback"]), 3)
        np.testing.assert_array_equal(obs["feedback"][-3:],
                                      [self.env.labels.index(f) for f in info["feedback"]])
        self.assertEqual(set(info["probs"]), set(self.env.labels))
        self.assertEqual(info["probs"]["click"].shape, (3,))
        np.testing.assert_allclose(sum(info["probs"].values()), np.ones(3))
        np.testing.assert_array_equal(info["item_reward"], [rewards[f] for f in info["feedback"]])
        self.assertEqual(reward, float(info["item_reward"].sum()))
        self.assertAlmostEqual(info["expected_reward"], float(info["item_expected_reward"].sum()))
        self.assertEqual(info["real"].shape, (3,))
        self.assertEqual((info["seed"], info["step"]), (3, 1))
        self.assertNotIn("slate", info)

    def test_pages_of_ids_indices_and_numpy_integers_are_the_same_action(self) -> None:
        ids = self.env.item_ids
        results = []
        for action in ([4, 9, 2], (np.int64(4), np.uint8(9), 2), [ids[4], ids[9], ids[2]],
                       np.array([4, 9, 2], dtype=np.int32)):
            self.env.reset(seed=5)
            results.append(self.env.step(action))
        for r in results[1:]:
            self.assertTrue(data_equivalence(results[0], r, exact=True))

    def test_bad_pages_raise_errors_that_name_the_entry(self) -> None:
        self.env.reset(seed=0)
        cases = {
            (1, 2, 1): r"action\[2\] = 1 repeats action\[0\] .*distinct items",
            (1, V, 2): r"action\[1\] = 30 is out of range",
            (1, 2): r"action: expected a page of 3 distinct items, got 2",
            "abc": r"action = 'abc': expected a page of 3 distinct items",
            7: r"action = 7: expected a page of 3",
        }
        for action, message in cases.items():
            with self.subTest(action=action):
                with self.assertRaisesRegex(recsimu.InvalidActionError, message):
                    self.env.step(action)
        with self.assertRaisesRegex(recsimu.InvalidActionError, r"got shape \(1, 3\)"):
            self.env.step(np.array([[1, 2, 3]]))
        self.assertEqual(self.env.step([1, 2, 3])[4]["step"], 1)  # refused pages moved nothing

    def test_a_seed_replays_a_page_episode(self) -> None:
        def run(seed: int):
            out = [self.env.reset(seed=seed)]
            rng = np.random.default_rng(0)
            for _ in range(6):
                out.append(self.env.step(rng.choice(V, size=3, replace=False)))
            return out
        self.assertTrue(data_equivalence(run(4), run(4), exact=True))
        self.assertFalse(data_equivalence(run(4), run(5), exact=True))

    def test_slate_size_is_checked(self) -> None:
        for bad in (0, -1, 1.5, True):
            with self.assertRaisesRegex(ValueError, r"slate_size: expected an integer >= 1"):
                recsimu.RecSimuEnv(server().url, slate_size=bad)
        with self.assertRaisesRegex(ValueError, r"slate_size: expected an integer in \[1, 30\]"):
            recsimu.RecSimuEnv(server().url, slate_size=V + 1)


class SlateVectorEnvTest(unittest.TestCase):
    def make(self, n: int, url: str | None = None, **kw) -> recsimu.RecSimuVectorEnv:
        env = recsimu.RecSimuVectorEnv(url or server().url, n, slate_size=3, **kw)
        self.addCleanup(env.close)
        return env

    def test_pages_match_a_sync_vector_env_of_single_envs(self) -> None:
        url = learned_leave_server().url  # users leave: terminations and autoresets
        ours = self.make(4, url, max_steps=4)
        sync = SyncVectorEnv([lambda: recsimu.RecSimuEnv(url, max_steps=4, slate_size=3)] * 4)
        self.addCleanup(sync.close)
        self.assertEqual(ours.single_action_space, sync.single_action_space)
        self.assertIsInstance(sync.action_space, recsimu.Slate)  # batch_space keeps pages distinct
        self.assertEqual(ours.action_space, sync.action_space)
        self.assertTrue(data_equivalence(ours.reset(seed=2), sync.reset(seed=2), exact=True))
        ours.action_space.seed(0)
        for t in range(10):
            actions = ours.action_space.sample()
            a, b = ours.step(actions), sync.step(actions)
            for name, x, y in zip(("obs", "rewards", "terminations", "truncations", "infos"), a, b):
                self.assertTrue(data_equivalence(x, y, exact=True), f"step {t}: {name}\n{x}\n{y}")

    def test_pages_without_resets_match_sync_and_the_servers_state(self) -> None:
        # Users never leave: steps without resets (infos built column by column) between
        # the episodes' ends; pages of 6 are longer than the state (N = 5).
        from recsimu._http import Client
        client = Client(server().url)
        self.addCleanup(client.close)
        for k in (3, 6):
            ours = recsimu.RecSimuVectorEnv(server().url, 3, slate_size=k, max_steps=3)
            self.addCleanup(ours.close)
            sync = SyncVectorEnv(
                [lambda: recsimu.RecSimuEnv(server().url, max_steps=3, slate_size=k)] * 3)
            self.addCleanup(sync.close)
            self.assertTrue(data_equivalence(ours.reset(seed=9), sync.reset(seed=9), exact=True))
            ours.action_space.seed(k)
            for t in range(7):
                actions = ours.action_space.sample()
                a, b = ours.step(actions), sync.step(actions)
                self.assertTrue(data_equivalence(a, b, exact=True), f"k {k} step {t}\n{a}\n{b}")
                for i, sid in enumerate(ours.session_ids):
                    served = client.request("GET", f"/v1/sessions/{sid}")["observation"]
                    np.testing.assert_array_equal(a[0]["items"][i],
                                                  ours.model.encode(served)["items"])

    def test_64_envs_step_pages_with_one_request_each(self) -> None:
        env = self.make(64)
        self.assertEqual(env.action_space.shape, (64, 3))
        env.reset(seed=0)
        calls = []
        request = env._client.request
        env._client.request = lambda *a: calls.append(a[:2]) or request(*a)  # type: ignore
        obs, rewards, terminated, truncated, infos = env.step(env.action_space.sample())
        self.assertEqual(calls, [("POST", "/v1/sessions/step")])
        self.assertEqual(infos["probs"]["click"].shape, (64, 3))
        self.assertEqual(infos["item_reward"].shape, (64, 3))
        np.testing.assert_allclose(rewards, infos["item_reward"].sum(axis=1))
        self.assertIn(obs, env.observation_space)

    def test_bad_pages_name_the_environment_and_entry(self) -> None:
        env = self.make(3)
        env.reset(seed=0)
        with self.assertRaisesRegex(recsimu.InvalidActionError,
                                    r"actions\[1\]\[2\] = 0 repeats actions\[1\]\[0\]"):
            env.step(np.array([[0, 1, 2], [0, 1, 0], [3, 4, 5]]))
        with self.assertRaisesRegex(recsimu.InvalidActionError, r"expected 3 pages of 3 items"):
            env.step(np.array([0, 1, 2]))
        env.step([[0, 1, 2], [0, 1, 3], [3, 4, 5]])


class LearnedLeaveTest(unittest.TestCase):
    def test_the_learned_leave_model_ends_episodes_and_reports_its_probability(self) -> None:
        env = recsimu.RecSimuEnv(learned_leave_server().url, max_steps=50)
        self.addCleanup(env.close)
        self.assertEqual(env.model.leave, "learned")
        self.assertIn("heldout", env.model.leave_model)
        ruled = recsimu.RecSimuEnv(server().url)
        self.addCleanup(ruled.close)
        self.assertEqual(ruled.model.leave, "rule")
        lengths = []
        for seed in range(10):
            env.reset(seed=seed)
            for step in range(1, 51):
                _, _, terminated, truncated, info = env.step(env.action_space.sample())
                self.assertTrue(0 <= info["leave_prob"] <= 1)
                if terminated or truncated:
                    break
            lengths.append(step if terminated else None)
        # The fixture's logged sessions are 10 to 20 items long: simulated users leave too.
        self.assertGreater(sum(n is not None for n in lengths), 5, lengths)
