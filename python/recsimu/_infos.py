"""Batched infos of the vector environment, as Gymnasium's ``VectorEnv._add_info`` builds them.

Each key of the environments' infos becomes an array of length n (its dtype from the first
environment that has the key; dicts recursively; strings, lists and other objects in an object
array) plus a ``_key`` bool mask of the environments that have it. ``batch_infos`` does this from
per-environment dicts (any mix, e.g. some environments reset); ``step_columns`` and
``stack_infos`` build the same result column by column when every environment stepped and their
infos have the same keys (the common step), which is several times faster.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Mapping, Sequence

import numpy as np

from ._model import FLOAT_KEYS


def batch_infos(infos: Sequence[Mapping[str, Any] | None], n: int) -> dict[str, Any]:
    """Per-environment infos (``None``: that environment has none) batched into columns."""
    out: dict[str, Any] = {}
    keys: dict[str, None] = {}
    for d in infos:
        if d is not None:
            keys.update(dict.fromkeys(d))
    for key in keys:
        idx = [i for i, d in enumerate(infos) if d is not None and key in d]
        values = [infos[i][key] for i in idx]  # type: ignore[index]
        first = values[0]
        if key != "final_obs" and isinstance(first, dict):
            column: Any = batch_infos(
                [d[key] if d is not None and key in d else None for d in infos], n)
        elif key != "final_obs" and (type(first) in (int, float, bool)
                                     or isinstance(first, np.number)):
            column = np.zeros(n, dtype=type(first))
            column[idx] = values
        elif key != "final_obs" and isinstance(first, np.ndarray):
            column = np.zeros((n, *first.shape), dtype=first.dtype)
            for i, v in zip(idx, values):
                column[i] = v
        else:
            column = np.full(n, None, dtype=object)
            for i, v in zip(idx, values):
                column[i] = v
        mask = np.zeros(n, dtype=np.bool_)
        mask[idx] = True
        out[key], out[f"_{key}"] = column, mask
    return out


def step_columns(results: Sequence[Mapping[str, Any]], n: int) -> dict[str, Any] | None:
    """The batched infos of n single-item step answers (``{"feedback", "info", ...}``, one per
    environment, in order) straight from the answers: equal to ``batch_infos`` of their
    ``step_info`` dicts. ``None`` when the answers' infos do not all have the same keys."""
    infos = list(map(itemgetter("info"), results))
    if len(infos) != n:
        return None
    out = _columns(infos, n, FLOAT_KEYS | {"probs"})
    if out is None:
        return None
    out["feedback"] = _objects(list(map(itemgetter("feedback"), results)), n)
    out["_feedback"] = _ones(n)
    return out


def stack_infos(infos: Sequence[Mapping[str, Any]], n: int) -> dict[str, Any] | None:
    """``batch_infos`` of n infos that all have the same keys (every environment stepped),
    column by column; ``None`` when their keys differ."""
    if len(infos) != n:
        return None
    return _columns(infos, n, frozenset())


def _columns(dicts: Sequence[Mapping[str, Any]], n: int,
             floats: frozenset[str]) -> dict[str, Any] | None:
    """One column (and an all-true mask) per key of ``dicts``, which must all be dicts with the
    same keys (else ``None``); keys in ``floats`` become float64 columns (dicts under them:
    float64 columns too)."""
    keys = dicts[0].keys()
    # Every dict has the first one's keys (else KeyError below) and no more than it has.
    try:
        if sum(map(len, dicts)) != len(keys) * len(dicts):
            return None
        out: dict[str, Any] = {}
        for key in keys:
            column = _column(list(map(itemgetter(key), dicts)), n, key in floats)
            if column is None:
                return None
            out[key], out[f"_{key}"] = column, _ones(n)
    except (KeyError, TypeError):  # a dict without a key, or not a dict at all
        return None
    return out


def _column(values: list[Any], n: int, as_float: bool) -> Any:
    first = values[0]
    if isinstance(first, dict):
        return _columns(values, n, frozenset(first) if as_float else frozenset())
    if as_float:
        return np.array(values, dtype=np.float64)
    if type(first) in (int, float, bool) or isinstance(first, np.number):
        return np.array(values, dtype=type(first))
    if isinstance(first, np.ndarray):
        if any(not isinstance(v, np.ndarray) or v.shape != first.shape for v in values):
            return None
        return np.array(values, dtype=first.dtype)
    return _objects(values, n)


def _objects(values: list[Any], n: int) -> np.ndarray:
    column = np.full(n, None, dtype=object)
    try:
        column[:] = values  # strings and other scalars, at once
    except ValueError:  # sequences (a page's labels): numpy would make them a dimension
        for i, v in enumerate(values):
            column[i] = v
    return column


_TRUE: dict[int, np.ndarray] = {}


def _ones(n: int) -> np.ndarray:
    """An all-true mask of length n (a fresh copy: callers may change it)."""
    mask = _TRUE.get(n)
    if mask is None:
        mask = _TRUE[n] = np.ones(n, dtype=np.bool_)
    return mask.copy()
