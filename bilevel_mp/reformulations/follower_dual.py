"""The follower replaced by its LP dual, for leaders that see y only through −f.

Two structures (``structure.leader_use_of_y``), both with a follower linear in y
(``f = c(x)ᵀy + f(x, 0)``, rows ``g(x, y) = G_y y + g(x, 0) >= 0`` and ``h(x, y) = 0``):

* ``"y_free"``: F and G do not involve y. The follower only has to have an optimum at x,
  which for an LP means a primal and a dual feasible point:

      min F(x)  s.t.  G(x) >= 0,  g(x, y) >= 0, h(x, y) = 0,  λ >= 0,  c(x) = G_yᵀλ + H_yᵀμ

* ``"minus_follower"`` (max–min): G does not involve y and F = −f + h(x). Every optimal
  response gives the leader h(x) − φ(x) with φ(x) the follower's optimal value, and by LP
  duality φ(x) = max over dual-feasible (λ, μ) of f(x, 0) − λᵀg(x, 0) − μᵀh(x, 0):

      min h(x) − f(x, 0) + λᵀg(x, 0) + μᵀh(x, 0)   over the same rows

  (the rows with y keep x where the follower is infeasible out: there the dual would be
  unbounded). This is Israeli & Wood's (2002) dualised interdiction model, built from any
  user model. The objective is linear when the follower's rows do not move with x (a
  MILP for HiGHS). Otherwise it has products ``λ_k·x_i``, accepted for binary x_i only:
  each is written exactly by an indicator constraint (no bound on λ needed, see
  ``_times_row``; SCIP). With continuous x in the follower's rows use ``kkt``.

For ``"y_free"`` with every y bounded (by the problem or by bound tightening), the dual
block is left out: a feasible LP over a bounded set has an optimum, so the follower's rows
having a point at x is all the model must ask.

When the follower's rows do not involve x (``Structure.lower_rows_x_free``: shortest-path
interdiction, where x only lengthens arcs), their feasibility is the same at every x: it is
checked once by an LP, and when they have a point the primal block (y and its rows) is left
out of the model, which is then exactly Israeli & Wood's model (half the size).

No complementarity is written and no big-M is used: the model's optimum is the bilevel
optimum. Its y is only follower-feasible (or, with the primal block left out, not
constrained at all); the method replaces it by the follower's optimum re-solved at x
(every optimal response gives the leader the same F).
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
from pyomo.repn import generate_standard_repn

from ..backends import solve_single_level
from ..backends.single_level import Indicator, Substitution
from ..core.certify import follower_model
from ..core.lifted import HPR, Lifted, lift
from ..errors import UnsupportedStructureError
from ..problem import BilevelProblem
from ..structure import Structure, is_binary
from .stationarity import add_stationarity
from .unimodular import multiplier_bound

STRUCTURES = ("y_free", "minus_follower")


class FollowerDual:
    """Primal and dual feasibility of the follower; for a max–min leader the follower's
    dual objective in F (see module docstring)."""

    name = "follower_dual"
    mode_label = None
    feastol = None  # the back end's default tolerance: the model has no complementarity

    def accepts(self, structure: Structure) -> bool:
        """Linear continuous follower, leader y-free or max–min; for max–min the follower's
        rows move with binary x only (a product of a multiplier and a continuous x has no
        exact linear form without a bound on the multiplier)."""
        if structure.lower != "linear" or structure.y_integer or structure.leader_y not in STRUCTURES:
            return False
        return structure.leader_y == "y_free" or structure.lower_rows_x_binary

    def apply(self, problem: BilevelProblem, structure: Structure,
              time_limit: float | None = None, cache: HPR | None = None) -> Lifted:
        if not self.accepts(structure):
            raise UnsupportedStructureError(
                "follower_dual needs a continuous follower linear in y and a leader that sees y "
                f"only through -f (F and G free of y, or F = -f + h(x)); this one is "
                f"{structure.label}, leader {structure.leader_y}")
        # bounds only serve the y_free test of a bounded follower (_y_boxed)
        lifted = lift(problem, self.name, self.name, time_limit=time_limit, cache=cache,
                      missing_only=True, tighten=structure.leader_y == "y_free")
        lifted.slm.big_m = False  # no complementarity, no big-M: HiGHS's own integrality tolerance
        if (structure.leader_y == "y_free" and not problem.dual_links and not problem.coupled
                and _y_boxed(lifted)):  # (a game's equilibrium need not exist: keep its conditions)
            # a feasible LP over a bounded set has an optimum: the dual block proves nothing
            lifted.slm.notes.append("every follower variable is bounded (after bound tightening), so the "
                                    "follower has an optimum wherever its rows have a point: its dual "
                                    "block is left out of the model")
            ge = eq = ()
        else:
            ge, eq = add_stationarity(lifted)
        if not problem.coupled:  # a game's rows stay: they couple the followers
            if structure.lower_rows_x_free and _rows_have_a_point(lifted, time_limit):
                _leave_out_primal_block(lifted)  # the same at every x, and satisfiable
                lifted.slm.notes.append("the follower's rows do not involve x and have a point (the high-point "
                                        "relaxation's, or one LP's): its primal block is left out of the model")
            elif not structure.lower_rows_x_free and _origin_feasible_everywhere(lifted):
                _leave_out_primal_block(lifted)
                lifted.slm.notes.append("y = 0 satisfies the follower's rows at every x in the leader's box: its "
                                        "primal block is left out of the model")
        if structure.leader_y == "minus_follower":
            m = lifted.slm.m
            at_zero_y = Substitution({id(problem.y[j]): 0.0 for j in range(problem.n_y)})
            # h(x) - f(x, 0) = F(x, 0), since F + f = h does not depend on y
            h_minus_f0 = lifted.sub(at_zero_y(problem.F))
            bound = None
            if not structure.lower_rows_x_free and not problem.dual_links and not problem.coupled:
                bound = multiplier_bound(problem, list(ge) + list(eq))
            if bound is not None:
                for v in list(m.lam.values()) + list(m.mu.values()):
                    v.setub(bound)
                for v in m.mu.values():
                    v.setlb(-bound)
                lifted.slm.notes.append(
                    f"the follower's rows are totally unimodular: some optimal multipliers are at most "
                    f"||c||_1 = {bound:g} (a vertex of its dual), so each multiplier-times-binary product "
                    "is written with that bound (linear rows)")
            terms = [_times_row(lifted, m.lam[k], lifted.sub(at_zero_y(c.body)), bound)
                     for k, c in enumerate(ge)]
            terms += [_times_row(lifted, m.mu[k], lifted.sub(at_zero_y(c.body)), bound, free=True)
                      for k, c in enumerate(eq)]
            m.del_component(m.obj)
            lifted.slm.minimize(h_minus_f0 + sum(terms))
        return lifted


def _y_boxed(lifted: Lifted) -> bool:
    """Whether every y of the model has a finite lower and upper bound. The bounds are the
    problem's or proven over the high-point relaxation; with G free of y, the follower's
    feasible set at every leader-feasible x lies in that box."""
    return all(v.lb is not None and v.ub is not None for v in lifted.slm.m.y.values())


def _leave_out_primal_block(lifted: Lifted) -> None:
    """Deactivate the follower's rows in the model (y then appears in no row)."""
    for row in lifted.rows.values():
        if row is not None:
            row.deactivate()


