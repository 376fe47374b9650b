"""The examples run end to end against the fixture server (python/examples)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import unittest

from _fixture import EXAMPLES, REPO, server

HAS_SB3 = importlib.util.find_spec("stable_baselines3") is not None


def run_example(name: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "RECSIMU_REPO": str(REPO)}
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)


class ExamplesTest(unittest.TestCase):
    def test_random_agent_runs_seeded_episodes(self) -> None:
        args = ("--url", server().url, "--episodes", "3", "--max-steps", "4")
        a = run_example("random_agent.py", *args)
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertRegex(a.stdout, r"model: 30 items, labels \['skip', 'click', 'purchase'\]")
        self.assertEqual(len(re.findall(r"^episode \d: return \d+ in 4 steps \(step limit\)$",
                                        a.stdout, re.M)), 3, a.stdout)
        self.assertRegex(a.stdout, r"mean return over 3 episodes: \d+\.\d{4}")
        self.assertEqual(run_example("random_agent.py", *args).stdout, a.stdout)
        bad = run_example("random_agent.py", "--url", "http://127.0.0.1:1")
        self.assertEqual(bad.returncode, 1)
        self.assertRegex(bad.stderr, r"^random_agent: cannot reach the recsimu server")

    def test_numpy_agent_reports_against_random_and_most_popular(self) -> None:
        args = ("--url", server().url, "--iterations", "3", "--envs", "8", "--eval-episodes",
                "16", "--max-steps", "5", "--quiet")
        a = run_example("numpy_agent.py", *args)
        self.assertEqual(a.returncode, 0, a.stderr)
        for name in ("random", "most-popular", "numpy-reinforce"):
            self.assertRegex(a.stdout, rf"(?m)^{name} +\d+\.\d{{4}} +\d+\.\d{{4}} +[+-]\d+\.\d{{4}}")
        self.assertIn("(16 episodes per policy, the same seeds", a.stdout)
        self.assertEqual(run_example("numpy_agent.py", *args).stdout, a.stdout, "reproducible")

    @unittest.skipIf(HAS_SB3, "stable-baselines3 is installed: the training test runs instead")
    def test_sb3_example_without_sb3_says_what_is_missing(self) -> None:
        r = run_example("sb3_ppo.py", "--url", server().url)
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, r"^sb3_ppo: this example needs stable-baselines3 .*pip install")

    @unittest.skipUnless(HAS_SB3, "stable-baselines3 is not installed")
    def test_sb3_ppo_trains_and_reports(self) -> None:
        r = run_example("sb3_ppo.py", "--url", server().url, "--timesteps", "256", "--envs", "2",
                        "--eval-episodes", "8", "--max-steps", "5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^sb3-ppo +\d+\.\d{4}")


if __name__ == "__main__":
    unittest.main()
