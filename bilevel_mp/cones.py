"""Second-order cone rows of the follower, read from the algebra the user wrote.

A follower row ``c·t(x, y) − c·sqrt(q(x, y)) >= 0`` (c > 0; Pyomo: ``sqrt(q) <= t``,
``q**0.5 <= t``) whose ``q`` is a sum of squares of affine functions of (x, y) is the
second-order cone constraint

    ‖u(x, y)‖₂ <= t(x, y),      q = ‖u‖²,

convex in y whenever t is affine in y for fixed x (``structure.detect`` checks that).
``q`` is read as a quadratic form over (x, y, 1): squares of affine terms are taken as
written, any other PSD form is factored (eigen-decomposition). The KKT method writes
such a row by its conic conditions (``reformulations.stationarity``): a multiplier (s, w)
in the same cone, stationarity with ``−s∇t − Σ wᵢ∇uᵢ``, and the complementarity
(s, w)∘(t, u) = 0, which hold at the cone's apex where the row's gradient does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr import numeric_expr as ne
from pyomo.repn import generate_standard_repn

from .problem import BilevelProblem, Constraint, involves

PSD_TOL = 1e-10  # relative: eigenvalues of q's form above −PSD_TOL·max|entry| count as ≥ 0


@dataclass(frozen=True)
class Cone:
    """A follower row ``body = scale·(t − ‖u‖) >= 0`` (``scale`` > 0)."""

    name: str
    scale: float
    t: object  # Pyomo expression over the problem's variables
    u: tuple  # Pyomo expressions, affine in (x, y)


def follower_cones(problem: BilevelProblem) -> dict[str, Cone]:
    """The follower's rows that are second-order cones in y, by row name: a cone whose u
    has no y (``‖u(x)‖ <= t``) is affine in y and stays an ordinary row (read once per
    set of rows: the answer is kept on the problem until its rows change)."""
    key = tuple(id(c) for c in problem.g)
    cached = getattr(problem, "_cones", None)
    if cached is not None and cached[0] == key:
        return dict(cached[1])
    out = {}
    ys = {id(v) for v in problem.y.values()}
    for c in problem.g:
        if c.kind == "ge" and involves(c.body, ys):
            cone = soc_row(c)
            if cone is not None and any(involves(e, ys) for e in cone.u):
                out[c.name] = cone
    problem._cones = (key, out)
    return dict(out)


def add_cone(slm, t, u: list):
    """Add ``‖u‖ <= t`` to a ``SingleLevelModel`` as ``Σ vᵢ² <= s²`` over new variables
    s >= 0, vᵢ tied to t and u (the form SCIP's second-order cone handler detects; over
    expressions it was seen to time out at tight tolerances); returns (s, [vᵢ], the row)."""
    m = slm.m
    if not hasattr(m, "soc_t"):
        m.soc_t = pyo.Var(pyo.Any, dense=False, domain=pyo.NonNegativeReals)
        m.soc_u = pyo.Var(pyo.Any, dense=False, domain=pyo.Reals)
    k = len(m.soc_t)
    s = m.soc_t[k]
    slm.add(s == t)
    v = []
    for i, e in enumerate(u):
        v.append(m.soc_u[k, i])
        slm.add(v[-1] == e)
    return s, v, slm.add(sum(vi * vi for vi in v) <= s * s)


def soc_row(c: Constraint) -> Cone | None:
    """The cone form of ``c`` (see module docstring), or None if it has none."""
    if isinstance(c.body, (int, float)):
        return None
    repn = generate_standard_repn(c.body, quadratic=False, compute_values=False)
    if repn.nonlinear_expr is None:
        return None
    nl = repn.nonlinear_expr
    terms = list(nl.args) if isinstance(nl, ne.SumExpression) else [nl]
    found, rest = None, []
    for term in terms:
        hit = _sqrt_term(term)
        if hit is None:
            rest.append(term)
        elif found is not None:
            return None  # two square roots: not one cone
        else:
            found = hit
    if found is None or found[0] >= 0:
        return None
    coef, q = found
    u = _factor(q)
    if u is None:
        return None
    scale = -coef
    linear = repn.constant + sum(cf * v for cf, v in zip(repn.linear_coefs, repn.linear_vars))
    t = linear + sum(rest)
    return Cone(c.name, scale, t if scale == 1.0 else t / scale, tuple(u))


def _sqrt_term(e):
    """``(coef, q)`` when ``e`` is ``coef·sqrt(q)`` with a constant coef, else None."""
    if isinstance(e, ne.UnaryFunctionExpression) and e.getname() == "sqrt":
        return 1.0, e.args[0]
    if isinstance(e, ne.PowExpression) and _constant(e.args[1]) and pyo.value(e.args[1]) == 0.5:
        return 1.0, e.args[0]
    if isinstance(e, ne.NegationExpression):
        hit = _sqrt_term(e.args[0])
        return None if hit is None else (-hit[0], hit[1])
    if isinstance(e, ne.DivisionExpression) and _constant(e.args[1]):
        hit = _sqrt_term(e.args[0])
        return None if hit is None else (hit[0] / float(pyo.value(e.args[1])), hit[1])
    if isinstance(e, ne.ProductExpression):
        a, b = e.args
        for k, other in ((a, b), (b, a)):
            if _constant(k):
                hit = _sqrt_term(other)
                return None if hit is None else (float(pyo.value(k)) * hit[0], hit[1])
    return None


def _constant(e) -> bool:
    return isinstance(e, (int, float)) or not e.is_potentially_variable()


def _factor(q) -> list | None:
    """Affine ``u`` with ``‖u‖² = q``, or None when ``q`` is not such a form."""
    if isinstance(q, (int, float)):
        return None
    terms = list(q.args) if isinstance(q, ne.SumExpression) else [q]
    squares = [t.args[0] for t in terms if isinstance(t, ne.PowExpression)
               and _constant(t.args[1]) and pyo.value(t.args[1]) == 2 and _affine(t.args[0])]
    if len(squares) == len(terms):
        return squares
    return _eigen_factor(q)


def _affine(e) -> bool:
    if isinstance(e, (int, float)):
        return True
    d = e.polynomial_degree()
    return d is not None and d <= 1


def _eigen_factor(q) -> list | None:
    """Factor q = [z; 1]ᵀ M [z; 1] with M PSD as Σₖ (√λₖ vₖᵀ[z; 1])²."""
    repn = generate_standard_repn(q, quadratic=True, compute_values=True)
    if repn.nonlinear_expr is not None or not repn.quadratic_vars:
        return None
    index: dict = {}
    variables = []
    for v in list(repn.linear_vars) + [w for pair in repn.quadratic_vars for w in pair]:
        if id(v) not in index:
            index[id(v)] = len(variables)
            variables.append(v)
    n = len(variables)
    M = np.zeros((n + 1, n + 1))
    M[n, n] = float(repn.constant)
    for v, cf in zip(repn.linear_vars, repn.linear_coefs):
        i = index[id(v)]
        M[i, n] += cf / 2
        M[n, i] += cf / 2
    for (a, b), cf in zip(repn.quadratic_vars, repn.quadratic_coefs):
        i, j = index[id(a)], index[id(b)]
        M[i, j] += cf / 2
        M[j, i] += cf / 2
    lam, V = np.linalg.eigh(M)
    tol = PSD_TOL * max(1.0, float(np.abs(M).max()))
    if lam.min() < -tol:
        return None
    u = []
    for k in np.flatnonzero(lam > tol):
        w = np.sqrt(lam[k]) * V[:, k]
        u.append(float(w[n]) + sum(float(w[i]) * variables[i] for i in range(n) if w[i] != 0.0))
    return u or None