def _origin_feasible_everywhere(lifted: Lifted) -> bool:
    """Whether y = 0 satisfies every follower row (y bounds included) at every x in the
    model's x box: each inequality's body at y = 0 is linear in x with its minimum over
    the box >= 0, each equality's body at y = 0 is the constant 0. Then the follower is
    feasible at every x and its primal block proves nothing."""
    problem = lifted.problem
    at_zero_y = Substitution({id(v): 0.0 for v in problem.y.values()})
    box = {id(problem.x[i]): (v.lb, v.ub) for i, v in lifted.slm.m.x.items()}
    for c in lifted.lower:
        body = at_zero_y(c.body)
        if isinstance(body, (int, float)):
            low, high, linear = float(body), float(body), True
        else:
            repn = generate_standard_repn(body, compute_values=True, quadratic=False)
            linear = repn.is_linear()
            low = high = float(repn.constant) if linear else 0.0
            for v, a in zip(repn.linear_vars, repn.linear_coefs) if linear else ():
                lb, ub = box.get(id(v), (None, None))
                a = float(a)
                if a == 0.0:
                    continue
                if lb is None or ub is None:
                    return False
                low += min(a * lb, a * ub)
                high += max(a * lb, a * ub)
        if not linear or low < 0.0 or (c.kind == "eq" and high != 0.0):
            return False
    return True


