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

import pyomo.environ as pyo
from pyomo.core.expr.calculus.derivatives import Modes, differentiate
from pyomo.repn import generate_standard_repn

from ..core.lifted import HPR, Lifted, lift
from ..errors import BilevelInputError, UnsupportedStructureError
from ..problem import BilevelProblem
from ..structure import Structure
from .complementarity import get_mode


def y_gradient(expr, problem: BilevelProblem, index: dict | None = None) -> list:
    """Gradient of a problem expression with respect to y: read off the linear
    representation when ``expr`` is linear, symbolic otherwise. ``index``: ``{id(y_j): j}``
    (pass it when calling for many expressions)."""
    ys = list(problem.y)
    if isinstance(expr, (int, float)):
        return [0.0] * len(ys)
    repn = generate_standard_repn(expr, compute_values=False, quadratic=False)
    if repn.is_linear():
        index = index if index is not None else {id(v): j for j, v in enumerate(ys)}
        grad = [0.0] * len(ys)
        for v, c in zip(repn.linear_vars, repn.linear_coefs):
            j = index.get(id(v))
            if j is not None:
                grad[j] = grad[j] + c
        return grad
    return differentiate(expr, wrt_list=ys, mode=Modes.reverse_symbolic)


def y_gradient_nonzeros(expr, problem: BilevelProblem, index: dict) -> dict:
    """``{j: ∂expr/∂y_j}`` for the entries that are not a literal zero: a row's few nonzeros
    without a dense list over all of y (``index``: ``{id(y_j): j}``)."""
    if isinstance(expr, (int, float)):
        return {}
    repn = generate_standard_repn(expr, compute_values=False, quadratic=False)
    if repn.is_linear():
        grad: dict = {}
        for v, c in zip(repn.linear_vars, repn.linear_coefs):
            j = index.get(id(v))
            if j is not None:
                grad[j] = grad.get(j, 0.0) + c
        return {j: d for j, d in grad.items() if not _is_zero(d)}
    dense = differentiate(expr, wrt_list=list(problem.y), mode=Modes.reverse_symbolic)
    return {j: d for j, d in enumerate(dense) if not _is_zero(d)}


def _is_zero(e) -> bool:
    return isinstance(e, (int, float)) and e == 0


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
    """

    name = "kkt"
    feastol = None  # SCIP's default feasibility tolerance for the single-level model

    def __init__(self, mode="sos1", modes: dict | None = None, dual_bound=None):
        self.mode = get_mode(mode)
        self.modes = {k: get_mode(v) for k, v in (modes or {}).items()}
        self.dual_bound = dual_bound

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
        if not structure.lower_convex:
            lifted.exact = False
            lifted.assumptions.append(
                "follower problem not proven convex in y: KKT points may not be follower-optimal"
            )
        tightened = lifted.hpr
        slack_ub = lifted.slack_bounds(time_limit)
        ge, eq = add_stationarity(lifted)
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


def add_stationarity(lifted: Lifted):
    """Multipliers (``m.lam`` >= 0 for inequalities, free ``m.mu`` for equalities), the
    stationarity rows of the follower's Lagrangian, and the rows tying the leader's linked
    duals (``m.dual_link``) to them. Returns (inequalities, equalities)."""
    problem, m = lifted.problem, lifted.slm.m
    ge = [c for c in lifted.lower if c.kind == "ge"]
    eq = [c for c in lifted.lower if c.kind == "eq"]
    m.lam = pyo.Var(range(len(ge)), domain=pyo.NonNegativeReals)
    m.mu = pyo.Var(range(len(eq)), domain=pyo.Reals)
    index = {id(v): j for j, v in enumerate(problem.y)}
    if problem.coupled:  # a Nash game: each follower's Lagrangian in its own variables
        owner_of_y, row_owner = problem.y_owners(), problem.row_owners()
        grad = [0.0] * problem.n_y
        for fol in problem.followers:
            own = y_gradient(fol.f, problem, index)
            for j in fol.y:
                grad[j] = lifted.sub(own[j])
    else:
        grad = [lifted.sub(d) for d in y_gradient(problem.f, problem, index)]
    terms = [[g] if not _is_zero(g) else [] for g in grad]
    for mult, cons in ((m.lam, ge), (m.mu, eq)):
        for k, c in enumerate(cons):
            lifted.duals[c.name] = mult[k]
            for j, d in y_gradient_nonzeros(c.body, problem, index).items():
                if problem.coupled and owner_of_y[j] != row_owner[c.name]:
                    continue  # another follower's row: data for the owner of y_j
                terms[j].append(-mult[k] * lifted.sub(d))
    m.stationarity = pyo.ConstraintList()
    for t in terms:
        if t:
            m.stationarity.add(sum(t) == 0)
    if problem.dual_links:  # the leader's DualOf variables are these multipliers
        m.dual_link_rows = pyo.ConstraintList()
        for name in problem.dual_links:
            m.dual_link_rows.add(m.dual_link[name] == lifted.duals[name])
    return ge, eq


def reject_integer_follower(problem: BilevelProblem, method: str) -> None:
    """Methods built on the follower's optimality conditions need continuous y."""
    for j in range(problem.n_y):
        if not problem.y[j].is_continuous():
            raise UnsupportedStructureError(
                f"follower variable {problem.y_names[j]} is integer: method {method!r} rests on the "
                "follower's KKT conditions or duality and needs a continuous lower level; "
                "use method='value_function' (or the default 'auto'), which solves integer followers"
            )
