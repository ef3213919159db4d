"""CVXPY's canonical form read out as affine data (the CVXPY front end,
``bilevel_mp.frontends.cvxpy``): substitution of leaves, the conic data of
``get_problem_data`` up to the matrix stuffing, its affine dependence on the leader's
entries, and the ``bilevel_mp`` objective and rows built from it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

import pyomo.environ as pyo

from ...errors import BilevelInputError, SolverUnavailableError, UnsupportedStructureError
from ...problem import Constraint

ZERO = 1e-12


@dataclass
class Canon:
    """A canonical program, affine in the follower's parameters (x)."""

    P: list  # [P0, dP_1, ..., dP_k] (scipy sparse or None)
    q: list  # [q0, dq_1, ...]
    d: list
    A: list
    b: list
    cols: dict  # canonical column -> ("x" | "y", index)
    n_aux: int
    rows: list = field(default_factory=list)  # (name, kind) per canonical row ("soc": in a cone)
    row_owner: dict = field(default_factory=dict)  # user constraint index -> list of row names
    cones: list = field(default_factory=list)  # (name, t row, [u rows]) per second-order cone


def canonicalize(cp, prob, level, user_cons, params, var_cols, aux_level, aux_start,
                 user_index=None, soc: bool = False) -> Canon:
    """Read ``prob`` (a DCP, DPP ``cvxpy.Problem`` over clone Variables, with the leader's
    entries ``params`` as Parameters) into a ``Canon``: CVXPY's conic data up to the
    matrix stuffing, its rows named after ``user_cons`` and its columns mapped by
    ``var_cols`` (auxiliary columns go to ``aux_level`` from ``aux_start``). With ``soc``
    second-order cones are read too (``Canon.cones``); any other cone is refused."""
    solver = _canon_solver(cp)
    try:
        data, chain, inv = prob.get_problem_data(solver, enforce_dpp=True)
    except cp.error.DPPError as exc:
        raise UnsupportedStructureError(
            f"the {level} is not DPP once the leader's variables are treated as parameters "
            f"(e.g. a product of two leader variables in the follower): {exc}") from None
    except cp.error.DCPError as exc:
        raise UnsupportedStructureError(f"the {level} is not DCP (not provably convex): {exc}") from None
    except cp.error.SolverError as exc:
        raise UnsupportedStructureError(f"CVXPY could not canonicalise the {level}: {exc}") from None
    # Re-run the chain up to the matrix stuffing: its ParamConeProg is the problem as
    # ``A z + b in K`` with each row equal to the constraint's expression (the solver's
    # own formatting, which may negate zero-cone rows, is left out), so multipliers
    # keep CVXPY's sign conventions.
    from cvxpy.reductions.chain import Chain
    from cvxpy.reductions.dcp2cone.cone_matrix_stuffing import ConeMatrixStuffing

    reds = list(chain.reductions)
    k = next((i for i, r in enumerate(reds) if isinstance(r, ConeMatrixStuffing)), None)
    if k is None:
        raise UnsupportedStructureError(f"CVXPY returned no cone program for the {level}")
    pp, inv_cms = Chain(reductions=reds[:k + 1]).apply(prob)
    inv = list(inv_cms)
    # user constraint id -> canonical constraint id, composed through the chain
    idmap = {c.id: c.id for c in user_cons}
    for d in inv:
        m = getattr(d, "cons_id_map", None)
        if isinstance(m, dict):
            idmap = {u: m.get(c, c) for u, c in idmap.items()}
    owner = {}
    user_index = list(range(len(user_cons))) if user_index is None else user_index
    for k, c in enumerate(user_cons):
        owner[idmap[c.id]] = (user_index[k], c)
    Zero, NonNeg = cp.constraints.Zero, cp.constraints.NonNeg
    rows, row_owner, n_aux_rows, cones = [], {}, 0, []
    for con in pp.constraints:
        if soc and isinstance(con, cp.constraints.SOC):
            who = owner.get(con.id)
            base = f"{level}[{who[0]}]" if who else f"{level}.soc[{len(cones)}]"
            names = _soc_rows(con, base, len(rows), cones)
            if who:
                row_owner[who[0]] = names
            rows += [(f"{base}.row[{j}]", "soc") for j in range(con.size)]
            continue
        if not isinstance(con, (Zero, NonNeg)):
            who = owner.get(con.id)
            what = (f"{level} constraint {who[0]} ({short(who[1])})" if who
                    else f"an auxiliary constraint CVXPY built for the {level}'s objective or atoms")
            raise UnsupportedStructureError(
                f"{what} canonicalises to a {type(con).__name__} cone: only zero and "
                "nonnegative cones (linear equalities and inequalities)"
                + (" and second-order cones" if soc else "") + " are supported")
        kind = "eq" if isinstance(con, Zero) else "ge"
        if con.id in owner:
            i = owner[con.id][0]
            names = ([f"{level}[{i}]"] if con.size == 1
                     else [f"{level}[{i}][{j}]" for j in range(con.size)])
            row_owner[i] = names
        else:
            names = [f"{level}.aux[{n_aux_rows + j}]" for j in range(con.size)]
            n_aux_rows += con.size
        rows += [(nm, kind) for nm in names]
    # columns: user variables and CVXPY's auxiliaries
    cols, n_aux = {}, 0
    for v in pp.variables:
        start = pp.var_id_to_col[v.id]
        if v.id in var_cols:
            lvl, off = var_cols[v.id]
            for j in range(int(v.size)):
                cols[start + j] = (lvl, off + j)
        else:
            for j in range(int(v.size)):
                cols[start + j] = (aux_level, aux_start + n_aux + j)
            n_aux += int(v.size)
    for attr in ("lower_bounds", "upper_bounds"):
        bnd = getattr(pp, attr, None)
        if bnd is not None and np.isfinite(np.asarray(bnd, float)).any():
            raise UnsupportedStructureError(
                f"CVXPY produced variable bounds for the {level}'s canonical form; unsupported")
    P, q, d, A, b = _affine_data(pp, params)
    if A[0].shape[0] != len(rows):
        raise UnsupportedStructureError(
            f"the {level}'s canonical data has {A[0].shape[0]} rows, expected {len(rows)}")
    return Canon(P, q, d, A, b, cols, n_aux, rows, row_owner, cones)


