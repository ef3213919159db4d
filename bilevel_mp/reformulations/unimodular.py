"""A proven bound on the follower's LP multipliers when its rows are totally unimodular.

The follower's dual feasible set is ``{λ >= 0, μ : Dᵀλ + Eᵀμ = c}`` with D, E the
y-coefficients of its inequality and equality rows and c the y-coefficients of f. When
the matrix [D; E] is totally unimodular (TU) and c does not depend on x, every vertex of
that set (written in standard form, μ = μ⁺ − μ⁻) is B⁻¹c for a nonsingular square
submatrix B, whose inverse has entries in {0, ±1}; so every multiplier of a vertex is at
most ‖c‖₁ in absolute value. A bounded LP attains its optimum at a vertex, so at every x
where the follower has an optimum, some optimal multipliers lie in the box |λ|, |μ| <= ‖c‖₁:
adding that box to a dualised model keeps its optimum. Network flows (flow conservation,
capacities, bounds) are the common case.

TU is recognised by a sufficient test (Heller & Tompkins 1956): every entry in
{0, ±1}; rows with a single nonzero (bounds) set aside, since adding a unit row keeps TU;
each column of the rest with at most two nonzeros, and the rows split into two classes such
that a column's two nonzeros lie in the same class when their signs differ and in
different classes when they agree.
"""

from __future__ import annotations

from pyomo.repn import generate_standard_repn

from ..problem import BilevelProblem, Constraint

_TOL = 1e-12


def multiplier_bound(problem: BilevelProblem, rows: list[Constraint]) -> float | None:
    """‖c‖₁ when the follower rows ``rows`` (inequalities and equalities, y bounds
    included) have a TU y-coefficient matrix that does not depend on x and f's
    y-coefficients c are constant; None when the test does not prove it."""
    index = {id(v): j for j, v in enumerate(problem.y)}
    cost = _y_coefficients(problem.f, index)
    if cost is None:
        return None
    columns: dict[int, list[tuple[int, float]]] = {}
    for k, c in enumerate(rows):
        coefs = _y_coefficients(c.body, index)
        if coefs is None or any(abs(abs(a) - 1.0) > _TOL for a in coefs.values()):
            return None
        if len(coefs) == 1:
            continue  # a bound: a unit row keeps the matrix TU
        for j, a in coefs.items():
            columns.setdefault(j, []).append((k, 1.0 if a > 0 else -1.0))
    if not _two_classes(columns):
        return None
    return float(sum(abs(a) for a in cost.values()))


def _y_coefficients(expr, index: dict) -> dict | None:
    """{j: coefficient of y_j} of an expression linear in (x, y) (nonzeros only); None when
    a y-coefficient may depend on x (a product of x and y, or anything nonlinear)."""
    if isinstance(expr, (int, float)):
        return {}
    repn = generate_standard_repn(expr, compute_values=True, quadratic=False)
    if not repn.is_linear():
        return None
    out: dict[int, float] = {}
    for v, a in zip(repn.linear_vars, repn.linear_coefs):
        j = index.get(id(v))
        if j is not None:
            out[j] = out.get(j, 0.0) + float(a)
    return {j: a for j, a in out.items() if abs(a) > _TOL}


def _two_classes(columns: dict) -> bool:
    """Whether the rows split as the module docstring says (union-find with parity)."""
    parent: dict[int, int] = {}
    parity: dict[int, int] = {}  # class of a row relative to its parent

    def find(r):
        if r not in parent:
            parent[r], parity[r] = r, 0
            return r, 0
        p, flip = r, 0
        path = []
        while parent[p] != p:
            path.append(p)
            flip ^= parity[p]
            p = parent[p]
        acc = flip
        for q in path:  # path compression with parities relative to the root
            old = parity[q]
            parent[q], parity[q] = p, acc
            acc ^= old
        return p, flip

    for entries in columns.values():
        if len(entries) > 2:
            return False
        if len(entries) < 2:
            continue
        (r1, s1), (r2, s2) = entries
        want = 0 if s1 != s2 else 1  # opposite signs: same class; same signs: different
        (p1, c1), (p2, c2) = find(r1), find(r2)
        if p1 == p2:
            if c1 ^ c2 != want:
                return False
            continue
        parent[p1], parity[p1] = p2, c1 ^ c2 ^ want
    return True


__all__ = ["multiplier_bound"]
