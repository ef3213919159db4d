"""HiGHS back end (highspy): LP and MILP, with row duals for LPs.

Constraints are read through Pyomo's standard representation; anything nonlinear,
SOS1 or indicator is refused with a message (those go to SCIP).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyomo.environ as pyo
from pyomo.repn import generate_standard_repn

from ..errors import SolverUnavailableError, UnsupportedStructureError
from .single_level import SingleLevelModel, SolveOutcome
from .output import quiet

try:
    import highspy as _highspy
except ImportError:  # pragma: no cover
    _highspy = None


MIP_FEASIBILITY_TOL = 1e-9


def available() -> bool:
    return _highspy is not None


def accepts(slm: SingleLevelModel) -> bool:
    """True when ``slm`` is an LP or MILP without SOS1/indicator constraints."""
    if slm.sos1 or slm.indicators:
        return False
    exprs = [c.body for c in slm.m.component_data_objects(pyo.Constraint, active=True)]
    if slm.objective is not None:
        exprs.append(slm.objective)
    return all((d := slm.degree(e)) is not None and d <= 1 for e in exprs)


def _build(slm: SingleLevelModel, time_limit, gap, verbose):
    """Load ``slm`` into a fresh Highs object; returns it with the column/row maps."""
    inf = _highspy.kHighsInf
    cols = [v for v in slm.m.component_data_objects(pyo.Var) if not v.fixed]
    index = {id(v): k for k, v in enumerate(cols)}
    n = len(cols)
    lb = np.array([-inf if v.lb is None else v.lb for v in cols], dtype=float)
    ub = np.array([inf if v.ub is None else v.ub for v in cols], dtype=float)
    cost = np.zeros(n)
    offset = 0.0
    if slm.objective is not None:
        repn = generate_standard_repn(slm.objective, compute_values=True)
        offset = float(repn.constant)
        for v, c in zip(repn.linear_vars, repn.linear_coefs):
            cost[index[id(v)]] += c
    rows_lo, rows_hi, starts, idx, vals, row_cons = [], [], [], [], [], []
    for con in slm.m.component_data_objects(pyo.Constraint, active=True):
        repn = generate_standard_repn(con.body, compute_values=True)
        shift = float(repn.constant)
        lo = -inf if con.lower is None else float(pyo.value(con.lower)) - shift
        hi = inf if con.upper is None else float(pyo.value(con.upper)) - shift
        coefs: dict[int, float] = {}
        for v, c in zip(repn.linear_vars, repn.linear_coefs):
            coefs[index[id(v)]] = coefs.get(index[id(v)], 0.0) + c
        if not coefs:
            if lo > 1e-9 or hi < -1e-9:
                raise _ConstantRowInfeasible(con.name)
            continue
        starts.append(len(idx))
        idx.extend(coefs.keys())
        vals.extend(coefs.values())
        rows_lo.append(lo)
        rows_hi.append(hi)
        row_cons.append(con)
    with quiet(not verbose):
        h = _highspy.Highs()
    h.setOptionValue("output_flag", bool(verbose))
    if time_limit is not None:
        h.setOptionValue("time_limit", max(1e-3, float(time_limit)))
    h.setOptionValue("mip_rel_gap", gap)
    h.addCols(n, cost, lb, ub, 0, np.array([], dtype=np.int32), np.array([], dtype=np.int32),
              np.array([], dtype=float))
    if row_cons:
        h.addRows(len(row_cons), np.array(rows_lo), np.array(rows_hi), len(idx),
                  np.array(starts, dtype=np.int32), np.array(idx, dtype=np.int32),
                  np.array(vals, dtype=float))
    ints = [k for k, v in enumerate(cols) if not v.is_continuous()]
    if ints:
        if slm.big_m:
            # big-M rows multiply the integrality tolerance by M: with the default 1e-6 a
            # "binary" of 1e-6 times M = 1e5 leaks 0.1 through a complementarity pair
            h.setOptionValue("mip_feasibility_tolerance", MIP_FEASIBILITY_TOL)
        h.changeColsIntegrality(len(ints), np.array(ints, dtype=np.int32),
                                np.array([_highspy.HighsVarType.kInteger] * len(ints)))
    return h, cols, index, row_cons, offset, ints


class _ConstantRowInfeasible(Exception):
    pass


def solve(slm: SingleLevelModel, time_limit: float | None = None, gap: float = 1e-9,
          verbose: bool = False, watch=None) -> SolveOutcome:
    """Solve a linear ``slm``; returns primal values, objective, bound, row duals.
    ``watch(primal, dual)``, if given, receives the MIP's incumbent and bound (objective
    of ``slm``, inf when none yet) while it runs."""
    if _highspy is None:  # pragma: no cover
        raise SolverUnavailableError("HiGHS is not installed: pip install highspy")
    if not accepts(slm):
        raise UnsupportedStructureError("HiGHS back end needs a linear model without SOS1/indicators")
    t0 = time.perf_counter()
    try:
        h, cols, index, row_cons, offset, ints = _build(slm, time_limit, gap, verbose)
    except _ConstantRowInfeasible as exc:
        return SolveOutcome("infeasible", solver="highs", message=f"constant row {exc}")
    if watch is not None and ints:
        _watch(h, watch, offset)
    h.run()
    ms = h.getModelStatus()
    S = _highspy.HighsModelStatus
    if ms == S.kUnboundedOrInfeasible:  # presolve could not tell: ask again without it
        h.setOptionValue("presolve", "off")
        h.run()
        ms = h.getModelStatus()
    out = SolveOutcome("error", solver="highs", message=h.modelStatusToString(ms))
    info = h.getInfo()
    sol = h.getSolution()
    has_primal = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if has_primal:
        out.values = {id(v): float(x) for v, x in zip(cols, sol.col_value)}
        out.objective = float(info.objective_function_value) + offset
        if sol.dual_valid and not ints:
            out.row_duals = {id(c): float(d) for c, d in zip(row_cons, sol.row_dual)}
    if ints:
        out.bound = float(info.mip_dual_bound) + offset
    elif ms == S.kOptimal:
        out.bound = out.objective
    if ms == S.kOptimal:
        out.status = "optimal"
    elif ms == S.kInfeasible:
        out.status = "infeasible"
    elif ms in (S.kUnbounded, S.kUnboundedOrInfeasible):
        out.status = "unbounded"
    elif ms in (S.kTimeLimit, S.kIterationLimit, S.kInterrupt, S.kSolutionLimit):
        out.status = "time_limit"
    out.seconds = time.perf_counter() - t0
    return out


def _watch(h, watch, offset: float) -> None:
    """Pass the MIP's primal and dual bounds to ``watch`` from HiGHS's callbacks."""
    def report(event):
        data = event.data_out
        watch(data.mip_primal_bound + offset, data.mip_dual_bound + offset)

    h.cbMipImprovingSolution.subscribe(report)
    h.cbMipInterrupt.subscribe(report)


def extreme_values(slm: SingleLevelModel, exprs, time_limit: float | None = None) -> list:
    """Maximise each linear expression in ``exprs`` over the feasible set of ``slm``
    (its objective is ignored). Returns the maxima, ``None`` for an infeasible set,
    ``inf`` where unbounded, or where ``time_limit`` (for all of them together) ran out
    first. One HiGHS model is built and re-solved per objective."""
    deadline = math.inf if time_limit is None else time.perf_counter() + float(time_limit)
    h, cols, index, row_cons, offset, ints = _build(slm, time_limit, 1e-9, False)
    if ints:
        h.changeColsIntegrality(len(ints), np.array(ints, dtype=np.int32),
                                np.array([_highspy.HighsVarType.kContinuous] * len(ints)))
    S = _highspy.HighsModelStatus
    h.changeObjectiveSense(_highspy.ObjSense.kMaximize)
    n = len(cols)
    out = []
    for e in exprs:
        left = deadline - time.perf_counter()
        if left <= 0:
            out.append(float("inf"))  # no time to bound it: unknown, as if unbounded
            continue
        if math.isfinite(left):
            h.setOptionValue("time_limit", max(1e-3, left))
        repn = generate_standard_repn(e, compute_values=True)
        cost = np.zeros(n)
        for v, c in zip(repn.linear_vars, repn.linear_coefs):
            cost[index[id(v)]] += c
        h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        h.run()
        ms = h.getModelStatus()
        if ms == S.kOptimal:
            out.append(float(h.getInfo().objective_function_value) + float(repn.constant))
        elif ms == S.kInfeasible:
            return [None] * len(exprs)
        else:
            out.append(float("inf"))
    return out


def solve_arrays(c, A, row_lo, row_hi, lb, ub, hessian_diag=None, time_limit: float | None = None):
    """Solve the LP (or, with ``hessian_diag``, the QP with objective c·z + ½ Σ h_i z_i²)

        min c·z  s.t.  row_lo <= A z <= row_hi,  lb <= z <= ub

    from dense numpy arrays (±inf allowed in the bounds). Returns (status, z, objective,
    row duals); status is "optimal", "infeasible", "unbounded" or "error". For the small
    dense programs of the local methods, built without Pyomo."""
    if _highspy is None:  # pragma: no cover
        raise SolverUnavailableError("HiGHS is not installed: pip install highspy")
    lp = ArrayLP(c, lb, ub, A, row_lo, row_hi, time_limit=time_limit, hessian_diag=hessian_diag,
                 presolve=True)
    status = lp.run()
    if status == "optimal":
        return status, lp.primal(), lp.value(), lp.row_duals()
    return (status if status in ("infeasible", "unbounded") else "error"), None, None, None


class ArrayLP:
    """A HiGHS LP (or, with ``hessian_diag``, convex QP) built from dense arrays and kept
    alive to be re-solved (warm started), with a retry ladder for numerical trouble.

        min (or max) cost·z  s.t.  lo <= rows·z <= hi,  lb <= z <= ub

    Presolve is off by default: rays and warm starts need the original model."""

    def __init__(self, cost, lb, ub, rows, lo, hi, maximize=False, time_limit=None,
                 hessian_diag=None, presolve: bool = False):
        with quiet(True):
            h = _highspy.Highs()
        h.setOptionValue("output_flag", False)
        if not presolve:
            h.setOptionValue("presolve", "off")
        if time_limit is not None:
            h.setOptionValue("time_limit", max(1e-3, float(time_limit)))
        n = len(cost)
        kinf = _highspy.kHighsInf
        fix = lambda a: np.clip(np.asarray(a, float), -kinf, kinf)  # noqa: E731
        h.addCols(n, np.asarray(cost, float), fix(np.asarray(lb, float)), fix(np.asarray(ub, float)), 0,
                  np.array([], dtype=np.int32), np.array([], dtype=np.int32), np.array([], dtype=float))
        rows = np.asarray(rows, float).reshape(-1, n)
        if rows.shape[0]:
            starts, idx, vals = [], [], []
            for a in rows:
                nz = np.flatnonzero(a)
                starts.append(len(idx))
                idx.extend(nz.tolist())
                vals.extend(a[nz].tolist())
            h.addRows(rows.shape[0], fix(np.asarray(lo, float)), fix(np.asarray(hi, float)), len(idx),
                      np.array(starts, dtype=np.int32), np.array(idx, dtype=np.int32),
                      np.array(vals, dtype=float))
        if maximize:
            h.changeObjectiveSense(_highspy.ObjSense.kMaximize)
        if hessian_diag is not None:
            d = np.asarray(hessian_diag, dtype=float)
            k = np.arange(d.size, dtype=np.int32)
            h.passHessian(d.size, d.size, _highspy.HessianFormat.kTriangular, k, k, d)
        self.h = h
        self.kinf = kinf
        self.n = n
        self.nrows = rows.shape[0]
        self.solves = 0

    def run(self):
        self.h.run()
        self.solves += 1
        S = _highspy.HighsModelStatus
        st = self.h.getModelStatus()
        done = (S.kOptimal, S.kInfeasible, S.kUnbounded, S.kUnboundedOrInfeasible)
        if st not in done:
            # numerical trouble (rare): from scratch, then primal simplex, then IPM
            for option, value, default in (("simplex_strategy", 1, 1), ("simplex_strategy", 4, 1),
                                           ("solver", "ipm", "choose")):
                self.h.clearSolver()
                self.h.setOptionValue(option, value)
                self.h.run()
                self.solves += 1
                self.h.setOptionValue(option, default)
                st = self.h.getModelStatus()
                if st in done:
                    break
        if st == S.kOptimal and self.h.getInfo().primal_solution_status == 2:
            return "optimal"
        if st == S.kInfeasible:
            return "infeasible"
        if st in (S.kUnbounded, S.kUnboundedOrInfeasible):
            return "unbounded"
        return "other"

    def value(self) -> float:
        return float(self.h.getInfo().objective_function_value)

    def primal(self) -> np.ndarray:
        return np.array(self.h.getSolution().col_value)

    def row_duals(self) -> np.ndarray:
        return np.array(self.h.getSolution().row_dual)

    def dual_ray(self):
        status, has, ray = self.h.getDualRay()
        return np.array(ray) if has else None

    def integrality(self, integer) -> None:
        """Make the columns flagged in ``integer`` integer (a MILP, solved to gap 1e-9)."""
        idx = np.flatnonzero(np.asarray(integer, bool)).astype(np.int32)
        if idx.size:
            self.h.changeColsIntegrality(idx.size, idx, np.full(idx.size, _highspy.HighsVarType.kInteger))
            self.h.setOptionValue("mip_rel_gap", 1e-9)
            self.h.setOptionValue("mip_feasibility_tolerance", MIP_FEASIBILITY_TOL)

    def row_bounds(self, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray):
        k = self.kinf
        self.h.changeRowsBounds(len(rows), rows.astype(np.int32), np.clip(lo, -k, k), np.clip(hi, -k, k))

    def col_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray):
        k = self.kinf
        self.h.changeColsBounds(len(cols), cols.astype(np.int32), np.clip(lo, -k, k), np.clip(hi, -k, k))
