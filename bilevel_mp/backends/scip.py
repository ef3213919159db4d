"""SCIP back end (PySCIPOpt): MILP, MIQP, MINLP and nonconvex products, solved globally.

Pyomo expressions are translated node by node into PySCIPOpt expressions; SOS1 sets
and indicator constraints map onto SCIP's native constraint handlers. A nonlinear
objective is moved into an epigraph constraint, as SCIP requires.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pyomo.environ as pyo
from pyomo.core.expr import numeric_expr as ne
from pyomo.core.expr.numvalue import native_numeric_types

from ..clock import note_interrupt
from ..errors import BilevelInputError, SolverUnavailableError
from .single_level import SOLVER_INFINITY, SingleLevelModel, SolveOutcome
from .output import quiet

try:  # pragma: no cover - exercised implicitly
    import pyscipopt as _scip
except ImportError:  # pragma: no cover
    _scip = None


def available() -> bool:
    return _scip is not None


def _require():
    if _scip is None:
        raise SolverUnavailableError(
            "SCIP is not installed: pip install 'bilevel-mp[scip]' (PySCIPOpt)"
        )


_UNARY = {
    "exp": lambda a: _scip.exp(a),
    "log": lambda a: _scip.log(a),
    "sqrt": lambda a: _scip.sqrt(a),
    "sin": lambda a: _scip.sin(a),
    "cos": lambda a: _scip.cos(a),
}


class _Translator:
    def __init__(self, model, varmap):
        self.model = model
        self.varmap = varmap

    def __call__(self, e):
        if e.__class__ in native_numeric_types:
            return float(e)
        if not e.is_potentially_variable():
            return float(pyo.value(e))
        if e.is_variable_type():
            if e.fixed:
                return float(e.value)
            return self.varmap[id(e)]
        if e.is_named_expression_type():
            return self(e.expr)
        args = e.args
        if isinstance(e, (ne.SumExpression, ne.LinearExpression)):
            return _scip.quicksum(self(a) for a in args)
        if isinstance(e, (ne.ProductExpression, ne.MonomialTermExpression)):
            return self(args[0]) * self(args[1])
        if isinstance(e, ne.DivisionExpression):
            num, den = self(args[0]), self(args[1])
            if isinstance(den, float):
                return num * (1.0 / den)
            return num / den
        if isinstance(e, ne.NegationExpression):
            return -self(args[0])
        if isinstance(e, ne.PowExpression):
            base, expo = args
            if not expo.__class__ in native_numeric_types and expo.is_potentially_variable():
                return _scip.exp(self(expo) * _scip.log(self(base)))
            p = float(pyo.value(expo))
            b = self(base)
            if isinstance(b, float):
                return b**p
            return b ** (int(p) if p.is_integer() else p)
        if isinstance(e, ne.AbsExpression):
            return abs(self(args[0]))
        if isinstance(e, ne.UnaryFunctionExpression):
            name = e.getname()
            if name not in _UNARY:
                raise BilevelInputError(f"SCIP back end cannot translate function {name!r}")
            return _UNARY[name](self(args[0]))
        raise BilevelInputError(f"SCIP back end cannot translate expression type {type(e).__name__}")


def _is_nonlinear(expr) -> bool:
    if expr.__class__ in native_numeric_types:
        return False
    d = expr.polynomial_degree()
    return d is None or d > 1


def _build(slm: SingleLevelModel, time_limit, gap, feastol, verbose, params: dict):
    """A PySCIPOpt model of ``slm``; returns (model, varmap, pyomo vars, objective offset)
    or an infeasible ``SolveOutcome`` for a violated constant row."""
    s = _scip.Model()
    if not verbose:
        s.hideOutput()
    if time_limit is not None:
        s.setParam("limits/time", max(1e-3, float(time_limit)))
    s.setParam("limits/gap", gap)
    if feastol is not None:
        s.setParam("numerics/feastol", feastol)
    has_ipopt = _has_param(s, IPOPT_OPTFILE)
    if has_ipopt:  # its NLP heuristics' MUMPS on AMD ordering (see IPOPT_OPTIONS)
        s.setParam(IPOPT_OPTFILE, str(IPOPT_OPTIONS))
    varmap = {}
    pyo_vars = []
    for v in slm.m.component_data_objects(pyo.Var, descend_into=True):
        if v.fixed:
            continue
        vtype = "C" if v.is_continuous() else ("B" if v.is_binary() else "I")
        lb = -s.infinity() if v.lb is None else v.lb
        ub = s.infinity() if v.ub is None else v.ub
        varmap[id(v)] = s.addVar(name=v.name, vtype=vtype, lb=lb, ub=ub)
        pyo_vars.append(v)
    tr = _Translator(s, varmap)
    for c in slm.m.component_data_objects(pyo.Constraint, active=True):
        body = tr(c.body)
        if isinstance(body, float):
            if (c.lower is not None and body < pyo.value(c.lower) - 1e-9) or (
                c.upper is not None and body > pyo.value(c.upper) + 1e-9
            ):
                return SolveOutcome("infeasible", solver="scip", message=f"constant constraint {c.name}")
            continue
        if c.equality:
            s.addCons(body == pyo.value(c.upper), name=c.name)
        else:
            if c.lower is not None:
                s.addCons(body >= pyo.value(c.lower), name=c.name + "_lo")
            if c.upper is not None:
                s.addCons(body <= pyo.value(c.upper), name=c.name + "_up")
    for k, group in enumerate(slm.sos1):
        s.addConsSOS1([varmap[id(v)] for v in group], name=f"sos1_{k}")
    for k, ind in enumerate(slm.indicators):
        body = tr(ind.body)
        if _is_nonlinear(ind.body):  # SCIP's indicators take linear rows: name the body
            aux = s.addVar(name=f"ind_{k}_body", lb=-s.infinity(), ub=s.infinity())
            s.addCons(aux == body, name=f"ind_{k}_def")
            body = aux
        binvar = varmap[id(ind.binary)]
        active = bool(ind.active)
        s.addConsIndicator(body <= 0, binvar=binvar, activeone=active, name=f"ind_{k}")
        if ind.kind == "eq":
            s.addConsIndicator(-body <= 0, binvar=binvar, activeone=active, name=f"ind_{k}_ge")
    obj = tr(slm.objective) if slm.objective is not None else 0.0
    if isinstance(obj, float):
        s.setObjective(0.0)
        offset = obj
    else:
        offset = 0.0
        try:
            s.setObjective(obj, "minimize")
        except Exception:  # nonlinear objective: epigraph
            t = s.addVar(name="epigraph", lb=-s.infinity(), ub=s.infinity())
            s.addCons(obj <= t)
            s.setObjective(t, "minimize")
    for key, value in params.items():
        if key == IPOPT_OPTFILE and not has_ipopt:
            continue  # no Ipopt in this SCIP: nothing to switch off
        s.setParam(key, value)
    return s, varmap, pyo_vars, offset


def _has_param(s, key: str) -> bool:
    """Whether this SCIP build has the parameter ``key``."""
    try:
        s.getParam(key)
    except KeyError:
        return False
    return True


class _Watch(_scip.Eventhdlr if _scip is not None else object):
    """Reports SCIP's primal and dual bound on a new incumbent and at most every
    ``WATCH_SECONDS`` as nodes are solved."""

    def __init__(self, watch, offset: float):
        self.watch, self.offset, self.last = watch, offset, -math.inf

    def eventinit(self):
        self.model.catchEvent(_EVENTS(), self)

    def eventexit(self):
        self.model.dropEvent(_EVENTS(), self)

    def eventexec(self, event):
        now = time.perf_counter()
        if event.getType() != _scip.SCIP_EVENTTYPE.BESTSOLFOUND and now - self.last < WATCH_SECONDS:
            return
        self.last = now
        self.watch(self._value(self.model.getPrimalbound()), self._value(self.model.getDualbound()))

    def _value(self, v: float) -> float:
        """``v`` plus the objective offset; SCIP's infinity (no incumbent yet) as ±inf."""
        return math.copysign(math.inf, v) if abs(v) >= SOLVER_INFINITY else v + self.offset