def _soc_rows(con, base: str, start: int, cones: list) -> list[str]:
    """Append the cones of a ``cvxpy.SOC`` constraint to ``cones`` (its rows begin at
    ``start``: t, then X column-major); return their names. Axis 0: X's columns are the
    cones; axis 1: its rows."""
    t_size = int(con.args[0].size)
    m = int(con.cone_sizes()[0]) - 1
    names = [base] if t_size == 1 else [f"{base}[{i}]" for i in range(t_size)]
    for i in range(t_size):
        if con.axis == 0:
            u = [start + t_size + i * m + r for r in range(m)]
        else:
            u = [start + t_size + r * t_size + i for r in range(m)]
        cones.append((names[i], start + i, u))
    return names


def short(obj, n: int = 60) -> str:
    s = str(obj)
    return s if len(s) <= n else s[: n - 3] + "..."


def linear_types(cp):
    c = cp.constraints
    return (c.Equality, c.Inequality, c.Zero, c.NonNeg, c.NonPos)


def check_dcp(obj, where, level):
    if obj.is_dcp(dpp=True):
        return
    if obj.is_dcp():
        raise UnsupportedStructureError(
            f"{where} is not DPP once the leader's variables are treated as parameters "
            "(e.g. a product of two leader variables): write such terms in the leader")
    raise UnsupportedStructureError(
        f"{where} is not DCP: the {level} must be convex in its own variables "
        "(CVXPY's disciplined convex programming rules)")


