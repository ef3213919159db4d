"""Compare local NLP engines on the regularised MPEC continuation (BOLIB problems).

Engines, all on the same ``ScholtesMPEC`` model, the same starts (xy_init + sampled),
the same t schedule and the same cold/warm options (``regularized.COLD_OPTIONS`` /
``WARM_OPTIONS``):

- ``ripopt``        ``bilevel_mp.backends.nlp`` (Pyomo NL file -> ripopt subprocess)
- ``ipopt-casadi``  CasADi's bundled IPOPT (MUMPS), model translated once to CasADi SX
                    with t as a parameter; primal warm start
- ``ipopt-casadi+mult``  the same, warm-starting the multipliers too
                    (``warm_start_init_point``)
- ``ipopt-cyipopt`` cyipopt's scipy-style ``minimize_ipopt`` with exact derivatives
                    from CasADi (dense Jacobians / Hessians); primal warm start

For each end point: certificate (``regularized._certify_point``) and F against BOLIB's
F_best. Times are the NLP solves only (model building reported separately).

    python benchmarks/nlp_solvers_compare.py [--problems A,B,...] [--starts 2] [--limit 20]
"""

import argparse
import json
import logging
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr import numeric_expr as ne
from pyomo.core.expr.numvalue import native_numeric_types

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bilevel_mp.frontends.expr import load_problems  # noqa: E402
from bilevel_mp.methods.regularized import certify_point  # noqa: E402
from bilevel_mp.reformulations import scholtes as R  # noqa: E402

PROBLEMS = Path("/work/shared/bolib/problems.json")


# ------------------------------------------------------------- Pyomo -> CasADi
class ToCasadi:
    """Translate a Pyomo expression over ``variables`` (and the Param ``t``) to SX."""

    def __init__(self, ca, variables, X, t_param, T):
        self.ca = ca
        self.index = {id(v): k for k, v in enumerate(variables)}
        self.X, self.t_param, self.T = X, t_param, T

    def __call__(self, e):
        ca = self.ca
        if e.__class__ in native_numeric_types:
            return float(e)
        if e is self.t_param:
            return self.T
        if e.is_variable_type():
            return float(e.value) if e.fixed else self.X[self.index[id(e)]]
        if e.is_named_expression_type():
            return self(e.expr)
        if not e.is_expression_type():  # Param, numeric constant
            return float(pyo.value(e))
        a = e.args
        if isinstance(e, (ne.SumExpression, ne.LinearExpression, ne.NPV_SumExpression)):
            out = 0
            for arg in a:
                out = out + self(arg)
            return out
        if isinstance(e, (ne.ProductExpression, ne.MonomialTermExpression, ne.NPV_ProductExpression)):
            return self(a[0]) * self(a[1])
        if isinstance(e, (ne.DivisionExpression, ne.NPV_DivisionExpression)):
            return self(a[0]) / self(a[1])
        if isinstance(e, (ne.NegationExpression, ne.NPV_NegationExpression)):
            return -self(a[0])
        if isinstance(e, (ne.PowExpression, ne.NPV_PowExpression)):
            return self(a[0]) ** self(a[1])
        if isinstance(e, (ne.AbsExpression, ne.NPV_AbsExpression)):
            return ca.fabs(self(a[0]))
        if isinstance(e, (ne.UnaryFunctionExpression, ne.NPV_UnaryFunctionExpression)):
            return getattr(ca, e.getname())(self(a[0]))
        raise TypeError(f"cannot translate {type(e).__name__}")


