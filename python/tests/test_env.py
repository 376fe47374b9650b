"""Tests of recsimu.RecSimuEnv, recsimu.RecSimuVectorEnv and recsimu.launch against real servers
on a tiny model trained by the CLI (see _fixture.py). Run: python -m unittest discover python/tests
"""

from __future__ import annotations

import http.client
import unittest
import warnings
from urllib.parse import urlsplit

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import recsimu
from _fixture import leaving_server, model_dir, server

N, V, K = 5, 30, 3  # the fixture model: state length, items, labels


def raw_request(url: str, method: str, path: str) -> int:
    """One request outside the environments (to delete a session behind their back)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path)
        res = conn.getresponse()
        res.read()
        return res.status
    finally:
        conn.close()


def episode(env: recsimu.RecSimuEnv, seed: int | None, actions: list[int]):
    """Observations, rewards, flags and infos of an episode with the given actions."""
    out = [env.reset(seed=seed)]
    for a in actions:
        out.append(env.step(a))
        if out[-1][2] or out[-1][3]:
            break
    return out


class SingleEnvTest(unittest.TestCase):
    def setUp(self) -> None:
        self.env = recsimu.RecSimuEnv(server().url)
        self.addCleanup(self.env.close)

    def test_check_env_passes_without_warnings(self) -> None:
        made = gym.make(recsimu.ENV_ID, url=server().url)
        self.addCleanup(made.close)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any checker warning fails the test
            check_env(made.unwrapped)
            check_env(self.env, skip_render_check=True)

    def test_make_gives_a_wrapped_env_with_the_spaces(self) -> None:
        env = gym.make("recsimu/RecSimu-v0", url=server().url, max_steps=4)
        self.addCleanup(env.close)
        self.assertIsInstance(env.unwrapped, recsimu.RecSimuEnv)
        self.assertEqual(env.spec.id, "recsimu/RecSimu-v0")
        self.assertEqual(env.action_space, gym.spaces.Discrete(V))
        self.assertEqual(set(env.observation_space.spaces), {"items", "feedback", "mask"})
        obs, info = env.reset(seed=1)
        self.assertIn(obs, env.observation_space)
        steps = 0
        while True:
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            steps += 1
            self.assertIn(obs, env.observation_space)
            if terminated or truncated:
                break
        self.assertEqual((steps, truncated, terminated), (4, True, False))

    def test_observation_is_left_padded_and_masked(self) -> None:
        ids = self.env.item_ids
        obs, _ = self.env.reset(seed=0, options={"state": [(ids[3], "click"), (7, 0)]})
        np.testing.assert_array_equal(obs["mask"], [0, 0, 0, 1, 1])
        np.testing.assert_array_equal(obs["items"], [V, V, V, 3, 7])
        np.testing.assert_array_equal(obs["feedback"], [K, K, K, self.env.labels.index("click"), 0])
        obs, *_ = self.env.step(np.int32(9))
        np.testing.assert_array_equal(obs["items"], [V, V, 3, 7, 9])
        np.testing.assert_array_equal(obs["mask"], [0, 0, 1, 1, 1])
        self.assertEqual(obs["items"].dtype, np.int64)

    def test_step_info_holds_probs_expected_reward_and_feedback(self) -> None:
        self.env.reset(seed=5)
        rewards = self.env.model.rewards
        _, reward, _, _, info = self.env.step(2)
        self.assertEqual(list(info["probs"]), list(self.env.labels))
        self.assertAlmostEqual(sum(info["probs"].values()), 1.0, places=9)
        self.assertAlmostEqual(info["expected_reward"],
                               sum(p * rewards[k] for k, p in info["probs"].items()), places=9)
        self.assertIn(info["feedback"], self.env.labels)
        self.assertEqual(reward, rewards[info["feedback"]])
        self.assertIsInstance(reward, float)
        self.assertTrue(all(isinstance(p, float) for p in info["probs"].values()))
        self.assertEqual((info["seed"], info["step"]), (5, 1))

    def test_seed_reproduces_an_episode(self) -> None:
        actions = [int(a) for a in np.random.default_rng(0).integers(0, V, size=20)]
        a = episode(self.env, 7, actions)
        b = episode(self.env, 7, actions)
        self.assertTrue(data_equivalence(a, b, exact=True))
        c = episode(self.env, 8, actions)
        self.assertFalse(data_equivalence(a, c, exact=True))
        # reset(seed) then unseeded resets: the whole sequence repeats.
        self.env.reset(seed=11)
        first = [self.env.reset()[1]["seed"] for _ in range(3)]
        self.env.reset(seed=11)
        self.assertEqual([self.env.reset()[1]["seed"] for _ in range(3)], first)

    def test_seed_is_the_servers_episode_seed(self) -> None:
        from recsimu._http import Client
        obs, info = self.env.reset(seed=42)
        client = Client(server().url)
        self.addCleanup(client.close)
        created = client.request("POST", "/v1/sessions", {"seed": 42})
        client.request("DELETE", f"/v1/sessions/{created['session_id']}")
        self.assertEqual(info["seed"], 42)
        np.testing.assert_array_equal(obs["items"],
                                      self.env.model.encode(created["observation"])["items"])

    def test_string_ids_and_numpy_integers_are_the_same_action(self) -> None:
        results = []
        for action in (4, np.int64(4), np.uint8(4), np.array(4), self.env.item_ids[4]):
            self.env.reset(seed=3)
            results.append(self.env.step(action))
        for r in results[1:]:
            self.assertTrue(data_equivalence(results[0], r, exact=True))

    def test_bad_actions_raise_errors_that_name_them(self) -> None:
        self.env.reset(seed=0)
        cases = {
            V: r"action = 30 is out of range: expected an item index in \[0, 30\)",
            -1: r"action = -1 is out of range",
            "no-such-item": r"action = 'no-such-item' is not an item id",
            2.0: r"action = 2.0: expected an item index .* got float",
            True: r"action = True: .* got bool",
            None: r"action = None: .* got NoneType",
        }
        for action, message in cases.items():
            with self.subTest(action=action):
                with self.assertRaisesRegex(recsimu.InvalidActionError, message):
                    self.env.step(action)
        self.assertTrue(issubclass(recsimu.InvalidActionError, ValueError))
        self.env.step(0)  # the episode is untouched by the refused actions

    def test_step_needs_a_live_episode(self) -> None:
        with self.assertRaisesRegex(recsimu.ResetNeededError, r"call reset\(\) before step\(\)"):
            self.env.step(0)
        env = recsimu.RecSimuEnv(server().url, max_steps=1)
        self.addCleanup(env.close)
        env.reset(seed=0)
        self.assertTrue(env.step(0)[3])
        with self.assertRaisesRegex(gym.error.ResetNeeded, r"episode is over .*call reset\(\)"):
            env.step(0)

    def test_closed_env_raises_and_closes_twice(self) -> None:
        self.env.reset(seed=0)
        sid = self.env.session_id
        self.env.close()
        self.env.close()
        self.assertEqual(raw_request(server().url, "GET", f"/v1/sessions/{sid}"), 404)
        for call in (lambda: self.env.step(0), lambda: self.env.reset()):
            with self.assertRaisesRegex(recsimu.EnvClosedError, r"environment is closed"):
                call()
        self.assertTrue(issubclass(recsimu.EnvClosedError, gym.error.ClosedEnvironmentError))

    def test_lost_session_raises_a_clear_error_and_reset_recovers(self) -> None:
        self.env.reset(seed=0)
        sid = self.env.session_id
        self.assertEqual(raw_request(server().url, "DELETE", f"/v1/sessions/{sid}"), 204)
        with self.assertRaises(recsimu.SessionLostError) as caught:
            self.env.step(0)
        self.assertRegex(str(caught.exception),
                         rf"session {sid} was lost .*expired after 600 s idle.*call reset\(\)")
        self.assertEqual((caught.exception.status, caught.exception.code),
                         (404, "session_not_found"))
        with self.assertRaises(recsimu.ResetNeededError):
            self.env.step(0)
        self.env.reset(seed=0)
        self.env.step(0)

    def test_the_user_leaving_is_terminated_not_truncated(self) -> None:
        env = recsimu.RecSimuEnv(leaving_server().url, max_steps=50)
        self.addCleanup(env.close)
        env.reset(seed=0)
        for step in range(1, 51):
            _, _, terminated, truncated, info = env.step(step % V)
            if terminated or truncated:
                break
        self.assertTrue(terminated, "a user who leaves after one skip leaves within 50 steps")
        self.assertFalse(truncated)
        self.assertFalse(env.model.positive[env.labels.index(info["feedback"])])

    def test_server_errors_and_unreachable_servers_raise(self) -> None:
        with self.assertRaisesRegex(ValueError, r"options\['state'\]\[0\].item = 99 is out of"):
            self.env.reset(options={"state": [(99, "click")]})
        with self.assertRaisesRegex(ValueError, r"unknown key\(s\) 'stat'"):
            self.env.reset(options={"stat": []})
        with self.assertRaisesRegex(recsimu.ServerUnreachableError,
                                    r"cannot reach the recsimu server at http://127.0.0.1:1"):
            recsimu.RecSimuEnv("http://127.0.0.1:1")
        with self.assertRaisesRegex(recsimu.ServerError, r"HTTP 401 unauthorized"):
            # a server that needs a token, asked without one
            recsimu.RecSimuEnv(self.token_server().url, token=None)

    def token_server(self) -> recsimu.Server:
        s = recsimu.launch(model_dir(), repo=_repo(), backend="cpu", token="t0ken-0123456789")
        self.addCleanup(s.close)
        return s


class VectorEnvTest(unittest.TestCase):
    def make(self, n: int, url: str | None = None, **kw) -> recsimu.RecSimuVectorEnv:
        env = recsimu.RecSimuVectorEnv(url or server().url, n, **kw)
        self.addCleanup(env.close)
        return env

    def check_matches_sync(self, mode: AutoresetMode, url: str | None = None,
                           min_ended: int = 5) -> None:
        """Step for step the same as Gymnasium's SyncVectorEnv over single RecSimuEnvs (which
        read each state from the server's answers; the vector env keeps its own)."""
        url = url or leaving_server().url  # users leave after one skip: terminated, truncated
        ours = self.make(4, url, max_steps=3, autoreset_mode=mode)
        sync = SyncVectorEnv([lambda: recsimu.RecSimuEnv(url, max_steps=3)] * 4,
                             autoreset_mode=mode)
        self.addCleanup(sync.close)
        self.assertEqual(ours.metadata["autoreset_mode"], mode)
        self.assertEqual(ours.single_observation_space, sync.single_observation_space)
        self.assertEqual(ours.action_space, sync.action_space)
        self.assertTrue(data_equivalence(ours.reset(seed=3), sync.reset(seed=3), exact=True))
        rng = np.random.default_rng(0)
        ended = 0
        for t in range(12):
            actions = rng.integers(0, V, size=4)
            a, b = ours.step(actions), sync.step(actions)
            for name, x, y in zip(("obs", "rewards", "terminations", "truncations", "infos"), a, b):
                self.assertTrue(data_equivalence(x, y, exact=True), f"step {t}: {name}\n{x}\n{y}")
            ended += int(np.sum(a[2] | a[3]))
            self.assertIn(a[0], ours.observation_space)
        self.assertGreaterEqual(ended, min_ended)

    def test_next_step_autoreset_matches_sync_vector_env(self) -> None:
        self.check_matches_sync(AutoresetMode.NEXT_STEP)

    def test_same_step_autoreset_matches_sync_vector_env(self) -> None:
        self.check_matches_sync(AutoresetMode.SAME_STEP)

    def test_steps_without_resets_match_sync_vector_env(self) -> None:
        # Users never leave: every third step ends all episodes together (max_steps 3), and the
        # steps between have no reset (their infos are built column by column).
        for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            with self.subTest(mode=mode):
                self.check_matches_sync(mode, server().url, min_ended=12)

    def test_the_kept_state_is_the_servers_state(self) -> None:
        # Short start states (left padding) and full ones, over many steps and two resets.
        from recsimu._http import Client
        client = Client(server().url)
        self.addCleanup(client.close)
        for state in (None, [(3, 0), (7, 1)]):
            env = self.make(5, max_steps=6)
            obs, _ = env.reset(seed=4, options=None if state is None else {"state": state})
            rng = np.random.default_rng(2)
            for t in range(14):
                obs, *_ = env.step(rng.integers(0, V, size=5))
                for i, sid in enumerate(env.session_ids):
                    served = client.request("GET", f"/v1/sessions/{sid}")["observation"]
                    want = env.model.encode(served)
                    for key in ("items", "feedback", "mask"):
                        np.testing.assert_array_equal(obs[key][i], want[key], f"{t} {i} {key}")

    def test_resets_and_close_take_one_request_each(self) -> None:
        env = self.make(8, max_steps=2)
        calls = []
        request = env._client.request
        env._client.request = lambda *a: calls.append(a[:2]) or request(*a)  # type: ignore
        env.reset(seed=0)
        self.assertEqual(calls, [("POST", "/v1/sessions/batch")])
        first = env.session_ids
        calls.clear()
        env.reset(seed=1)  # a second reset replaces the sessions: no DELETE, no extra room
        self.assertEqual(calls, [("POST", "/v1/sessions/batch")])
        self.assertFalse(set(first) & set(env.session_ids))
        self.assertEqual(raw_request(server().url, "GET", f"/v1/sessions/{first[0]}"), 404)
        # A session that expired behind the env's back is simply not replaced.
        lost = env.session_ids[3]
        self.assertEqual(raw_request(server().url, "DELETE", f"/v1/sessions/{lost}"), 204)
        calls.clear()
        _, infos = env.reset(seed=2)
        self.assertEqual(calls, [("POST", "/v1/sessions/batch")] * 2)  # the retry without it
        np.testing.assert_array_equal(infos["seed"], np.arange(2, 10))
        env.step(np.zeros(8, dtype=np.int64))
        calls.clear()
        env.step(np.zeros(8, dtype=np.int64))  # all truncated
        _, _, _, _, infos = env.step(np.zeros(8, dtype=np.int64))  # NEXT_STEP: all reset
        self.assertEqual(calls, [("POST", "/v1/sessions/step"), ("POST", "/v1/sessions/batch")])
        np.testing.assert_array_equal(infos["step"], 0)
        live = env.session_ids
        calls.clear()
        env.close()
        self.assertEqual(calls, [("POST", "/v1/sessions/delete")])
        self.assertEqual(raw_request(server().url, "GET", f"/v1/sessions/{live[5]}"), 404)

    def test_infos_carry_spread_and_ood_as_arrays(self) -> None:
        env = self.make(6)
        env.reset(seed=0)
        _, _, _, _, infos = env.step(np.arange(6))
        self.assertEqual((infos["spread"].dtype, infos["spread"].shape), (np.float64, (6,)))
        self.assertTrue(np.all(infos["spread"] >= 0))
        ood = infos["ood"]
        self.assertEqual((ood["any"].dtype, ood["any"].shape), (np.bool_, (6,)))
        self.assertEqual(ood["low_real"].dtype, np.bool_)
        self.assertEqual(ood["state_unknown_items"].dtype, np.int64)
        self.assertTrue(set(ood["item"].tolist()) <= {"known", "unknown"})
        self.assertTrue(infos["_ood"].all() and ood["_any"].all())
        # The model (trained by this recsimu) has a support model: off_support counts in any.
        self.assertEqual(ood["off_support"].dtype, np.bool_)
        np.testing.assert_array_equal(
            ood["any"], (ood["item"] == "unknown") | (ood["state_unknown_items"] > 0)
            | ood["low_real"] | ood["off_support"])
        for key in ("real", "expected_reward", "support"):
            self.assertEqual(infos[key].dtype, np.float64)
        single = recsimu.RecSimuEnv(server().url)
        self.addCleanup(single.close)
        single.reset(seed=0)
        info = single.step(0)[4]
        self.assertIsInstance(info["spread"], float)
        self.assertEqual(set(info["ood"]),
                         {"item", "state_unknown_items", "low_real", "off_support", "any"})
        self.assertIsInstance(info["support"], float)
        self.assertIsInstance(info["ood"]["any"], bool)

    def test_64_envs_step_with_one_request_each(self) -> None:
        env = self.make(64)
        calls = []
        request = env._client.request
        env._client.request = lambda *a: calls.append(a[:2]) or request(*a)  # type: ignore
        obs, infos = env.reset(seed=0)
        self.assertEqual(obs["items"].shape, (64, N))
        self.assertIn(obs, env.observation_space)
        self.assertEqual(env.action_space, gym.spaces.MultiDiscrete([V] * 64))
        for t in range(60):
            calls.clear()
            obs, rewards, terminated, truncated, infos = env.step(env.action_space.sample())
            self.assertIn(obs, env.observation_space)
            self.assertEqual((rewards.shape, rewards.dtype), ((64,), np.float64))
            if t < 49:  # before the step limit: one request per vector step
                self.assertEqual(calls, [("POST", "/v1/sessions/step")])
                self.assertTrue(infos["_probs"].all())
            if t == 49:
                self.assertTrue(truncated.all())
            if t == 50:  # NEXT_STEP: every environment resets (one request), none steps
                self.assertEqual(calls, [("POST", "/v1/sessions/batch")])
                np.testing.assert_array_equal(infos["step"], 0)
                self.assertNotIn("probs", infos)  # as SyncVectorEnv: no env stepped
                self.assertEqual(rewards.sum(), 0)
        self.assertEqual(infos["probs"]["click"].shape, (64,))
        self.assertEqual(len(set(env.session_ids)), 64)

    def test_make_vec_builds_the_vector_env(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            env = gym.make_vec(recsimu.ENV_ID, num_envs=3, url=server().url)
        self.addCleanup(env.close)
        self.assertIsInstance(env.unwrapped, recsimu.RecSimuVectorEnv)
        self.assertEqual(env.num_envs, 3)
        env.reset(seed=0)
        env.step([0, 1, 2])

    def test_flatten_observation_gives_the_box_that_cleanrl_needs(self) -> None:
        from gymnasium.wrappers.vector import FlattenObservation
        env = FlattenObservation(self.make(4))
        size = N * (V + 1) + N * (K + 1) + N  # one-hot items, one-hot feedback, mask
        self.assertEqual(env.single_observation_space.shape, (size,))
        obs, _ = env.reset(seed=0)
        self.assertEqual(obs.shape, (4, size))
        np.testing.assert_array_equal(obs.sum(axis=1), 2 * N + N)  # full start states
        obs, *_ = env.step([0, 1, 2, 3])
        self.assertIn(obs, env.observation_space)
        single = gym.wrappers.FlattenObservation(recsimu.RecSimuEnv(server().url))
        self.addCleanup(single.close)
        self.assertEqual(single.reset(seed=0)[0].shape, (size,))

    def test_seed_reproduces_a_run(self) -> None:
        runs = []
        for _ in range(2):
            env = self.make(8, leaving_server().url, max_steps=4)
            rng = np.random.default_rng(1)
            run = [env.reset(seed=10)]
            run += [env.step(rng.integers(0, V, size=8)) for _ in range(10)]
            runs.append(run)
            env.close()
        self.assertTrue(data_equivalence(runs[0], runs[1], exact=True))

    def test_reset_mask_resets_only_those_envs(self) -> None:
        env = self.make(3)
        env.reset(seed=0)
        before = env.session_ids
        env.step([0, 0, 0])
        obs, infos = env.reset(options={"reset_mask": np.array([False, True, False])})
        self.assertEqual(infos["_seed"].tolist(), [False, True, False])
        after = env.session_ids
        self.assertEqual((after[0], after[2]), (before[0], before[2]))
        self.assertNotEqual(after[1], before[1])

    def test_bad_actions_name_the_entry(self) -> None:
        env = self.make(4)
        env.reset(seed=0)
        with self.assertRaisesRegex(recsimu.InvalidActionError, r"actions\[2\] = 30 is out of range"):
            env.step(np.array([0, 1, 30, 2]))
        with self.assertRaisesRegex(recsimu.InvalidActionError, r"actions\[1\] = 'nope' is not an"):
            env.step([env.item_ids[0], "nope", 1, 2])
        with self.assertRaisesRegex(recsimu.InvalidActionError, r"expected 4 actions .*\(3,\)"):
            env.step([0, 1, 2])
        env.step([0, 1, env.item_ids[2], np.int16(3)])

    def test_lost_session_names_the_env(self) -> None:
        env = self.make(4)
        env.reset(seed=0)
        sid = env.session_ids[2]
        self.assertEqual(raw_request(server().url, "DELETE", f"/v1/sessions/{sid}"), 204)
        with self.assertRaisesRegex(recsimu.SessionLostError,
                                    rf"environment 2: session {sid} was lost.*call reset\(\)"):
            env.step([0, 0, 0, 0])
        with self.assertRaisesRegex(recsimu.ResetNeededError, r"environment 2 has no episode"):
            env.step([0, 0, 0, 0])
        env.reset()
        env.step([0, 0, 0, 0])

    def test_closed_vector_env_raises(self) -> None:
        env = self.make(2)
        env.reset(seed=0)
        sids = env.session_ids
        env.close()
        env.close()
        self.assertEqual(raw_request(server().url, "GET", f"/v1/sessions/{sids[0]}"), 404)
        with self.assertRaisesRegex(recsimu.EnvClosedError, r"vector environment is closed"):
            env.step([0, 0])
        with self.assertRaises(recsimu.EnvClosedError):
            env.reset()

    def test_more_envs_than_the_batch_limit_is_refused(self) -> None:
        with self.assertRaisesRegex(ValueError, r"num_envs = 17 exceeds the server's --max-batch 16"):
            recsimu.RecSimuVectorEnv(leaving_server().url, 17)


class LaunchTest(unittest.TestCase):
    def test_launch_serves_and_close_stops_it(self) -> None:
        with recsimu.launch(model_dir(), repo=_repo(), backend="cpu", max_steps=2) as s:
            self.assertRegex(s.url, r"^http://127\.0\.0\.1:\d+$")
            env = recsimu.RecSimuEnv(s)
            self.assertEqual(env.model.max_steps, 2)
            env.reset(seed=0)
            env.close()
            made = gym.make(recsimu.ENV_ID, url=s)  # a Server works where a URL does
            made.reset(seed=0)
            made.close()
        self.assertIsNotNone(s.process.poll())
        with self.assertRaises(recsimu.ServerUnreachableError):
            recsimu.RecSimuEnv(s.url)

    def test_workers_share_vector_steps_and_answer_the_same(self) -> None:
        # 64 environments: each vector step is cut into two shares, one per prediction thread.
        def run(url: str) -> list:
            env = recsimu.RecSimuVectorEnv(url, 64, max_steps=5)
            rng = np.random.default_rng(2)
            out = [env.reset(seed=4)] + [env.step(rng.integers(0, V, size=64)) for _ in range(8)]
            env.close()
            return out

        with recsimu.launch(model_dir(), repo=_repo(), backend="cpu", workers=2) as s:
            single = recsimu.RecSimuEnv(s)
            self.assertEqual(single.model.raw["model"]["workers"], 2)
            single.close()
            pooled = run(s.url)
        self.assertTrue(data_equivalence(pooled, run(server().url), exact=True))

    def test_launch_with_the_structured_user_model(self) -> None:
        # user_model="glm": the server answers with the checkpoint's glm.json.
        with recsimu.launch(model_dir(), repo=_repo(), backend="cpu", user_model="glm") as s:
            env = recsimu.RecSimuEnv(s)
            self.assertEqual(env.model.raw["model"]["user_model"], "glm")
            env.reset(seed=3)
            _, _, _, _, info = env.step(np.int64(1))
            self.assertAlmostEqual(sum(info["probs"].values()), 1.0, places=9)
            self.assertIn("real", info)
            env.close()
        # real_score=False: the same episode and probabilities, without D's real score.
        with recsimu.launch(model_dir(), repo=_repo(), backend="cpu", user_model="glm",
                            real_score=False) as s:
            env = recsimu.RecSimuEnv(s)
            self.assertEqual(env.model.raw["model"]["real_score"], "off")
            env.reset(seed=3)
            _, _, _, _, fast = env.step(np.int64(1))
            env.close()
        self.assertNotIn("real", fast)
        self.assertNotIn("low_real", fast["ood"])
        self.assertEqual(fast["probs"], info["probs"])
        self.assertEqual(fast["feedback"], info["feedback"])
        with self.assertRaisesRegex(recsimu.LaunchError, r"--user-model: expected one of"):
            recsimu.launch(model_dir(), repo=_repo(), backend="cpu", user_model="gru")
        with self.assertRaisesRegex(recsimu.LaunchError, r"--real-score off needs --user-model glm"):
            recsimu.launch(model_dir(), repo=_repo(), backend="cpu", user_model="network",
                           real_score="off")

    def test_launch_failures_say_why(self) -> None:
        with self.assertRaisesRegex(recsimu.LaunchError,
                                    r"(?s)exited with code 2.*stderr:\nrecsimu serve: .*no-such"):
            recsimu.launch("/no-such-model-dir", repo=_repo())
        with self.assertRaisesRegex(recsimu.LaunchError, r"cannot start '/no/recsimu'"):
            recsimu.launch(model_dir(), recsimu="/no/recsimu")


def _repo():
    from _fixture import REPO
    return REPO


if __name__ == "__main__":
    unittest.main()