def _canon_solver(cp) -> str:
    installed = set(cp.installed_solvers())
    for s in ("CLARABEL", "SCS"):
        if s in installed:
            return s
    raise SolverUnavailableError(
        "reading CVXPY problems needs the Clarabel or SCS interface of cvxpy: pip install clarabel")


class Substituter:
    """Copy CVXPY expressions with leaves replaced (Variables by clones or Parameters;
    the user's Parameters by Constants holding their current values)."""

    def __init__(self, mapping, cp, level):
        self.mapping = mapping
        self.cp = cp
        self.level = level
        self.memo = {}

    def expr(self, e):
        key = id(e)
        if key in self.memo:
            return self.memo[key][1]
        cp = self.cp
        if isinstance(e, cp.Parameter) and e.id not in self.mapping:
            if e.value is None:
                raise BilevelInputError(f"the {self.level} uses Parameter {e.name()} with no value")
            out = cp.Constant(e.value)
        elif isinstance(e, cp.Variable):
            out = self.mapping.get(e.id, e)
        elif not e.args:
            out = e
        else:
            out = e.copy([self.expr(a) for a in e.args])
        self.memo[key] = (e, out)  # keep e alive so its id is not reused
        return out

    def constraint(self, c):
        return c.copy([self.expr(a) for a in c.args])

    def objective(self, o):
        return type(o)(self.expr(o.args[0]))


def _affine_data(pp, params):
    """P, q, d, A, b of a ParamConeProg as [value at x=0, d/dx_1, ..., d/dx_k] lists,
    k running over the entries of ``params`` (list of (Parameter, block)), each entry
    in column-major order. Verified at a random parameter value."""
    quad = getattr(pp, "P", None) is not None
    all_params = {p.id: p for p in pp.parameters}
    base = {pid: np.zeros(p.shape) for pid, p in all_params.items()}

    def at(values):
        out = pp.apply_parameters(values, quad_obj=quad) if values else pp.apply_parameters(quad_obj=quad)
        if quad:
            P, q, d, A, b = out
        else:
            (q, d, A, b), P = out, None
        return (None if P is None else sp.csr_matrix(P), np.asarray(q, float).ravel(), float(d),
                sp.csr_matrix(A), np.asarray(b, float).ravel())

    P0, q0, d0, A0, b0 = at(base)
    Ps, qs, ds, As, bs = [P0], [q0], [d0], [A0], [b0]
    for par, _blk in params:
        for j in range(int(par.size)):
            vals = dict(base)
            e = np.zeros(int(par.size))
            e[j] = 1.0
            vals[par.id] = e.reshape(par.shape, order="F")
            Pj, qj, dj, Aj, bj = at(vals)
            Ps.append(None if P0 is None else _clean(Pj - P0))
            qs.append(_clean_dense(qj - q0))
            ds.append(dj - d0)
            As.append(_clean(Aj - A0))
            bs.append(_clean_dense(bj - b0))
    if len(qs) > 1:  # affinity check at a random point
        rng = np.random.default_rng(0)
        vals, theta = dict(base), []
        for par, _blk in params:
            t = rng.uniform(0.5, 1.5, int(par.size))
            if par.is_nonpos():
                t = -t
            theta.append(t)
            vals[par.id] = t.reshape(par.shape, order="F")
        theta = np.concatenate(theta)
        Pr, qr, dr, Ar, br = at(vals)
        pred_A = A0 + sum(t * a for t, a in zip(theta, As[1:]))
        pred_b = b0 + sum(t * a for t, a in zip(theta, bs[1:]))
        pred_q = q0 + sum(t * a for t, a in zip(theta, qs[1:]))
        err = max(abs(pred_A - Ar).max() if Ar.nnz or pred_A.nnz else 0.0,
                  np.abs(pred_b - br).max(initial=0.0), np.abs(pred_q - qr).max(initial=0.0),
                  abs(d0 + float(np.dot(theta, ds[1:])) - dr))
        if P0 is not None:
            pred_P = P0 + sum(t * a for t, a in zip(theta, Ps[1:]))
            err = max(err, abs(pred_P - Pr).max() if Pr.nnz or pred_P.nnz else 0.0)
        scale = 1.0 + max(abs(Ar).max() if Ar.nnz else 0.0, np.abs(br).max(initial=0.0),
                          np.abs(qr).max(initial=0.0), abs(dr))
        if err > 1e-7 * scale:
            raise UnsupportedStructureError(
                f"the follower's data is not affine in the leader's variables (error {err:.3g})")
    return Ps, qs, ds, As, bs


