"""Structure detection: what class each level is, so ``method="auto"`` can pick.

The lower level is classified *in y with x held fixed* (that is what the follower
solves); the upper level over (x, y) jointly. A lower level is reported convex only
when that is proven from its algebra: linear, or quadratic with a constant PSD Hessian
in y and constraints linear (or concave quadratic) in y.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
from pyomo.repn import generate_standard_repn

from .cones import follower_cones
from .problem import BilevelProblem, Constraint


@dataclass(frozen=True)
class Structure:
    lower: str  # linear | convex_quadratic | nonconvex_quadratic | nonlinear (in y)
    lower_convex: bool  # proven convex in y for every x: KKT is then exact
    lower_linear_in_xy: bool  # f and g affine jointly in (x, y)
    lower_y_matrix_constant: bool  # y-coefficients of g (and Hessian of f) free of x
    upper: str  # linear | quadratic | nonlinear, over (x, y)
    x_integer: bool
    n_x: int
    n_y: int
    y_integer: bool = False
    leader_y: str = "general"  # y_free | minus_follower | general (see ``leader_use_of_y``)
    lower_rows_x_free: bool = False  # the follower's rows with y do not involve x
    lower_rows_x_binary: bool = False  # the only x in the follower's rows with y are binary
    dual_links: int = 0  # follower multipliers the leader uses (``BilevelProblem.dual_of``)
    nash: bool = False  # several followers in a coupled game (``BilevelProblem.add_follower``)
    lower_cones: int = 0  # follower rows that are second-order cones (``cones.follower_cones``)
    lower_rows_curved: int = 0  # follower inequality rows not affine in y (KKT needs Slater there)

    @property
    def is_continuous_lplp(self) -> bool:
        """Linear leader and follower (jointly in x and y), all variables continuous."""
        return (self.lower_linear_in_xy and self.upper == "linear" and not self.x_integer
                and not self.y_integer)

    @property
    def label(self) -> str:
        """Short class name such as ``LP-LP``, ``MILP-QP``, ``NLP-NLP``."""
        up = {"linear": "LP", "quadratic": "QP", "nonlinear": "NLP"}[self.upper]
        if self.x_integer:
            up = "MI" + up
        low_int = "MI" if self.y_integer else ""
        low = {
            "linear": "LP",
            "convex_quadratic": "QP",
            "nonconvex_quadratic": "NCQP",
            "nonlinear": "NLP",
        }[self.lower]
        if self.lower == "nonlinear" and self.lower_convex:
            low = "SOCP" if self.lower_cones else "CNLP"
        return f"{up}-{low_int}{low}"

    def as_dict(self) -> dict:
        return {**asdict(self), "label": self.label}


@contextmanager
def fixed(var):
    """Temporarily fix every component of an indexed Var (or a list of variables), for
    degree analysis.

    They are fixed at a generic nonzero value (Pyomo folds products with a fixed zero,
    which would hide a term such as x*y**2); values and fixed flags are restored."""
    items = list(var.values()) if hasattr(var, "values") else list(var)  # or a list of them
    saved = [(v.fixed, v.value) for v in items]
    for k, v in enumerate(items):
        v.fix(0.6180339887 + 0.1 * k, skip_validation=True)
    try:
        yield
    finally:
        for v, (was_fixed, value) in zip(items, saved):
            v.set_value(value, skip_validation=True)
            if not was_fixed:
                v.unfix()


def degree(expr) -> int | None:
    """Polynomial degree of a Pyomo expression (None: not a polynomial)."""
    if isinstance(expr, (int, float)):
        return 0
    return expr.polynomial_degree()


def _max_degree(exprs) -> int | None:
    worst = 0
    for e in exprs:
        d = degree(e)
        if d is None:
            return None
        worst = max(worst, d)
    return worst


def y_hessian(expr, problem: BilevelProblem) -> np.ndarray:
    """Constant Hessian in y of an expression of joint degree <= 2."""
    return _hessian(expr, list(problem.model.y.values()))


def joint_hessian(expr, problem: BilevelProblem) -> np.ndarray:
    """Constant Hessian over (x, y) of an expression of joint degree <= 2."""
    return _hessian(expr, list(problem.model.x.values()) + list(problem.model.y.values()))


def _hessian(expr, variables: list) -> np.ndarray:
    """Constant Hessian of ``expr`` over ``variables`` (others' terms are left out)."""
    index = {id(v): k for k, v in enumerate(variables)}
    H = np.zeros((len(variables), len(variables)))
    repn = generate_standard_repn(expr, quadratic=True)
    for (a, b), coef in zip(repn.quadratic_vars, repn.quadratic_coefs):
        i, j = index.get(id(a)), index.get(id(b))
        if i is None or j is None:
            continue
        H[i, j] += coef  # both entries: 2·coef on the diagonal for a square
        H[j, i] += coef
    return H


def is_psd(H: np.ndarray, tol: float = 1e-9) -> bool:
    if H.size == 0:
        return True
    return bool(np.linalg.eigvalsh((H + H.T) / 2).min() >= -tol * max(1.0, np.abs(H).max()))


def detect(problem: BilevelProblem) -> Structure:
    """Classify the problem (see module docstring)."""
    problem.validate()
    lower_cons: list[Constraint] = problem.g
    lower_exprs = [problem.f] + [c.body for c in lower_cons]
    joint_lower = _max_degree(lower_exprs)
    with fixed(problem.x):
        deg_f_y = degree(problem.f)
        deg_g_y = _max_degree(c.body for c in lower_cons)
    joint_upper = _max_degree([problem.F] + [c.body for c in problem.G])

    lower_linear_in_xy = joint_lower is not None and joint_lower <= 1
    # y-coefficients are constant when joint degree of every g is <= 1 and f's x-y
    # cross terms only shift the linear term (joint degree of f <= 2).
    g_joint = _max_degree(c.body for c in lower_cons)
    f_joint = degree(problem.f)
    y_matrix_constant = g_joint is not None and g_joint <= 1 and f_joint is not None and f_joint <= 2

    if deg_f_y is not None and deg_g_y is not None and deg_f_y <= 1 and deg_g_y <= 1:
        lower, convex = "linear", True
    elif (
        deg_f_y is not None
        and deg_f_y <= 2
        and deg_g_y is not None
        and deg_g_y <= 2
        and f_joint is not None
        and f_joint <= 2
        and (g_joint is not None and g_joint <= 2)
    ):
        convex = is_psd(y_hessian(problem.f, problem)) and all(
            c.kind == "ge" and is_psd(-y_hessian(c.body, problem))
            if degree(c.body) == 2
            else True
            for c in lower_cons
        )
        # equality constraints must be affine in y for convexity
        convex = convex and all(
            d <= 1 for d in _degrees_in_y([c.body for c in lower_cons if c.kind != "ge"], problem))
        lower = "convex_quadratic" if convex else "nonconvex_quadratic"
    else:
        lower, convex = "nonlinear", False
    cones = follower_cones(problem) if lower == "nonlinear" else {}
    if cones:
        convex = _convex_with_cones(problem, cones)

    if problem.coupled:  # each follower convex in its own variables, the others' as data
        convex = all(_follower_convex(problem, fol) for fol in problem.followers)

    if joint_upper is not None and joint_upper <= 1:
        upper = "linear"
    elif joint_upper is not None and joint_upper <= 2:
        upper = "quadratic"
    else:
        upper = "nonlinear"

    return Structure(
        lower=lower,
        lower_convex=convex,
        lower_linear_in_xy=lower_linear_in_xy,
        lower_y_matrix_constant=y_matrix_constant,
        upper=upper,
        x_integer=any(problem.x_is_integer()),
        n_x=problem.n_x,
        n_y=problem.n_y,
        y_integer=any(problem.y_is_integer()),
        leader_y=leader_use_of_y(problem, lower),
        lower_rows_x_free=_rows_free_of_x(problem),
        lower_rows_x_binary=_rows_free_of_x(problem, but_binary=True),
        dual_links=len(problem.dual_links),
        nash=problem.coupled,
        lower_cones=len(cones),
        lower_rows_curved=len(curved_rows(problem)),
    )


def _convex_with_cones(problem: BilevelProblem, cones: dict) -> bool:
    """A follower with second-order cone rows proven convex in y: objective quadratic
    (jointly) with a PSD Hessian in y; every row affine in y, concave quadratic, or a cone
    whose t is affine in y (its u are affine by construction)."""
    f_joint = degree(problem.f)
    if f_joint is None or f_joint > 2 or not is_psd(y_hessian(problem.f, problem)):
        return False
    for c in problem.g:
        if c.name in cones:
            if _deg_in_y(cones[c.name].t, problem) > 1:
                return False
        elif _deg_in_y(c.body, problem) > 1:
            if c.kind == "eq" or degree(c.body) != 2 or not is_psd(-y_hessian(c.body, problem)):
                return False
    return True


def _follower_convex(problem: BilevelProblem, fol) -> bool:
    """One follower of a game proven convex in its own y with x and the other followers'
    y fixed: linear, or quadratic (jointly) with a PSD Hessian block of its objective and
    concave quadratic inequality rows."""
    own = list(fol.y)
    others = [v for j, v in enumerate(problem.model.y.values()) if j not in fol.y]
    exprs = [fol.f] + [c.body for c in fol.g]
    with fixed(problem.x), fixed(others):
        degrees = [degree(e) for e in exprs]
    if any(d is None for d in degrees):
        return False
    if max(degrees) <= 1:
        return True
    if any(d is None or d > 2 for d in (degree(e) for e in exprs)):
        return False
    block = np.ix_(own, own)
    if not is_psd(y_hessian(fol.f, problem)[block]):
        return False
    return all(d <= 1 or (c.kind == "ge" and is_psd(-y_hessian(c.body, problem)[block]))
               for c, d in zip(fol.g, degrees[1:]))


def is_binary(var) -> bool:
    """An integer variable with bounds within [0, 1] (Pyomo's ``is_binary`` needs the Binary domain)."""
    return var.is_integer() and var.lb is not None and var.ub is not None and var.lb >= 0 and var.ub <= 1


def _rows_free_of_x(problem: BilevelProblem, but_binary: bool = False) -> bool:
    """The follower's feasible set does not move with x: no row that involves y involves x
    (``but_binary``: no x other than binary ones)."""
    x_ids = {id(v) for v in problem.model.x.values() if not (but_binary and is_binary(v))}
    y_ids = {id(v) for v in problem.model.y.values()}
    return all(_free_of(c.body, x_ids) for c in problem.g if not _free_of(c.body, y_ids))


def leader_use_of_y(problem: BilevelProblem, lower: str = "linear") -> str:
    """How the leader sees y: ``"y_free"`` when neither F nor G involves y (the follower
    only has to have an optimum at x), ``"minus_follower"`` when G is free of y and
    F = -f + h(x) for a follower linear in y (min form: a max-min problem, where every
    optimal response gives the leader the same value), else ``"general"``."""
    ids = {id(v) for v in problem.model.y.values()}
    if not all(_free_of(c.body, ids) for c in problem.G):
        return "general"
    if _free_of(problem.F, ids):
        return "y_free"
    if lower == "linear" and _free_of(problem.F + problem.f, ids):
        return "minus_follower"
    return "general"


def _free_of(expr, ids, tol: float = 1e-12) -> bool:
    """``expr`` does not depend on the variables with ids in ``ids`` (terms that cancel,
    as in F + f for F = -f + h, do not count)."""
    if isinstance(expr, (int, float)):
        return True
    repn = generate_standard_repn(expr, compute_values=True, quadratic=True)
    if any(id(v) in ids for v in repn.nonlinear_vars or ()):
        return False
    if any(id(v) in ids and abs(c) > tol for v, c in zip(repn.linear_vars, repn.linear_coefs)):
        return False
    return not any((id(a) in ids or id(b) in ids) and abs(c) > tol
                   for (a, b), c in zip(repn.quadratic_vars, repn.quadratic_coefs))


def curved_rows(problem: BilevelProblem) -> list[Constraint]:
    """The follower's inequality rows that are not affine in y for fixed x (cones, concave
    quadratics, ...): a KKT model needs Slater's condition on them."""
    rows = [c for c in problem.g if c.kind == "ge"]
    return [c for c, d in zip(rows, _degrees_in_y([c.body for c in rows], problem)) if d > 1]


def _degrees_in_y(exprs, problem) -> list[int]:
    """Polynomial degree in y of each expression with x fixed (99: not a polynomial); x is
    fixed once for all of them."""
    with fixed(problem.x):
        return [99 if d is None else d for d in map(degree, exprs)]


def _deg_in_y(expr, problem) -> int:
    return _degrees_in_y([expr], problem)[0]
