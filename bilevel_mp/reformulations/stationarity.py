"""The follower's optimality system shared by the reformulations (KKT, strong duality,
the follower's dual, Scholtes): gradients in y, multipliers, stationarity rows, and the
conic conditions of second-order cone rows (``cones``)."""

from __future__ import annotations

import pyomo.environ as pyo
from pyomo.core.expr.calculus.derivatives import Modes, differentiate
from pyomo.repn import generate_standard_repn

from ..cones import add_cone
from ..core.lifted import Lifted
from ..problem import BilevelProblem


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


def add_stationarity(lifted: Lifted, cones: dict | None = None, cone_complementarity: bool = True):
    """Multipliers (``m.lam`` >= 0 for inequalities, free ``m.mu`` for equalities), the
    stationarity rows of the follower's Lagrangian, and the rows tying the leader's linked
    duals (``m.dual_link``) to them. Rows named in ``cones`` (``cones.follower_cones``) get
    conic multipliers instead (``add_cone_conditions``; ``cone_complementarity=False``: without
    their complementarity rows, for a reformulation that states optimality otherwise).
    Returns (inequalities, equalities), cone rows left out."""
    problem, m = lifted.problem, lifted.slm.m
    cones = cones or {}
    ge = [c for c in lifted.lower if c.kind == "ge" and c.name not in cones]
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
    if cones:
        add_cone_conditions(lifted, list(cones.values()), terms, index, cone_complementarity)
    m.stationarity = pyo.ConstraintList()
    for t in terms:
        if t:
            m.stationarity.add(sum(t) == 0)
    if problem.dual_links:  # the leader's DualOf variables are these multipliers
        m.dual_link_rows = pyo.ConstraintList()
        for name in problem.dual_links:
            m.dual_link_rows.add(m.dual_link[name] == lifted.duals[name])
    return ge, eq


def add_cone_conditions(lifted: Lifted, cones: list, terms: list, index: dict,
                        complementarity: bool = True) -> None:
    """The conic KKT conditions of rows ``scale·(t − ‖u‖) >= 0``: a multiplier ``σ`` of the
    row (``m.cone_lam``, reported as its dual) and ``w`` (``m.cone_w``) with
    (scale·σ, w) in the second-order cone, stationarity terms ``−scale·σ∇t − Σ wᵢ∇uᵢ``
    appended to ``terms``, complementarity as the Jordan product (scale·σ, w)∘(t, u) = 0:
    ``scale·σ·t + w·u = 0`` and ``scale·σ·uᵢ + t·wᵢ = 0`` (with both vectors in the cone
    the first alone is equivalent, but its tolerance would let w and −u disagree in angle
    by √tol, and y drift along a curved boundary by as much; the second pins the angle to
    tol), and the row itself as a cone over variables (``cones.add_cone``) in place of its
    square-root form (the same set; SCIP bounds the cone better, and MPS/LP files hold it).
    The complementarity is written over those variables."""
    problem, slm, m = lifted.problem, lifted.slm, lifted.slm.m
    m.cone_lam = pyo.Var(range(len(cones)), domain=pyo.NonNegativeReals)
    m.cone_w = pyo.Var([(k, i) for k, c in enumerate(cones) for i in range(len(c.u))], domain=pyo.Reals)
    for k, cone in enumerate(cones):
        lifted.duals[cone.name] = m.cone_lam[k]
        s = cone.scale * m.cone_lam[k]
        w = [m.cone_w[k, i] for i in range(len(cone.u))]
        t, u, _ = add_cone(slm, lifted.sub(cone.t), [lifted.sub(e) for e in cone.u])
        if lifted.rows.get(cone.name) is not None:  # the same set: SCIP (and MPS/LP files) take the cone
            lifted.rows[cone.name].deactivate()
        for j, d in y_gradient_nonzeros(cone.t, problem, index).items():
            terms[j].append(-s * lifted.sub(d))
        for i, ui in enumerate(cone.u):
            for j, d in y_gradient_nonzeros(ui, problem, index).items():
                terms[j].append(-w[i] * lifted.sub(d))
        slm.add(sum(wi * wi for wi in w) <= s * s)
        if not complementarity:
            continue
        slm.add(s * t + sum(wi * e for wi, e in zip(w, u)) == 0)
        for wi, e in zip(w, u):  # the rest of the Jordan product (s, w)∘(t, u) = 0
            slm.add(s * e + t * wi == 0)
