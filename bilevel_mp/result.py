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

LL_STATUSES = (
    "optimal",  # the follower re-solved to proven optimality at x
    "time_limit",  # the re-solve stopped at a limit; its proven bound may still certify
    "infeasible",  # the follower has no feasible y at x
    "unbounded",  # the follower's objective is unbounded below (min form) at x
    "infeasible_or_unbounded",  # the solver proved one of the two without saying which
    "error",  # the re-solve failed (see Certificate.solver_status and message)
    "not_run",  # no re-solve (no point to certify)
)
"""``Certificate.ll_status``: how the follower's re-solve at x ended, in the package's
words; the back end's own status is kept in ``Certificate.solver_status``."""


@dataclass
class Certificate:
    """The follower's problem re-solved at the returned x.

    ``ll_gap`` = f(x, y) - min_y' f(x, y') in minimisation form (>= 0 up to tolerance);
    ``exact`` says the re-solve was to proven global optimality. ``ll_status`` is one of
    ``LL_STATUSES``; ``solver_status`` is the back end's own word for the same outcome
    (SCIP's ``getStatus()``, e.g. ``inforunbd``; HiGHS's model status, e.g. ``Optimal``)."""

    ll_value: float | None = None
    ll_optimal_value: float | None = None
    ll_gap: float | None = None
    ll_status: str = "not_run"
    solver_status: str = ""
    exact: bool = False
    solver: str = ""
    upper_violation: float = 0.0
    lower_violation: float = 0.0
    certified: bool = False
    message: str = ""
    y_best: list | None = None  # the follower's optimal response from the re-solve
    duals: dict = field(default_factory=dict)  # follower constraint name -> multiplier (LP)
    dual_residual: float | None = None  # the linked duals' KKT violation (``core.dual_check``)
    follower_gaps: dict = field(default_factory=dict)  # several followers in a game: name -> gap


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
    # front ends that convert a model (CVXPY, Pyomo): the user's variable name -> value
    # (a float, or an array in the variable's shape); x and y then hold the user's entries only
    values: dict = field(default_factory=dict)
    # what such a front end took out of x, y and duals (CVXPY's auxiliary variables and
    # rows): {"x": full x, "y": full y, "duals": {row: multiplier}}; empty otherwise
    internal: dict = field(default_factory=dict)

    @property
    def ll_gap(self):
        return self.certificate.ll_gap

    @property
    def certified(self) -> bool:
        return self.certificate.certified

    def to_dict(self) -> dict:
        """The fixed result fields (name, status, method, F, f, x, y, ll_gap, certified,
        seconds) plus details, all JSON-serialisable; numbers are finite or None, never -0."""
        c = self.certificate
        return {
            "name": self.name,
            "status": self.status,
            "method": self.method,
            "mode": self.mode,
            "found_by": self.found_by or self.method,
            "F": _num(self.F),
            "f": _num(self.f),
            "x": None if self.x is None else [float(v) + 0.0 for v in self.x],
            "y": None if self.y is None else [float(v) + 0.0 for v in self.y],
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
            "values": {k: _jsonable(v) for k, v in self.values.items()},
            "certificate": {
                "ll_status": c.ll_status,
                "solver_status": c.solver_status,
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
        """Status, method, F/f/bound, x, y and the certificate, a few lines (no -0)."""
        how = self.method + (f" [{self.mode}]" if self.mode else "")
        if self.found_by and self.found_by != self.method:
            how += f" via {self.found_by}"
        lines = [f"{self.name}: {self.status}  (method {how}, {self.structure}, {self.seconds:.2f} s)"]
        if self.F is not None:
            lines.append(f"  F = {_g(self.F, 6)}   f = {_g(self.f, 6)}" + (
                f"   bound = {_g(self.bound, 6)}" if self.bound is not None else ""))
        if self.x is not None:
            lines.append(f"  x = {_array(self.x)}")
            lines.append(f"  y = {_array(self.y)}")
        c = self.certificate
        if self.x is None and c.ll_status == "not_run":
            lines.append("  certificate: none (no point to certify)")
        else:
            gap = "n/a" if c.ll_gap is None else _g(0.0 if abs(c.ll_gap) < GAP_NOISE else c.ll_gap, 3)
            lines.append(f"  certificate: {'certified' if c.certified else 'NOT certified'}, "
                         f"lower-level gap {gap} ({c.ll_status}, {c.solver})")
        for a in self.assumptions:
            lines.append(f"  assumes: {a}")
        if self.message:
            lines.append(f"  note: {self.message}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        F = "None" if self.F is None else _g(self.F, 6)
        return (f"BilevelResult(name={self.name!r}, status={self.status!r}, method={self.method!r}, "
                f"F={F}, certified={self.certified}, seconds={self.seconds:.2f})")


GAP_NOISE = 1e-12  # |ll_gap| below this prints as 0 (round-off of the re-solve, either sign)


def _num(v):
    """A finite float (never -0.0) or None."""
    if v is None:
        return None
    v = float(v) + 0.0
    return v if np.isfinite(v) else None


def _g(v, digits: int) -> str:
    """``v`` in %g with ``digits`` significant digits; -0.0 as 0 (%g never rounds a
    nonzero value to 0, so no other -0 can appear)."""
    return f"{float(v) + 0.0:.{digits}g}"


def _array(a) -> str:
    """A 1-d array as numpy prints it at 6 digits, -0.0 entries as 0."""
    return np.array2string(np.asarray(a, dtype=float) + 0.0, precision=6)


def _jsonable(v):
    """A value of ``BilevelResult.values`` as JSON: a float or nested lists of floats."""
    arr = np.asarray(v, dtype=float) + 0.0
    return float(arr) if arr.ndim == 0 else arr.tolist()
