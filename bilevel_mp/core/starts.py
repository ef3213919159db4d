"""Where local methods start: one documented order for the leader's start point."""

from __future__ import annotations

import math

import numpy as np

from ..errors import BilevelInputError
from ..problem import BilevelProblem


def leader_start(problem: BilevelProblem, x0=None) -> np.ndarray:
    """The leader's start: ``x0`` if given, else the x part of ``problem.meta["xy_init"]``,
    else the values ``problem.x`` holds, else 0; clipped into the leader's bounds."""
    if x0 is not None:
        x = np.asarray(x0, dtype=float).ravel()
        if x.shape != (problem.n_x,) or not np.all(np.isfinite(x)):
            raise BilevelInputError(f"x0 must be {problem.n_x} finite numbers (n_x), got {x0!r}")
    else:
        init = problem.meta.get("xy_init") if isinstance(problem.meta, dict) else None
        if init is not None and len(init) == problem.n_x + problem.n_y:
            x = np.asarray(init[: problem.n_x], dtype=float)
        else:
            x = np.array([0.0 if problem.x[i].value is None else float(problem.x[i].value)
                          for i in range(problem.n_x)])
    lo = np.array([-math.inf if v.lb is None else v.lb for v in problem.x.values()])
    hi = np.array([math.inf if v.ub is None else v.ub for v in problem.x.values()])
    return np.clip(np.where(np.isfinite(x), x, 0.0), lo, hi)
