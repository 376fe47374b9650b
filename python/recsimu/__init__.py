"""Gymnasium environments over a ``recsimu serve`` user simulator.

    import gymnasium as gym
    import recsimu

    with recsimu.launch("runs/demo/model") as server:       # or a server you started yourself
        env = gym.make("recsimu/RecSimu-v0", url=server.url)
        obs, info = env.reset(seed=0)
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        env.close()

``RecSimuEnv`` is one simulated user (one server session); ``RecSimuVectorEnv`` is many, stepped
with one HTTP request per vector step. ``slate_size=k`` makes each action a page of k distinct
items (``recsimu.Slate``). Details: docs/python.md in the recsimu repository.
"""

from __future__ import annotations

import gymnasium

from .env import RecSimuEnv
from .errors import (EnvClosedError, InvalidActionError, LaunchError, RecSimuError,
                     ResetNeededError, ServerError, ServerUnreachableError, SessionLostError)
from .launch import Server, launch
from .spaces import Slate
from .vector import RecSimuVectorEnv

__version__ = "0.1.0"

__all__ = [
    "RecSimuEnv",
    "RecSimuVectorEnv",
    "launch",
    "Server",
    "Slate",
    "RecSimuError",
    "ServerError",
    "SessionLostError",
    "InvalidActionError",
    "EnvClosedError",
    "ResetNeededError",
    "ServerUnreachableError",
    "LaunchError",
    "ENV_ID",
]

ENV_ID = "recsimu/RecSimu-v0"
"""The Gymnasium id: ``gymnasium.make(ENV_ID, url=...)``, ``gymnasium.make_vec(ENV_ID, n, url=...)``."""

if ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=ENV_ID,
        entry_point="recsimu.env:RecSimuEnv",
        vector_entry_point="recsimu.vector:RecSimuVectorEnv",
        nondeterministic=False,  # seeded episodes replay exactly
    )