class CasadiNLP:
    """The MPEC's NLP in CasADi form: f(x, t), g(x, t) with lbg <= g <= ubg."""

    def __init__(self, mpec: R.ScholtesMPEC):
        import casadi as ca

        self.ca = ca
        m = mpec.model
        self.variables = mpec.variables()
        n = len(self.variables)
        X, T = ca.SX.sym("x", n), ca.SX.sym("t")
        tr = ToCasadi(ca, self.variables, X, m.t, T)
        self.f = tr(mpec.lifted.slm.objective)
        rows, lo, hi = [], [], []
        for c in m.component_data_objects(pyo.Constraint, active=True):
            body = tr(c.body)
            if c.equality:
                rows.append(body - tr(c.upper)); lo.append(0.0); hi.append(0.0)
                continue
            if c.lower is not None:
                rows.append(body - tr(c.lower)); lo.append(0.0); hi.append(math.inf)
            if c.upper is not None:
                rows.append(tr(c.upper) - body); lo.append(0.0); hi.append(math.inf)
        self.g = ca.vertcat(*rows) if rows else ca.SX(0, 1)
        self.lbg, self.ubg = np.array(lo), np.array(hi)
        self.lbx = np.array([-math.inf if v.lb is None else v.lb for v in self.variables])
        self.ubx = np.array([math.inf if v.ub is None else v.ub for v in self.variables])
        self.X, self.T = X, T
        self.eq = np.where(self.lbg == self.ubg)[0]
        self.ineq = np.where(self.lbg != self.ubg)[0]
        self._solvers = {}
        self._cy = None

    # ----------------------------------------------------------------- casadi
    def casadi_solver(self, options: dict, warm_mult: bool):
        options = {"max_wall_time": R.STAGE_TIME_LIMIT, **options}
        key = (json.dumps(options, sort_keys=True), warm_mult)
        if key not in self._solvers:
            opts = {f"ipopt.{k}": v for k, v in options.items()}
            opts.update({"print_time": False, "ipopt.sb": "yes"})
            if warm_mult:
                opts["ipopt.warm_start_init_point"] = "yes"
            self._solvers[key] = self.ca.nlpsol(
                "s", "ipopt", {"x": self.X, "p": self.T, "f": self.f, "g": self.g}, opts)
        return self._solvers[key]

    # ---------------------------------------------------------------- cyipopt
    def cyipopt_functions(self):
        if self._cy is None:
            ca, X, T = self.ca, self.X, self.T
            fns = {"f": ca.Function("f", [X, T], [self.f]),
                   "df": ca.Function("df", [X, T], [ca.gradient(self.f, X)]),
                   "Hf": ca.Function("Hf", [X, T], [ca.hessian(self.f, X)[0]])}
            for name, idx in (("eq", self.eq), ("ineq", self.ineq)):
                if len(idx) == 0:
                    continue
                g = self.g[[int(i) for i in idx]]
                v = ca.SX.sym("v", len(idx))
                fns[name] = ca.Function(name, [X, T], [g])
                fns["J" + name] = ca.Function("J" + name, [X, T], [ca.jacobian(g, X)])
                fns["H" + name] = ca.Function("H" + name, [X, T, v],
                                              [ca.hessian(ca.dot(v, g), X)[0]])
            self._cy = fns
        return self._cy


# ------------------------------------------------------------------ continuation
def _continuation(x0, ts, deadline, stage):
    """The continuation loop shared by the engines: ``stage(x, t, opts, warm)`` solves one
    relaxation and returns its point or None. Returns (last accepted point, its t, failures)."""
    x = np.array(x0, float)
    kept, kept_t, fails = None, None, 0
    for t in ts:
        left = deadline - time.perf_counter()
        if left <= 0.05:
            break
        warm = kept is not None
        opts = dict(R.WARM_OPTIONS if warm else R.COLD_OPTIONS)
        opts.setdefault("tol", 1e-9)
        z = stage(x, t, opts, warm, left)
        if z is not None:
            x = z
            kept, kept_t = x.copy(), t
        else:
            fails += 1
            if kept is None and fails >= R.MAX_COLD_FAILURES:
                break
    return kept, kept_t, fails


def run_casadi(nlp: CasadiNLP, x0, ts, deadline, warm_mult=False):
    """Continuation with CasADi's IPOPT; returns (values or None, t, stages, failures)."""
    mult = {}

    def stage(x, t, opts, warm, left):
        s = nlp.casadi_solver(opts, warm_mult and warm)
        args = dict(x0=x, p=t, lbx=nlp.lbx, ubx=nlp.ubx, lbg=nlp.lbg, ubg=nlp.ubg)
        if warm_mult and warm:
            args.update(lam_x0=mult["x"], lam_g0=mult["g"])
        try:
            sol = s(**args)
            if s.stats()["return_status"] != "Solve_Succeeded":
                return None
        except RuntimeError:
            return None
        mult["x"], mult["g"] = np.array(sol["lam_x"]).ravel(), np.array(sol["lam_g"]).ravel()
        return np.array(sol["x"]).ravel()

    return _continuation(x0, ts, deadline, stage)


def run_cyipopt(nlp: CasadiNLP, x0, ts, deadline):
    from cyipopt import minimize_ipopt

    F = nlp.cyipopt_functions()
    bounds = [(None if not math.isfinite(a) else a, None if not math.isfinite(b) else b)
              for a, b in zip(nlp.lbx, nlp.ubx)]

    def stage(x, t, opts, warm, left):
        opts.update({"max_wall_time": float(min(left, R.STAGE_TIME_LIMIT)), "sb": "yes"})
        cons = []
        for name, typ in (("eq", "eq"), ("ineq", "ineq")):
            if name in F:
                cons.append({"type": typ,
                             "fun": lambda z, f=F[name]: np.array(f(z, t)).ravel(),
                             "jac": lambda z, f=F["J" + name]: np.array(f(z, t)),
                             "hess": lambda z, v, f=F["H" + name]: np.array(f(z, t, v))})
        try:
            res = minimize_ipopt(lambda z: float(F["f"](z, t)), x,
                                 jac=lambda z: np.array(F["df"](z, t)).ravel(),
                                 hess=lambda z: np.array(F["Hf"](z, t)),
                                 bounds=bounds, constraints=cons, options=opts)
        except Exception:  # noqa: BLE001
            return None
        return np.array(res.x, float) if res.status == 0 else None

    return _continuation(x0, ts, deadline, stage)


