"""The regularised MPEC model (Scholtes relaxation of the KKT reformulation), its
continuation and its start points; ``methods.regularized`` drives it.

The follower is replaced by its KKT conditions (``stationarity.add_stationarity`` on the lifted
high-point relaxation of ``base.lift``, whose bound tightening it keeps) and each
complementarity pair is relaxed to

    lambda_j * g_j(x, y) <= t,        lambda_j >= 0,  g_j(x, y) >= 0,

an ordinary NLP for t > 0 (Scholtes 2001). ``t`` is a mutable Pyomo ``Param`` driven
from ``T0 = 1`` down by ``T_FACTOR`` to ``T_MIN`` and then to ``t = 0``; each stage is
one call to the local NLP back end (``backends.nlp``), warm-started from the last
accepted stage. A stage that fails keeps the previous point and the next t is tried.

Multi-start: ``xy_init`` first, then sampled points (seeded). The loose first stage
t = 1 tends to pull every start to the same relaxed optimum, so sampled starts cycle
through ``SAMPLE_STRATEGIES``: some begin at t = 1e-2, some with y replaced by the
follower's optimal response at the sampled x. Every end point is certified by
re-solving the follower (``certify.certify``, then ``optimistic_response`` to clean y),
and the best certified point is returned.

For a follower not proven convex, a KKT point need not be follower-optimal. When the
certificate finds a better response y_hat at the end point's x and the follower's
constraints do not involve x, the value-function cut f(x, y) <= f(x, y_hat) (valid
at every bilevel-feasible point) is added and that start is run again.

Nothing here is global: a certified result is ``locally_optimal`` (follower proven
convex) or ``feasible`` (follower not proven convex, so the KKT system may have led
to a point the certificate had to repair), never ``optimal``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from ..clock import seconds_to
from ..backends import nlp
from ..backends.single_level import SolveOutcome, substitute
from ..core.certify import solve_follower
from ..core.lifted import HPR, Lifted, lift
from ..problem import BilevelProblem, involves
from .stationarity import add_stationarity

T0 = 1.0  # first relaxation parameter
T_FACTOR = 0.1  # t <- t * T_FACTOR per stage
T_MIN = 1e-8  # last positive t; a final stage with t = 0 follows
MAX_COLD_FAILURES = 3  # a start is abandoned after this many failed stages in a row
#                        before any stage converged (1 for a re-run after a value cut)
STAGE_TIME_LIMIT = 5.0  # seconds per NLP solve under a time limit (or time_limit / 4)

#: ripopt/ipopt options of the first (cold) stage and of the warm-started stages. The
#: warm stages start close to the previous solution: a small initial barrier parameter
#: and bound push keep the interior-point method from walking away from it.
COLD_OPTIONS: dict = {"print_level": 0}
WARM_OPTIONS: dict = {"print_level": 0, "mu_init": 1e-8, "bound_push": 1e-10,
                      "bound_frac": 1e-10, "max_iter": 500}


def schedule(t0: float = T0, factor: float = T_FACTOR, t_min: float = T_MIN) -> list[float]:
    """The continuation of the relaxation parameter: t0, t0·factor, ..., t_min, 0."""
    ts, t = [], t0
    while t >= t_min * (1 - 1e-9):
        ts.append(t)
        t *= factor
    return ts + [0.0]


@dataclass
class Stage:
    """One NLP solve of the continuation."""

    t: float
    status: str  # the back end's SolveOutcome status
    objective: float | None
    residual: float  # max_j lambda_j * g_j at the stage's end point (or the kept point)
    seconds: float
    accepted: bool  # the stage converged and its point was kept


@dataclass
class Run:
    """The continuation from one start: stages and the kept end point."""

    start: str
    stages: list = field(default_factory=list)
    values: dict | None = None  # id(model var) -> value of the last accepted stage
    t: float | None = None  # relaxation parameter of that stage
    outcome: SolveOutcome | None = None

    @property
    def residual(self) -> float | None:
        kept = [s for s in self.stages if s.accepted]
        return kept[-1].residual if kept else None


class ScholtesMPEC:
    """The relaxed KKT reformulation of ``problem`` as a ``SingleLevelModel``.

    ``self.lifted.slm.m.t`` is the relaxation parameter (a mutable ``Param``) and
    ``m.scholtes[k]`` the relaxed complementarity rows ``lam[k] * g_k <= t``."""

    def __init__(self, problem: BilevelProblem, time_limit: float | None = None,
                 cache: HPR | None = None):
        self.problem = problem
        lifted: Lifted = lift(problem, "regularized", "regularized", time_limit=time_limit, cache=cache)
        self.lifted = lifted
        self.infeasible = bool(lifted.hpr.get("infeasible"))
        m = lifted.slm.m
        # initial values as lift copied them (xy_init for BOLIB problems)
        self.init = {id(v): v.value for v in list(m.x.values()) + list(m.y.values())}
        self.relaxed_integers = [i for i in m.x if not m.x[i].is_continuous()]
        for i in self.relaxed_integers:  # an NLP solver needs continuous variables
            m.x[i].domain = pyo.Reals
        if self.infeasible:
            return
        self.ge, self.eq = add_stationarity(lifted)
        self.slacks = [lifted.sub(c.body) for c in self.ge]
        m.t = pyo.Param(mutable=True, initialize=T0, within=pyo.NonNegativeReals)
        m.scholtes = pyo.ConstraintList()
        for k, s in enumerate(self.slacks):
            m.scholtes.add(m.lam[k] * s <= m.t)
        m.value_cuts = pyo.ConstraintList()
        # f(x, y) <= f(x, y_hat) holds at every bilevel-feasible point when y_hat is
        # follower-feasible for every x: when no follower constraint involves x
        self.cuts_valid = not any(involves(c.body, problem.x) for c in lifted.lower)

    def add_value_cut(self, y_hat, slack: float = 0.0) -> bool:
        """Add the value-function cut f(x, y) <= f(x, y_hat) + slack (valid only when
        the follower's feasible set does not depend on x; returns whether it was
        added). It removes KKT points of a nonconvex follower that y_hat beats."""
        if not self.cuts_valid or y_hat is None or not np.all(np.isfinite(y_hat)):
            return False
        problem, m = self.problem, self.model
        at_hat = {id(problem.x[i]): m.x[i] for i in range(problem.n_x)}
        at_hat.update({id(problem.y[j]): float(y_hat[j]) for j in range(problem.n_y)})
        f_hat = substitute(problem.f, at_hat)
        m.value_cuts.add(self.lifted.sub(problem.f) <= f_hat + slack)
        return True

    # ------------------------------------------------------------------ values
    @property
    def model(self):
        return self.lifted.slm.m

    def variables(self) -> list:
        return [v for v in self.model.component_data_objects(pyo.Var) if not v.fixed]

    def snapshot(self) -> dict:
        return {id(v): v.value for v in self.variables()}

    def restore(self, values: dict) -> None:
        for v in self.variables():
            if id(v) in values and values[id(v)] is not None:
                v.set_value(values[id(v)], skip_validation=True)

    def residual(self) -> float:
        """Complementarity residual max_j lambda_j * g_j(x, y) at the current values."""
        m = self.model
        worst = 0.0
        for k, s in enumerate(self.slacks):
            try:
                worst = max(worst, abs(float(pyo.value(m.lam[k] * s))))
            except (ValueError, TypeError, ZeroDivisionError, OverflowError):
                return math.inf
        return worst

    def set_start(self, x, y) -> None:
        """Start the continuation at (x, y), multipliers at zero."""
        m = self.model
        for i, v in enumerate(x):
            m.x[i].set_value(float(v), skip_validation=True)
        for j, v in enumerate(y):
            m.y[j].set_value(float(v), skip_validation=True)
        for v in m.lam.values():
            v.set_value(0.0, skip_validation=True)
        for v in m.mu.values():
            v.set_value(0.0, skip_validation=True)

    def xy(self, values: dict | None = None):
        m = self.model
        get = (lambda v: v.value) if values is None else (lambda v: values.get(id(v), v.value))
        x = np.array([_num(get(m.x[i])) for i in range(self.problem.n_x)])
        y = np.array([_num(get(m.y[j])) for j in range(self.problem.n_y)])
        return x, y

    # ------------------------------------------------------------ continuation
    def continuation(self, ts=None, deadline: float = math.inf, label: str = "",
                     options: dict | None = None, max_cold_failures: int = MAX_COLD_FAILURES,
                     stage_time_limit: float = STAGE_TIME_LIMIT) -> Run:
        """Solve the relaxed NLP for each t in ``ts`` (default ``schedule()``), each
        stage warm-started from the last accepted one; the model starts from its
        current values. A stage that fails keeps the previous point and the next t is
        tried from there; the run stops after ``max_cold_failures`` failures in a row
        before any stage converged."""
        m = self.model
        run = Run(label)
        failures = 0
        ts = schedule() if ts is None else list(ts)
        if not self.slacks:  # no follower inequalities: nothing to relax
            ts = ts[-1:]
        for t in ts:
            left = seconds_to(deadline)
            if left <= 0.05:
                break
            m.t.set_value(float(t))
            opts = dict(COLD_OPTIONS if run.values is None else WARM_OPTIONS)
            opts.update(options or {})
            before = self.snapshot()
            limit = min(left, stage_time_limit)
            out = nlp_solve(self.lifted.slm, limit if math.isfinite(limit) else None, opts)
            ok = out.status == "locally_optimal" and out.has_solution
            if ok:
                run.values, run.t, run.outcome = self.snapshot(), float(t), out
            else:
                self.restore(before)
            failures = 0 if ok else failures + 1
            run.stages.append(Stage(float(t), out.status, out.objective, self.residual(),
                                    out.seconds, ok))
            if run.values is None and failures >= max_cold_failures:
                break
        return run


def _num(v) -> float:
    return 0.0 if v is None else float(v)


def nlp_solve(slm, time_limit, options) -> SolveOutcome:
    """One local NLP solve (``backends.nlp``) with ripopt/ipopt ``options``."""
    return nlp.solve(slm, time_limit=time_limit, options=options)


# ---------------------------------------------------------------------- starts
def _box(var, center: float, scale: float = 1.0) -> tuple[float, float]:
    """Sampling interval of one variable: its (tightened) bounds, or ±max(scale, |c|)
    around the start value c where unbounded."""
    w = max(scale, abs(center))
    lo, hi = var.lb, var.ub
    if lo is not None and hi is not None:  # tightened bounds may cross by a tolerance
        return min(float(lo), float(hi)), max(float(lo), float(hi))
    if lo is not None:
        return float(lo), max(float(lo), center) + w
    if hi is not None:
        return min(float(hi), center) - w, float(hi)
    return center - w, center + w


def starts(mpec: ScholtesMPEC, n: int, rng: np.random.Generator):
    """xy_init (or the values the problem carries) first, then ``n`` sampled points."""
    problem, m = mpec.problem, mpec.model
    init = problem.meta.get("xy_init") if isinstance(problem.meta, dict) else None
    if init is not None and len(init) == problem.n_x + problem.n_y:
        x0 = np.array(init[: problem.n_x], float)
        y0 = np.array(init[problem.n_x:], float)
    else:
        x0 = np.array([_num(mpec.init.get(id(m.x[i]))) for i in range(problem.n_x)])
        y0 = np.array([_num(mpec.init.get(id(m.y[j]))) for j in range(problem.n_y)])
    x0 = np.array([_clip(m.x[i], v) for i, v in enumerate(x0)])
    y0 = np.array([_clip(m.y[j], v) for j, v in enumerate(y0)])
    yield "xy_init", x0, y0
    scale = _scale(list(m.x.values()) + list(m.y.values()))
    boxes = [_box(m.x[i], x0[i], scale) for i in range(problem.n_x)] + \
            [_box(m.y[j], y0[j], scale) for j in range(problem.n_y)]
    lo = np.array([b[0] for b in boxes])
    hi = np.array([b[1] for b in boxes])
    for k in range(n):
        z = rng.uniform(lo, hi)
        yield f"sample {k + 1}", z[: problem.n_x], z[problem.n_x:]


def _scale(variables) -> float:
    """Scale of the problem for sampling unbounded variables: the largest finite
    bound magnitude of the (tightened) variables, at least 1."""
    mags = [abs(float(b)) for v in variables for b in (v.lb, v.ub) if b is not None]
    return max([1.0] + [b for b in mags if math.isfinite(b)])


def follower_y(problem, x, y, time_limit):
    """The follower's optimal response at ``x`` (``y`` where it has none)."""
    out, _, slm = solve_follower(problem, x, time_limit=time_limit)
    if not out.has_solution:
        return y
    return np.array([out.values.get(id(slm.m.y[j]), y[j]) for j in range(problem.n_y)])


def _clip(var, v: float) -> float:
    if not math.isfinite(v):
        v = 0.0
    if var.lb is not None:
        v = max(v, float(var.lb))
    if var.ub is not None:
        v = min(v, float(var.ub))
    return v