def _rows_have_a_point(lifted: Lifted, time_limit: float | None) -> bool:
    """Whether the follower's rows (with their y bounds) have a point, when they do not
    involve x: the high-point relaxation's point when bound tightening found one (its y
    satisfies them), else one feasibility LP (x is only data there, so any x will do).
    False when neither proves it (then the primal block stays in the model)."""
    if lifted.hpr.get("point") is not None:
        return True
    slm, _ = follower_model(lifted.problem, np.zeros(lifted.problem.n_x))  # x: data the rows do not read
    slm.objective = None  # feasibility only: the objective moves with x
    out = solve_single_level(slm, time_limit=None if time_limit is None else min(10.0, time_limit))
    return out.status == "optimal"


def _times_row(lifted: Lifted, mult, body, bound: float | None = None, free: bool = False):
    """``mult * body`` (body = g_k(x, 0) or h_k(x, 0)) for a minimised objective, with each
    product of the multiplier and a binary x_i written exactly (``_times_binary``); other x
    terms stay products (SCIP). ``free``: an equality row's multiplier (any sign), whose
    products need a ``bound`` (without one they stay products)."""
    if isinstance(body, (int, float)) or (free and bound is None):
        return mult * body
    repn = generate_standard_repn(body, compute_values=True, quadratic=False)
    if not repn.is_linear():
        return mult * body
    out = mult * float(repn.constant)
    for v, c in zip(repn.linear_vars, repn.linear_coefs):
        c = float(c)
        if c == 0.0:
            continue
        out = out + (_times_binary(lifted, mult, v, c, bound, free) if is_binary(v) else c * mult * v)
    return out


def _times_binary(lifted: Lifted, mult, v, c: float, bound: float | None, free: bool):
    """A linear form of c·mult·v (v binary) over a new variable w.

    mult = lam >= 0: c·w with w >= 0 and ``v = 1 -> lam <= w`` when c > 0, c·lam + |c|·w
    with ``v = 0 -> lam <= w`` when c < 0 (minimising drives w to lam·v, resp.
    lam·(1 - v)); the implication is an indicator (SCIP) without a bound on lam, and the
    row ``w >= lam - bound·(1 - v)``, resp. ``w >= lam - bound·v``, with a proven one.
    mult = mu free, |mu| <= bound: c·w with w = mu·v held exactly by w <= bound·v,
    w >= -bound·v, w <= mu + bound·(1 - v), w >= mu - bound·(1 - v)."""
    slm, m = lifted.slm, lifted.slm.m
    if not hasattr(m, "dual_times_x"):
        m.dual_times_x = pyo.VarList(domain=pyo.Reals)
    w = m.dual_times_x.add()
    if bound is not None:
        slm.big_m = True  # a bound times a binary: HiGHS keeps integers to 1e-9
    if free:
        for row in (w <= bound * v, w >= -bound * v, w <= mult + bound * (1 - v), w >= mult - bound * (1 - v)):
            slm.add(row)
        return c * w
    w.setlb(0.0)
    if bound is None:
        slm.indicators.append(Indicator(v, 1 if c > 0 else 0, mult - w))
    else:
        slm.add(w >= mult - bound * (1 - v) if c > 0 else w >= mult - bound * v)
    return c * w if c > 0 else c * mult - c * w


__all__ = ["FollowerDual", "STRUCTURES"]
