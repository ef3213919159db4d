"""KKT reformulation: replace the follower's problem by its optimality conditions.

    grad_y f(x, y) - sum_j lambda_j grad_y g_j(x, y) - sum_k mu_k grad_y h_k(x, y) = 0
    g(x, y) >= 0,  h(x, y) = 0,  lambda >= 0,  lambda_j * g_j(x, y) = 0

Exact when the follower's problem is convex in y (linear constraints, or a Slater
point), which ``structure.detect`` proves or refutes; for a nonconvex follower a KKT
point need not be optimal and the result is marked inexact. Gradients come from
Pyomo's symbolic differentiation. The complementarity is written by a mode
(``complementarity.py``), chosen for all pairs or per follower constraint by name.
"""

from __future__ import annotations

import math

from ..backends import scip
from ..core.bounds import share
from ..core.lifted import HPR, Lifted, lift
from ..errors import BilevelInputError, UnsupportedStructureError
from ..cones import follower_cones
from ..problem import BilevelProblem
from ..structure import Structure
from .complementarity import get_mode
from .slater import multiplier_bound, slater_margin
from .stationarity import add_stationarity
from .strong_duality import StrongDuality


class KKT:
    """KKT reformulation with complementarity ``mode`` (default SOS1).

    Parameters
    ----------
    mode : "sos1" | "indicator" | "bigm" | "product" | Mode
        How complementarity is written, for every pair not named in ``modes``.
    modes : dict, optional
        Per follower constraint (by name, e.g. ``"g[2]"`` or ``"y[0] >= 0"``) mode.
    dual_bound : float or dict, optional
        Bound on the follower's multipliers for big-M pairs. It is the user's claim:
        a big-M result is then reported as resting on it, never as proven optimal.
    check_slater : bool
        Prove Slater's condition for curved follower rows first (``slater``); without
        the proof the model is not exact. Off only for the check's own model.
    """

    name = "kkt"
    feastol = None  # SCIP's default feasibility tolerance for the single-level model

    def __init__(self, mode="sos1", modes: dict | None = None, dual_bound=None,
                 check_slater: bool = True):
        self.mode = get_mode(mode)
        self.modes = {k: get_mode(v) for k, v in (modes or {}).items()}
        self.dual_bound = dual_bound
        self.check_slater = check_slater

    def accepts(self, structure: Structure) -> bool:
        return structure.lower in ("linear", "convex_quadratic", "nonconvex_quadratic", "nonlinear")

    @property
    def mode_label(self) -> str:
        """The modes in use, e.g. ``"sos1"`` or ``"bigm+sos1"``."""
        return "+".join(sorted({self.mode.name} | {m.name for m in self.modes.values()}))

    def apply(self, problem: BilevelProblem, structure: Structure,
              time_limit: float | None = None, cache: HPR | None = None) -> Lifted:
        lifted = lift(problem, "kkt", "kkt", time_limit=time_limit, cache=cache)
        unknown = set(self.modes) - {c.name for c in lifted.lower}
        if unknown:
            raise BilevelInputError(
                f"modes names follower constraints that do not exist: {sorted(unknown)}; "
                f"known: {[c.name for c in lifted.lower]}"
            )
        margin = None
        if not structure.lower_convex:
            lifted.exact = False
            lifted.complete = not structure.lower_rows_curved  # curved rows: no CQ either
            lifted.assumptions.append(
                "follower problem not proven convex in y: KKT points may not be follower-optimal"
            )
        elif self.check_slater:
            margin, unproven = slater_margin(problem, time_limit, exact_check, x_box(lifted))
            if unproven:
                lifted.exact = lifted.complete = False
                lifted.assumptions.append(unproven)
        tightened = lifted.hpr
        slack_ub = lifted.slack_bounds(time_limit)
        cones = follower_cones(problem) if structure.lower_cones and not problem.coupled else {}
        named = sorted((set(self.modes) | set(self.dual_bound if isinstance(self.dual_bound, dict) else ()))
                       & set(cones))
        if named:
            raise BilevelInputError(
                f"modes / dual_bound name second-order cone rows {named}: a cone's complementarity is "
                "conic (its Jordan product), not a scalar pair; name scalar rows only")
        # a strongly convex follower's y is off by √(the tolerance of its optimality): with
        # SCIP's default 1e-6 on the conic conditions, y drifts by ~1e-5 and buys F as much
        self.feastol = scip.TIGHT_FEASTOL if cones else None
        ge, eq = add_stationarity(lifted, cones)
        if cones and margin is not None:
            _bound_cone_multipliers(lifted, list(cones.values()), margin, time_limit)
        slm, m = lifted.slm, lifted.slm.m
        for k, c in enumerate(ge):
            mode = self.modes.get(c.name, self.mode)
            lifted.assumptions += mode.add(
                slm, k, lifted.sub(c.body), m.lam[k], c.name,
                slack_ub.get(c.name, float("inf")), self._dual_bound(c.name),
            )
            if not mode.exact:
                lifted.exact = False
        loose = [c.name for c in ge if not math.isfinite(slack_ub.get(c.name, math.inf))]
        uses_indicator = any(
            self.modes.get(c.name, self.mode).name == "indicator" for c in ge)
        if uses_indicator and (loose or tightened["unbounded"]):
            # SCIP's indicator handler was seen to return a wrong 'optimal' on an
            # unbounded problem (BOLIB TuyEtal2007Ex3); do not claim a proof there
            lifted.exact = False
            lifted.assumptions.append(
                "indicator constraints on unbounded slacks/variables "
                f"({', '.join((loose + tightened['unbounded'])[:5])}): optimality not proven")
        return lifted

    def _dual_bound(self, name):
        if isinstance(self.dual_bound, dict):
            return self.dual_bound.get(name)
        return self.dual_bound


