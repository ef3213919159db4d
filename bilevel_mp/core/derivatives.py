"""First and second derivatives of a problem's functions, by Pyomo's symbolic
differentiation, evaluated at a point (x, y).

Used by the local methods (``algorithms.descent``, ``algorithms.trust_region``) that
linearise the problem around an iterate. Expressions are differentiated once per
problem and cached; evaluation is then plain ``pyo.value``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.calculus.derivatives import Modes, differentiate

from ..problem import BilevelProblem, Constraint


def _grad(expr, wrt: list) -> list:
    if isinstance(expr, (int, float)) or expr.is_constant():
        return [0.0] * len(wrt)
    return differentiate(expr, wrt_list=wrt, mode=Modes.reverse_symbolic)


def _value(e) -> float:
    return float(e) if isinstance(e, (int, float)) else float(pyo.value(e))


class SymbolicFunction:
    """A scalar expression in (x, y) with its gradient and, on demand, its Hessian."""

    def __init__(self, expr, wrt: list, hessian: bool):
        self.expr = expr
        self.grad = _grad(expr, wrt)
        self.hess = [_grad(g, wrt) for g in self.grad] if hessian else None

    def value(self) -> float:
        return _value(self.expr)

    def gradient(self) -> np.ndarray:
        return np.array([_value(g) for g in self.grad])

    def hessian(self) -> np.ndarray:
        return np.array([[_value(h) for h in row] for row in self.hess])


@dataclass
class PointDerivatives:
    """Values and derivatives at one point; gradients are over (x, y) stacked."""

    F: float
    dF: np.ndarray
    f: float
    df: np.ndarray
    Hf: np.ndarray
    G: np.ndarray  # values of the upper constraints (>= 0 or == 0 form)
    dG: np.ndarray  # rows: gradients
    G_eq: np.ndarray  # bool per row: equality
    g: np.ndarray
    dg: np.ndarray
    Hg: np.ndarray  # (rows, n+m, n+m)
    g_eq: np.ndarray
    g_names: list


class Derivatives:
    """Symbolic derivatives of F, f, G and g (follower bounds included in g) of a
    min-form ``BilevelProblem``; ``at(x, y)`` evaluates them all."""

    def __init__(self, problem: BilevelProblem):
        self.problem = problem
        wrt = [problem.x[i] for i in range(problem.n_x)] + [problem.y[j] for j in range(problem.n_y)]
        self.F = SymbolicFunction(problem.F, wrt, hessian=False)
        self.f = SymbolicFunction(problem.f, wrt, hessian=True)
        self.G_rows: list[Constraint] = list(problem.G) + _x_bound_rows(problem)
        self.g_rows: list[Constraint] = list(problem.g) + problem.y_bound_constraints()
        self.G = [SymbolicFunction(c.body, wrt, hessian=False) for c in self.G_rows]
        self.g = [SymbolicFunction(c.body, wrt, hessian=True) for c in self.g_rows]

    def upper_values(self, x, y) -> tuple[float, np.ndarray, np.ndarray]:
        """F (min form), the G rows' values and their equality mask at (x, y): what a
        line search needs, without the derivatives."""
        self.problem.set_point(x, y)
        return (self.F.value(), np.array([s.value() for s in self.G]),
                np.array([c.kind == "eq" for c in self.G_rows], dtype=bool))

    def at(self, x, y) -> PointDerivatives:
        p = self.problem
        p.set_point(x, y)
        n = p.n_x + p.n_y
        return PointDerivatives(
            F=self.F.value(), dF=self.F.gradient(),
            f=self.f.value(), df=self.f.gradient(), Hf=self.f.hessian(),
            G=np.array([s.value() for s in self.G]),
            dG=np.array([s.gradient() for s in self.G]).reshape(len(self.G), n),
            G_eq=np.array([c.kind == "eq" for c in self.G_rows], dtype=bool),
            g=np.array([s.value() for s in self.g]),
            dg=np.array([s.gradient() for s in self.g]).reshape(len(self.g), n),
            Hg=np.array([s.hessian() for s in self.g]).reshape(len(self.g), n, n),
            g_eq=np.array([c.kind == "eq" for c in self.g_rows], dtype=bool),
            g_names=[c.name for c in self.g_rows],
        )


def _x_bound_rows(problem: BilevelProblem) -> list[Constraint]:
    out = []
    for i in range(problem.n_x):
        v = problem.x[i]
        if v.lb is not None:
            out.append(Constraint(f"{problem.x_names[i]} >= {v.lb:g}", v - v.lb, "ge"))
        if v.ub is not None:
            out.append(Constraint(f"{problem.x_names[i]} <= {v.ub:g}", v.ub - v, "ge"))
    return out
