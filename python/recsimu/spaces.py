"""``Slate``: the action space of a page of k distinct items, a ``MultiDiscrete([V] * k)``.

A page (slate) is k item indices shown top to bottom; the server answers them as a cascade (item j
given the state and the page's earlier (item, feedback) pairs). The items of one page must be
distinct: the environments raise ``InvalidActionError`` for a page that repeats one (the server
would answer 422). ``Slate`` is a ``MultiDiscrete`` (libraries that accept ``MultiDiscrete`` accept
it), whose ``sample()`` draws every page without replacement and whose ``contains()`` also asks
for distinct items. Batched (``gymnasium.vector.utils.batch_space``), it stays a ``Slate`` of shape
(n, k). A policy that samples each position independently (as Stable-Baselines3's MultiDiscrete
policies do) can produce repeats; map them to distinct items before stepping.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any, Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

__all__ = ["Slate"]


class Slate(spaces.MultiDiscrete):
    """Pages of ``slate_size`` distinct item indices in [0, ``num_items``).

    Args:
        num_items: V, the number of items.
        slate_size: k, the items per page (1 <= k <= V).
        batch_shape: leading dimensions, e.g. ``(num_envs,)`` for a vector env's pages.
        seed: seed of the space's own generator (for ``sample``).
    """

    def __init__(self, num_items: int, slate_size: int, batch_shape: Sequence[int] = (),
                 seed: int | np.random.Generator | None = None):
        if not 1 <= slate_size <= num_items:
            raise ValueError(f"slate_size: expected an integer in [1, {num_items}] (the number of "
                             f"items), got {slate_size!r}")
        self.num_items = int(num_items)
        self.slate_size = int(slate_size)
        self.batch_shape = tuple(int(n) for n in batch_shape)
        nvec = np.full((*self.batch_shape, self.slate_size), self.num_items, dtype=np.int64)
        super().__init__(nvec, dtype=np.int64, seed=seed)

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """Pages of distinct items, each uniform over the ordered k-subsets of the V items.
        With a ``mask`` or ``probability`` it samples as ``MultiDiscrete`` does (repeats possible)."""
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        rows = int(np.prod(self.batch_shape, dtype=np.int64))
        pages = [self.np_random.choice(self.num_items, size=self.slate_size, replace=False)
                 for _ in range(rows)]
        return np.asarray(pages, dtype=self.dtype).reshape(self.shape)

    def contains(self, x: Any) -> bool:
        """A valid ``MultiDiscrete`` value whose pages hold distinct items."""
        if not super().contains(x):
            return False
        page = np.sort(np.asarray(x), axis=-1)
        return bool(np.all(page[..., 1:] != page[..., :-1]))

    def __repr__(self) -> str:
        batch = f", batch_shape={self.batch_shape}" if self.batch_shape else ""
        return f"Slate({self.num_items}, {self.slate_size}{batch})"


@batch_space.register(Slate)
def _batch_slate(space: Slate, n: int = 1) -> Slate:
    """n pages of the space: a Slate of shape (n, *space.shape), sampling distinct pages too
    (gymnasium would batch a MultiDiscrete into a Box)."""
    return Slate(space.num_items, space.slate_size, (n, *space.batch_shape),
                 seed=deepcopy(space.np_random))