def run_ripopt(mpec: R.ScholtesMPEC, ts, deadline):
    run = mpec.continuation(ts, deadline=deadline)
    fails = sum(not s.accepted for s in run.stages)
    if run.values is None:
        return None, None, fails
    return np.array([run.values[id(v)] for v in mpec.variables()]), run.t, fails


# --------------------------------------------------------------------------- main
ENGINES = ("ripopt", "ipopt-casadi", "ipopt-casadi+mult", "ipopt-cyipopt")


def bench_problem(entry, engines, n_samples, limit, seed=0):
    p = load_problems([entry])[0]
    mpec = R.ScholtesMPEC(p)
    if mpec.infeasible:
        return []
    t = time.perf_counter()
    nlp = CasadiNLP(mpec)
    if any(e.startswith("ipopt-casadi") for e in engines):  # build the solvers untimed
        for opts, mult in ((R.COLD_OPTIONS, False), (R.WARM_OPTIONS, False),
                           (R.WARM_OPTIONS, True)):
            nlp.casadi_solver({"tol": 1e-9, **opts}, mult)
    if "ipopt-cyipopt" in engines:
        nlp.cyipopt_functions()
    build = time.perf_counter() - t
    variables = mpec.variables()
    starts = list(R.starts(mpec, n_samples, np.random.default_rng(seed)))
    rows = []
    Fb = p.known_F
    for engine in engines:
        for k, (label, x0, y0) in enumerate(starts):
            mpec.set_start(x0, y0)
            start_vec = [v.value if v.value is not None else 0.0 for v in variables]
            ts = R.schedule(t0=R.T0 if k == 0 else 1e-2)
            t0 = time.perf_counter()
            deadline = t0 + limit
            if engine == "ripopt":
                z, t_end, fails = run_ripopt(mpec, ts, deadline)
            elif engine == "ipopt-cyipopt":
                z, t_end, fails = run_cyipopt(nlp, start_vec, ts, deadline)
            else:
                z, t_end, fails = run_casadi(nlp, start_vec, ts, deadline,
                                             warm_mult=engine.endswith("+mult"))
            sec = time.perf_counter() - t0
            row = dict(problem=p.name, engine=engine, start=label, seconds=sec, fails=fails,
                       stages=len(ts), t_end=t_end, certified=False, F=None, solved=False)
            if z is not None:
                vals = {id(v): float(val) for v, val in zip(variables, z)}
                x, y = mpec.xy(vals)
                y, cert, _, _ = certify_point(p, x, y, 10.0)
                F = p.evaluate(x, y)["F"]
                row.update(certified=bool(cert.certified), F=F)
                row["solved"] = bool(cert.certified and Fb is not None and not math.isnan(Fb)
                                     and abs(F - Fb) <= 1e-2 * max(1.0, abs(Fb)))
            rows.append(row)
    for r in rows:
        r["build_casadi"] = build
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", default="", help="comma-separated names (default: all)")
    ap.add_argument("--starts", type=int, default=2, help="sampled starts besides xy_init")
    ap.add_argument("--limit", type=float, default=20.0, help="seconds per continuation")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--out", default="", help="write the rows as JSON lines")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    entries = json.loads(PROBLEMS.read_text())
    if args.problems:
        wanted = set(args.problems.split(","))
        entries = [e for e in entries if e["name"] in wanted]
    engines = args.engines.split(",")
    rows = []
    out = open(args.out, "w") if args.out else None
    for e in entries:
        try:
            new = bench_problem(e, engines, args.starts, args.limit)
        except Exception as exc:  # noqa: BLE001
            print(f"{e['name']}: failed ({exc})", file=sys.stderr)
            continue
        rows += new
        for r in new:
            if out:
                out.write(json.dumps(r) + "\n")
                out.flush()
        print(e["name"], " ".join(
            f"{eng}:{sum(r['solved'] for r in new if r['engine'] == eng)}/"
            f"{sum(r['seconds'] for r in new if r['engine'] == eng):.2f}s" for eng in engines),
            flush=True)
    print()
    print(f"{'engine':20s} {'runs':>5s} {'converged':>9s} {'certified':>9s} {'F ok':>5s} "
          f"{'problems F ok':>13s} {'stage fails':>11s} {'median s':>8s} {'total s':>8s}")
    for eng in engines:
        rs = [r for r in rows if r["engine"] == eng]
        if not rs:
            continue
        probs = {r["problem"] for r in rs if r["solved"]}
        print(f"{eng:20s} {len(rs):5d} {sum(r['t_end'] is not None for r in rs):9d} "
              f"{sum(r['certified'] for r in rs):9d} {sum(r['solved'] for r in rs):5d} "
              f"{len(probs):13d} {sum(r['fails'] for r in rs):5d}/{sum(r['stages'] for r in rs):<5d} "
              f"{statistics.median(r['seconds'] for r in rs):8.3f} {sum(r['seconds'] for r in rs):8.1f}")


if __name__ == "__main__":
    main()