def _EVENTS():
    return _scip.SCIP_EVENTTYPE.BESTSOLFOUND | _scip.SCIP_EVENTTYPE.NODESOLVED


WATCH_SECONDS = 0.25

# Settings tried in turn when SCIP's LP solver fails ("error in LP solver"): the
# default, then primal simplex throughout, then without the LP stability checks.
TIGHT_FEASTOL = 1e-9  # the feasibility tolerance of SCIP solves that must not buy F with its
# default 1e-6: the certificate's re-solves, strong duality's model, a value-function cut that
# failed to move x

#: Ipopt's options for SCIP's NLP heuristics (``mumps_pivot_order 0``: AMD ordering in
#: MUMPS). With METIS's ordering the whole process was aborted (``free(): invalid
#: pointer``) on the strong-duality model of a 14x14 toll grid; scipopt/PySCIPOpt issue
#: 1234 reports the same crash and this workaround.
IPOPT_OPTIONS = Path(__file__).with_name("ipopt.opt")
IPOPT_OPTFILE = "nlpi/ipopt/optfile"  # SCIP's parameter; its default "" is no options file

LP_FALLBACKS = ({}, {"lp/initalgorithm": "p", "lp/resolvealgorithm": "p"},
                {"lp/checkstability": False, "lp/checkprimfeas": False, "lp/checkdualfeas": False})


