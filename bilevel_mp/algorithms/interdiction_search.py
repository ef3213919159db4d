"""A primal heuristic for interdiction-type problems: local search over the leader's switches.

For a follower the leader can only switch off (``interdiction_cuts.blocking_structure``),
each switch x_i (binary) blocks some follower variables. From a bilevel-feasible x the
search tries, first improvement first, switching on an x_i that blocks a variable the
follower's response uses, swapping such an x_i for one that is on, and switching one
off; every trial x is scored exactly — the follower re-solved at it (``FollowerMILP``,
cached), then F at that response and the leader's rows checked. What it returns is
bilevel feasible; it proves nothing (the branch-and-cut does).
"""

from __future__ import annotations

import numpy as np

from .follower_milp import FollowerMILP
from .interdiction_cuts import Blocking

FEAS_TOL = 1e-9


class SwitchSearch:
    """Local search over the switches of ``blocking`` (module docstring); the problem is
    linear (``follower.data`` holds F and the leader's rows as arrays)."""

    def __init__(self, follower: FollowerMILP, blocking: Blocking):
        d = follower.data
        self.follower, self.d = follower, d
        self.switches = sorted({i for i in blocking.blocked if i is not None})
        self.blocks = {i: [j for j, b in enumerate(blocking.blocked) if b == i] for i in self.switches}

    def score(self, x) -> tuple[float, np.ndarray] | None:
        """(F in min form, follower response) at ``x``, None where x is not bilevel
        feasible (follower infeasible, or a leader row fails at the response)."""
        status, _, y = self.follower.solve(x)
        if status != "optimal":
            return None
        d = self.d
        z = np.concatenate([x, y])
        if d.L.shape[0]:
            rows = d.L @ z
            tol = FEAS_TOL * max(1.0, float(np.abs(z).max(initial=0.0)))
            if (rows < d.L_lo - tol).any() or (rows > d.L_hi + tol).any():
                return None
        return float(d.F_x @ x + d.F_y @ y + d.F_0), y

    def _moves(self, x, y):
        on = [i for i in self.switches if x[i] > 0.5]
        useful = [i for i in self.switches if x[i] < 0.5 and any(abs(y[j]) > 0.5 for j in self.blocks[i])]
        for i in useful:
            yield [(i, 1.0)]
        for i in useful:
            for k in on:
                yield [(i, 1.0), (k, 0.0)]
        for k in on:
            yield [(k, 0.0)]

    def improve(self, x, max_trials: int = 200):
        """The best (F, x, y) found from ``x`` within ``max_trials`` scored points, or
        None if ``x`` itself is not bilevel feasible."""
        x = np.array(x, dtype=float)
        x[self.switches] = np.round(x[self.switches])
        start = self.score(x)
        if start is None:
            return None
        best = (start[0], x, start[1])
        trials = 0
        improved = True
        while improved and trials < max_trials:
            improved = False
            for move in self._moves(best[1], best[2]):
                trial = best[1].copy()
                for i, v in move:
                    trial[i] = v
                if (trial < self.d.x_lb - FEAS_TOL).any() or (trial > self.d.x_ub + FEAS_TOL).any():
                    continue
                trials += 1
                got = self.score(trial)
                if got is not None and got[0] < best[0] - 1e-9 * max(1.0, abs(best[0])):
                    best = (got[0], trial, got[1])
                    improved = True
                    break
                if trials >= max_trials:
                    break
        return best
