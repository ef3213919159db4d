"""LP-LP bilevel problems as arrays: the canonical form the LP-based algorithms use.

    min  F_x x + F_y y + F_0
    s.t. L_lo <= L [x; y] <= L_hi                       (leader rows, incl. follower rows in x only)
         x_lb <= x <= x_ub
         y in argmin { c y :  A x + D y + r >= 0        (follower inequality rows k, incl. y bounds)
                              E_A x + E_D y + E_r = 0 }  (follower equality rows)

Everything is in minimisation form. Follower rows keep the names ``bilevel_mp`` uses
elsewhere (``g[i]``, ``y[j] >= lb``) so multipliers can be reported by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pyomo.repn import generate_standard_repn

from ..errors import UnsupportedStructureError
from ..problem import BilevelProblem, split_lower
from ..structure import Structure


@dataclass
class LPLPData:
    n_x: int
    n_y: int
    x_lb: np.ndarray
    x_ub: np.ndarray
    y_lb: np.ndarray
    y_ub: np.ndarray
    F_x: np.ndarray
    F_y: np.ndarray
    F_0: float
    L: np.ndarray  # (n_L, n_x + n_y)
    L_lo: np.ndarray
    L_hi: np.ndarray
    A: np.ndarray  # (m, n_x)   follower inequality rows: A x + D y + r >= 0
    D: np.ndarray  # (m, n_y)
    r: np.ndarray  # (m,)
    names: list = field(default_factory=list)
    E_A: np.ndarray | None = None  # (p, n_x) follower equality rows
    E_D: np.ndarray | None = None
    E_r: np.ndarray | None = None
    E_names: list = field(default_factory=list)
    c: np.ndarray | None = None  # follower objective gradient in y (min form)

    @property
    def m(self) -> int:
        return self.A.shape[0]

    @property
    def p(self) -> int:
        return 0 if self.E_A is None else self.E_A.shape[0]


def _linear(expr, index, n, where):
    """(coefficient vector over index, constant) of a linear Pyomo expression."""
    vec = np.zeros(n)
    if isinstance(expr, (int, float)):
        return vec, float(expr)
    repn = generate_standard_repn(expr, compute_values=True)
    if repn.nonlinear_expr is not None or repn.quadratic_vars:
        raise UnsupportedStructureError(f"{where} is not linear")
    for v, coef in zip(repn.linear_vars, repn.linear_coefs):
        j = index.get(id(v))
        if j is None:
            raise UnsupportedStructureError(f"{where} uses a variable that is not x or y")
        vec[j] += float(coef)
    return vec, float(repn.constant)


def check_lplp(problem: BilevelProblem, st: Structure) -> None:
    """Raise ``UnsupportedStructureError`` unless ``problem`` (of structure ``st``) is LP-LP
    with continuous variables."""
    if not (st.lower_linear_in_xy and st.upper == "linear"):
        raise UnsupportedStructureError(
            f"this method needs an LP-LP problem (linear leader and follower); {problem.name} "
            f"is {st.label}")
    if st.x_integer or st.y_integer:
        raise UnsupportedStructureError("this method needs continuous leader and follower variables")


def extract(problem: BilevelProblem) -> LPLPData:
    """Arrays of an LP-LP ``BilevelProblem`` (see module docstring); raises
    ``UnsupportedStructureError`` on a term that is not linear."""
    nx, ny = problem.n_x, problem.n_y
    nz = nx + ny
    index = {id(problem.x[i]): i for i in range(nx)}
    index.update({id(problem.y[j]): nx + j for j in range(ny)})

    def bounds(var, n):
        lb = np.array([-np.inf if var[i].lb is None else float(var[i].lb) for i in range(n)])
        ub = np.array([np.inf if var[i].ub is None else float(var[i].ub) for i in range(n)])
        return lb, ub

    x_lb, x_ub = bounds(problem.x, nx)
    y_lb, y_ub = bounds(problem.y, ny)
    Fv, F0 = _linear(problem.F, index, nz, "the upper-level objective")
    fv, _ = _linear(problem.f, index, nz, "the lower-level objective")
    lower, x_only = split_lower(problem)  # lower: rows with y + y bounds
    L, L_lo, L_hi = [], [], []
    for con in list(problem.G) + x_only:
        a, r0 = _linear(con.body, index, nz, con.name)
        if not a.any():
            if (con.kind == "eq" and abs(r0) > 1e-9) or (con.kind == "ge" and r0 < -1e-9):
                # a constant constraint that fails: keep an infeasible row so the LP says so
                L.append(np.zeros(nz))
                L_lo.append(1.0)
                L_hi.append(1.0 if con.kind == "eq" else np.inf)
            continue
        L.append(a)
        L_lo.append(-r0)
        L_hi.append(-r0 if con.kind == "eq" else np.inf)
    rows, eqs = [], []
    for con in lower:
        a, r0 = _linear(con.body, index, nz, con.name)
        (eqs if con.kind == "eq" else rows).append((con.name, a, r0))

    def stack(items, k0, k1):
        if not items:
            return np.zeros((0, k1 - k0))
        return np.array([a[k0:k1] for _, a, _ in items])

    data = LPLPData(
        n_x=nx, n_y=ny, x_lb=x_lb, x_ub=x_ub, y_lb=y_lb, y_ub=y_ub,
        F_x=Fv[:nx], F_y=Fv[nx:], F_0=F0,
        L=np.array(L).reshape(len(L), nz), L_lo=np.array(L_lo, dtype=float),
        L_hi=np.array(L_hi, dtype=float),
        A=stack(rows, 0, nx), D=stack(rows, nx, nz), r=np.array([r0 for _, _, r0 in rows], dtype=float),
        names=[nm for nm, _, _ in rows],
        E_A=stack(eqs, 0, nx), E_D=stack(eqs, nx, nz), E_r=np.array([r0 for _, _, r0 in eqs], dtype=float),
        E_names=[nm for nm, _, _ in eqs],
        c=fv[nx:],
    )
    return data