def _prepare(slm: SingleLevelModel, left, gap, feastol, verbose, params: dict, setup, watch):
    """``_build`` with ``params``, then the caller's plug-ins (``setup``) and the watcher:
    (model, varmap, pyomo vars, offset), or the ``SolveOutcome`` of a violated constant row."""
    built = _build(slm, left, gap, feastol, verbose, params)
    if isinstance(built, SolveOutcome):
        return built
    s, varmap, _, offset = built
    if setup is not None:
        setup(s, varmap)
    if watch is not None:
        s.includeEventhdlr(_Watch(watch, offset), "bmp_progress", "reports bounds to bilevel_mp.progress")
    return built


def solve(
    slm: SingleLevelModel,
    time_limit: float | None = None,
    gap: float = 1e-9,
    feastol: float | None = None,
    verbose: bool = False,
    setup=None,
    watch=None,
) -> SolveOutcome:
    """Solve ``slm`` to global optimality (within ``time_limit`` seconds). When SCIP's
    LP solver fails, the solve is repeated with the settings of ``LP_FALLBACKS``.
    ``setup(model, varmap)``, if given, is called on each built PySCIPOpt model before it
    is solved (``varmap``: id of a Pyomo variable -> its SCIP variable), e.g. to include
    a constraint handler. ``watch(primal, dual)``, if given, receives SCIP's incumbent and
    bound (objective of ``slm``) when a better solution is found and as nodes are solved."""
    _require()
    t0 = time.perf_counter()
    failures, solved = [], False
    attempts = list(LP_FALLBACKS)
    while attempts:
        params = attempts.pop(0)
        left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if left is not None and left <= 0:
            break
        built = _prepare(slm, left, gap, feastol, verbose, params, setup, watch)
        if isinstance(built, SolveOutcome):
            return built
        s, varmap, pyo_vars, offset = built
        try:
            with quiet(not verbose):
                s.optimize()
            solved = True
            break
        except Exception as exc:  # SCIP raises on internal LP failures
            failures.append(str(exc))
            if len(failures) == 1:  # an Ipopt that refuses the options file fails SCIP too:
                attempts.insert(0, {**params, IPOPT_OPTFILE: ""})  # once without
    if not solved and not failures:  # no time was left for a first attempt
        return SolveOutcome("time_limit", solver="scip", message="no time left for SCIP",
                            seconds=time.perf_counter() - t0)
    if not solved:  # every setting failed, or the time ran out between attempts
        return SolveOutcome("error", solver="scip",
                            message=f"SCIP failed: {'; '.join(failures) or 'no time left'}",
                            seconds=time.perf_counter() - t0)
    st = s.getStatus()
    if st == "inforunbd":  # presolve could not tell: ask again without it (as HiGHS's back end)
        left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if left is None or left > 0:
            again = _prepare(slm, left, gap, feastol, verbose, {**params, "presolving/maxrounds": 0},
                             setup, watch)
            if not isinstance(again, SolveOutcome):
                try:
                    with quiet(not verbose):
                        again[0].optimize()
                    if again[0].getStatus() != "inforunbd":
                        s, varmap, pyo_vars, offset = again
                        st = s.getStatus()
                except Exception:  # keep the first answer
                    pass
    out = SolveOutcome("error", solver="scip", message=st + (
        f" (after {len(failures)} LP failure(s), retried with {params})" if failures else ""))
    if s.getNSols() > 0:
        sol = s.getBestSol()
        out.values = {id(v): float(s.getSolVal(sol, varmap[id(v)])) for v in pyo_vars}
        out.objective = float(s.getSolObjVal(sol)) + offset
    try:
        bound = float(s.getDualbound()) + offset
        out.bound = bound if math.isfinite(bound) else None
    except Exception:  # pragma: no cover
        pass
    if st == "optimal" or st == "gaplimit":
        out.status = "optimal"
    elif st == "infeasible":
        out.status = "infeasible"
    elif st == "unbounded":
        out.status = "unbounded"
    elif st == "inforunbd":  # no verdict: the message keeps SCIP's word for the certificate
        out.message = "SCIP: infeasible or unbounded, not told apart (inforunbd)"
    elif st in ("timelimit", "nodelimit", "memlimit", "userinterrupt", "stallnodelimit"):
        out.status = "time_limit"
    if st == "userinterrupt":
        note_interrupt()  # SCIP caught the Ctrl-C: the solve ends as at its time limit
    out.seconds = time.perf_counter() - t0
    return out