def x_box(lifted: Lifted) -> list:
    """The bounds on x of a lifted model (the high-point relaxation's, once tightened)."""
    return [(v.lb, v.ub) for v in lifted.slm.m.x.values()]


def exact_check(structure: Structure):
    """The exact reduction that solves a Slater check (``slater.margin_problem``): strong
    duality for cones (its products are with x only), else KKT."""
    if structure.lower_cones and StrongDuality(cones=True).accepts(structure):
        return StrongDuality(cones=True)
    return KKT(check_slater=False)


def _bound_cone_multipliers(lifted: Lifted, cones: list, margin: float, time_limit) -> None:
    """Bounds from Slater's margin (``slater.multiplier_bound``) on the cone multipliers
    and the follower's box on y: without them SCIP's relaxations of the complementarity
    products σ·t and w·u are unbounded and its bound does not move."""
    bound, box = multiplier_bound(lifted.problem, margin, time_limit and share(time_limit))
    m = lifted.slm.m
    if box is not None:
        for j, (lo, hi) in enumerate(box):
            v = m.y[j]
            v.setlb(lo if v.lb is None else max(v.lb, lo))
            v.setub(hi if v.ub is None else min(v.ub, hi))
    if bound is None:
        return
    for k, cone in enumerate(cones):
        m.cone_lam[k].setub(bound)
        for i in range(len(cone.u)):
            m.cone_w[k, i].setlb(-cone.scale * bound)
            m.cone_w[k, i].setub(cone.scale * bound)


def reject_integer_follower(problem: BilevelProblem, method: str) -> None:
    """Methods built on the follower's optimality conditions need continuous y."""
    for j in range(problem.n_y):
        if not problem.y[j].is_continuous():
            raise UnsupportedStructureError(
                f"follower variable {problem.y_names[j]} is integer: method {method!r} rests on the "
                "follower's KKT conditions or duality and needs a continuous lower level; "
                "use method='value_function' (or the default 'auto'), which solves integer followers"
            )