def _clean(M):
    M = sp.csr_matrix(M)
    M.data[np.abs(M.data) < ZERO] = 0.0
    M.eliminate_zeros()
    return M


def _clean_dense(v):
    v = np.array(v, float)
    v[np.abs(v) < ZERO] = 0.0
    return v


def poly_sum(terms):
    if not terms:
        return 0.0
    import pyomo.environ as pyo

    return pyo.quicksum(terms)


def objective_expr(c: Canon, var, params):
    """1/2 z'P(x)z + q(x)'z + d(x) over the problem's variables (min form)."""
    terms = []
    for k in range(len(c.q)):
        scale = None if k == 0 else params[k - 1]
        part = []
        P = c.P[k]
        if P is not None and P.nnz:
            Pc = P.tocoo()
            quad = {}
            for i, j, v in zip(Pc.row, Pc.col, Pc.data):
                a, b = (i, j) if i <= j else (j, i)
                quad[(a, b)] = quad.get((a, b), 0.0) + (0.5 * v)
            for (i, j), v in quad.items():
                if abs(v) > ZERO:
                    part.append(v * var(c.cols[i]) * var(c.cols[j]))
        q = c.q[k]
        for j in np.flatnonzero(q):
            part.append(float(q[j]) * var(c.cols[j]))
        if c.d[k] != 0:
            part.append(float(c.d[k]))
        if not part:
            continue
        if scale is None:
            terms += part
        else:
            terms.append(scale * poly_sum(part))
    return poly_sum(terms)


def row_constraints(c: Canon, var, params, level) -> list[Constraint]:
    """Rows A(x) z + b(x) (>= 0 or == 0) as ``Constraint`` objects named per user row."""
    n_rows = len(c.rows)
    per_row = [[] for _ in range(n_rows)]
    for k in range(len(c.A)):
        scale = None if k == 0 else params[k - 1]
        A = c.A[k].tocsr()
        contrib = [[] for _ in range(n_rows)]
        for r in range(n_rows):
            lo, hi = A.indptr[r], A.indptr[r + 1]
            for j, v in zip(A.indices[lo:hi], A.data[lo:hi]):
                contrib[r].append(float(v) * var(c.cols[j]))
        bk = c.b[k]
        for r in range(n_rows):
            if bk[r] != 0:
                contrib[r].append(float(bk[r]))
            if not contrib[r]:
                continue
            if scale is None:
                per_row[r] += contrib[r]
            else:
                per_row[r].append(scale * poly_sum(contrib[r]))
    out = []
    for name, t_row, u_rows in c.cones:  # t − sqrt(Σ u²) >= 0: ``bilevel_mp.cones`` reads it back
        t, u = poly_sum(per_row[t_row]), [poly_sum(per_row[r]) for r in u_rows]
        out.append(Constraint(name, t - pyo.sqrt(sum(e * e for e in u)), "ge"))
    for r, (name, kind) in enumerate(c.rows):
        if kind == "soc":
            continue
        body = poly_sum(per_row[r])
        if isinstance(body, (int, float)):
            ok = body == 0 if kind == "eq" else body >= -1e-9
            if not ok:
                raise BilevelInputError(
                    f"{level} row {name} reads {body:g} {'== 0' if kind == 'eq' else '>= 0'}: "
                    "the constraint can never hold")
            continue
        out.append(Constraint(name, body, kind))
    return out
