"""The answer of every method: values, status, how it was obtained, and its certificate."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STATUSES = (
    "optimal",  # proven global optimum, lower level certified optimal at x
    "locally_optimal",  # local method converged, lower level certified at x
    "feasible",  # bilevel-feasible and certified, optimality not proven
    "infeasible",
    "unbounded",
    "lower_level_unbounded",
    "time_limit",
    "error",
)


@dataclass
class Certificate:
    """The follower's problem re-solved at the returned x.

    ``ll_gap`` = f(x, y) - min_y' f(x, y') in minimisation form (>= 0 up to tolerance);
    ``exact`` says the re-solve was to proven global optimality."""

    ll_value: float | None = None
    ll_optimal_value: float | None = None
    ll_gap: float | None = None
    ll_status: str = "not_run"
    exact: bool = False
    solver: str = ""
    upper_violation: float = 0.0
    lower_violation: float = 0.0
    certified: bool = False
    message: str = ""
    y_best: list | None = None  # the follower's optimal response from the re-solve
    duals: dict = field(default_factory=dict)  # follower constraint name -> multiplier (LP)


@dataclass
class Iteration:
    """One entry of ``BilevelResult.history``; methods log subclasses with more fields."""

    k: int
    F: float | None
    seconds: float


@dataclass
class BilevelResult:
    """Result of ``bilevel_mp.solve``. Objective values are in the user's senses."""

    name: str
    status: str
    method: str  # the method= name that was asked for (a key of bilevel_mp.METHODS)
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    F: float | None = None
    f: float | None = None
    bound: float | None = None  # proven bound on F (lower for min), when the method gives one
    duals: dict = field(default_factory=dict)  # follower constraint name -> multiplier
    certificate: Certificate = field(default_factory=Certificate)
    structure: str = ""
    solver: str = ""  # back end of the method's main solves (a key of backends.BACKENDS), "" if none
    mode: str | None = None  # complementarity mode(s) of a KKT model, e.g. "sos1", "bigm+sos1"
    found_by: str = ""  # the method whose point is returned (auto: the stage that found it)
    seconds: float = 0.0
    optimistic: bool = True
    assumptions: list = field(default_factory=list)
    message: str = ""
    history: list = field(default_factory=list)  # per-iteration log of iterative methods (Iteration)

    @property
    def ll_gap(self):
        return self.certificate.ll_gap

    @property
    def certified(self) -> bool:
        return self.certificate.certified

    def to_dict(self) -> dict:
        """The fixed result fields (name, status, method, F, f, x, y, ll_gap, certified,
        seconds) plus details, all JSON-serialisable."""
        c = self.certificate
        return {
            "name": self.name,
            "status": self.status,
            "method": self.method,
            "mode": self.mode,
            "found_by": self.found_by or self.method,
            "F": _num(self.F),
            "f": _num(self.f),
            "x": None if self.x is None else [float(v) for v in self.x],
            "y": None if self.y is None else [float(v) for v in self.y],
            "ll_gap": _num(c.ll_gap),
            "certified": bool(c.certified),
            "seconds": round(float(self.seconds), 4),
            "bound": _num(self.bound),
            "structure": self.structure,
            "solver": self.solver,
            "optimistic": self.optimistic,
            "assumptions": list(self.assumptions),
            "message": self.message,
            "iterations": len(self.history) if self.history else None,
            "certificate": {
                "ll_status": c.ll_status,
                "ll_value": _num(c.ll_value),
                "ll_optimal_value": _num(c.ll_optimal_value),
                "exact": c.exact,
                "solver": c.solver,
                "upper_violation": _num(c.upper_violation),
                "lower_violation": _num(c.lower_violation),
                "message": c.message,
            },
            "duals": {k: _num(v) for k, v in self.duals.items()},
        }

    def summary(self) -> str:
        how = self.method + (f" [{self.mode}]" if self.mode else "")
        if self.found_by and self.found_by != self.method:
            how += f" via {self.found_by}"
        lines = [f"{self.name}: {self.status}  (method {how}, {self.structure}, {self.seconds:.2f} s)"]
        if self.F is not None:
            lines.append(f"  F = {self.F:.6g}   f = {self.f:.6g}" + (
                f"   bound = {self.bound:.6g}" if self.bound is not None else ""))
        if self.x is not None:
            lines.append(f"  x = {np.array2string(self.x, precision=6)}")
            lines.append(f"  y = {np.array2string(self.y, precision=6)}")
        c = self.certificate
        gap = "n/a" if c.ll_gap is None else f"{c.ll_gap:.3g}"
        lines.append(f"  certificate: {'certified' if c.certified else 'NOT certified'}, lower-level gap {gap} "
                     f"({c.ll_status}, {c.solver})")
        for a in self.assumptions:
            lines.append(f"  assumes: {a}")
        if self.message:
            lines.append(f"  note: {self.message}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _num(v):
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None
