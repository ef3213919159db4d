"""CVXPY front end: leader and follower as two ``cvxpy.Problem`` objects sharing Variables.

    import cvxpy as cp
    from bilevel_mp.frontends.cvxpy import from_cvxpy

    x = cp.Variable(name="x"); y = cp.Variable(name="y")
    leader = cp.Problem(cp.Minimize(x + y), [x >= 0])
    follower = cp.Problem(cp.Minimize(-5 * x - y), [x + y / 2 <= 2, y >= 0, ...])
    bp = from_cvxpy(leader, follower, lower_vars=[y])
    result = bilevel_mp.solve(bp)       # x.value, y.value and follower duals written back

Every variable that is not in ``lower_vars`` is a leader variable (x); the follower
optimises over ``lower_vars`` for fixed x.

How the follower is read
------------------------
The follower is read from CVXPY's own conic canonicalisation. In a private copy of
the follower every leader variable is replaced by a ``cvxpy.Parameter`` of the same
shape (and sign), so ``Problem.get_problem_data`` (Clarabel's chain, ``enforce_dpp``)
returns a ``ParamConeProg``: the follower as

    min_z  1/2 z'P(x)z + q(x)'z + d(x)   s.t.   A(x) z + b(x)  in  K

with z = (the follower's variables, CVXPY's auxiliary epigraph variables) and P, q,
d, A, b affine in x. The affine maps are read with ``apply_parameters`` at x = 0 and at
each unit vector (and checked at a random x). Terms such as ``x @ y`` in the follower's
objective, or ``x[0] * y <= 1`` in its constraints, are therefore accepted: they are
affine in the parameter. The follower must be DCP (hence convex in y) and DPP in x,
with zero-cone rows (equalities) and nonnegative-cone rows (linear or piecewise-linear
inequalities: ``abs``, ``maximum``, ``norm1``, ... are fine); its objective must be
linear, convex quadratic or piecewise linear. Second-order, PSD, exponential and power
cones are refused with ``UnsupportedStructureError`` naming the constraint, as are
nonconvex (non-DCP) followers and integer follower variables. Auxiliary variables of
the canonical form become extra follower variables (named ``follower.t[k]``, at the end
of ``problem.y``); the projection of the follower's optimal set onto its own variables
is unchanged.

How the leader is read
----------------------
The leader's DCP part (a linear, convex-quadratic or piecewise-linear objective, and
linear / piecewise-linear constraints) is read from the same canonical data, with x
and y as variables; its auxiliary variables become extra leader variables (``leader.t[k]``,
at the end of ``problem.x``). A leader objective or constraint that is quadratic but
not DCP (for instance the bilinear revenue ``x @ y`` of a pricing problem, or ``x * y <= 1``)
is read exactly as a quadratic polynomial by evaluating it on probe points (and checked
at random points); anything else is refused naming the offending part. Integer and
boolean leader variables become integer x (boolean with bounds [0, 1]); sign and
``bounds`` attributes become variable bounds.

Names and the map back
----------------------
Follower constraint ``follower.constraints[i]`` becomes the lower-level rows named
``follower[i]`` (scalar constraint) or ``follower[i][j]`` (entry j of a vector or
matrix constraint, in CVXPY's column-major order); rows CVXPY adds for an atom are
``follower.aux[k]``. The leader's rows are named ``leader[i]`` likewise. So
``result.duals["follower[2]"]`` is the multiplier of the user's third follower
constraint, in the KKT sign convention of ``bilevel_mp`` (min form, ``f - λ·g`` with
``g >= 0`` and ``f - μ·h`` with ``h = 0``). ``write_back`` (called by ``bilevel_mp.solve``)
stores x and y in the Variables' ``value`` and each follower constraint's multipliers
in its ``dual_value`` in CVXPY's own convention (inequalities ``>= 0``; equalities with
CVXPY's sign, the negative of μ above), whenever all of its rows have a multiplier.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..errors import BilevelInputError, SolverUnavailableError, UnsupportedStructureError
from ..problem import BilevelProblem, Constraint

_UNSUPPORTED_ATTRS = ("symmetric", "diag", "PSD", "NSD", "hermitian", "complex", "imag", "sparsity")
_MAX_PROBE_VARS = 300  # quadratic read-out by probing costs O(n^2) evaluations
_ZERO = 1e-12


def _cvxpy():
    try:
        import cvxpy
    except ImportError:  # pragma: no cover - exercised only without cvxpy
        raise SolverUnavailableError(
            "the CVXPY front end needs cvxpy: pip install 'bilevel-mp[cvxpy]'") from None
    return cvxpy


# ---------------------------------------------------------------------- public API
def from_cvxpy(leader, follower, lower_vars, name: str = "cvxpy_bilevel") -> "CvxpyBilevel":
    """Build a bilevel problem from a leader and a follower ``cvxpy.Problem``.

    Parameters
    ----------
    leader, follower : cvxpy.Problem
        Leader (upper level) and follower (lower level), sharing Variables.
    lower_vars : cvxpy.Variable or list of them
        The follower's variables; every other variable is the leader's.
    name : str
        Name of the problem in results.

    Returns a ``CvxpyBilevel``; pass it to ``bilevel_mp.solve``.
    """
    cp = _cvxpy()
    for label, prob in (("leader", leader), ("follower", follower)):
        if not isinstance(prob, cp.Problem):
            raise BilevelInputError(
                f"the {label} must be a cvxpy.Problem, got {type(prob).__name__}")
    return CvxpyBilevel(leader, follower, lower_vars, name)


@dataclass
class _VarBlock:
    var: object  # the user's cvxpy Variable
    start: int  # offset in problem.x or problem.y
    lb: np.ndarray  # flat (column-major) bounds and integrality
    ub: np.ndarray
    integer: np.ndarray

    @property
    def size(self) -> int:
        return int(self.var.size)


@dataclass
class _Canon:
    """A canonical program, affine in the follower's parameters (x)."""

    P: list  # [P0, dP_1, ..., dP_k] (scipy sparse or None)
    q: list  # [q0, dq_1, ...]
    d: list
    A: list
    b: list
    cols: dict  # canonical column -> ("x" | "y", index)
    n_aux: int
    rows: list = field(default_factory=list)  # (name, kind) per canonical row
    row_owner: dict = field(default_factory=dict)  # user constraint index -> list of row names


class CvxpyBilevel:
    """A bilevel problem read from two CVXPY problems (see the module docstring).

    ``problem`` is the ``BilevelProblem``; ``write_back(result)`` puts a result's x, y
    and follower multipliers onto the user's Variables and Constraints."""

    def __init__(self, leader, follower, lower_vars, name: str = "cvxpy_bilevel"):
        self.cp = cp = _cvxpy()
        self.leader = leader
        self.follower = follower
        self.name = name
        ys = self._lower_vars(lower_vars)
        xs = self._leader_vars(ys)
        self.x_blocks = self._blocks(xs, "leader")
        self.y_blocks = self._blocks(ys, "follower")
        for blk in self.y_blocks:
            if blk.integer.any():
                raise UnsupportedStructureError(
                    f"follower variable {blk.var.name()} is integer/boolean: the follower must be "
                    "continuous (KKT and strong duality need a convex lower level)")
        # private clones: leader vars are Parameters in the follower, plain Variables
        # (no attributes: bounds and integrality are imposed by bilevel_mp) elsewhere
        self._x_clone = {b.var.id: cp.Variable(b.var.shape) for b in self.x_blocks}
        self._y_clone = {b.var.id: cp.Variable(b.var.shape) for b in self.y_blocks}
        self._x_param = {}
        for b in self.x_blocks:
            nonneg = bool(np.all(b.lb >= 0))
            nonpos = bool(np.all(b.ub <= 0)) and not nonneg
            par = cp.Parameter(b.var.shape, nonneg=nonneg, nonpos=nonpos)
            par.value = np.zeros(b.var.shape) if b.var.shape else 0.0
            self._x_param[b.var.id] = par

        fcanon = self._read_follower()
        lcanon, lnum_obj, lnum_cons = self._read_leader()
        self.problem = self._build(fcanon, lcanon, lnum_obj, lnum_cons)
        self.follower_rows = fcanon.row_owner
        self._follower_canon = fcanon

    # ------------------------------------------------------------ variables
    def _lower_vars(self, lower_vars) -> list:
        cp = self.cp
        if isinstance(lower_vars, cp.Variable):
            lower_vars = [lower_vars]
        try:
            lower_vars = list(lower_vars)
        except TypeError:
            raise BilevelInputError(
                f"lower_vars must be a cvxpy Variable or a list of them, got "
                f"{type(lower_vars).__name__}") from None
        if not lower_vars:
            raise BilevelInputError(
                "lower_vars is empty: name the follower's variables, e.g. lower_vars=[y]")
        out, seen = [], set()
        for k, v in enumerate(lower_vars):
            if not isinstance(v, cp.Variable):
                raise BilevelInputError(
                    f"lower_vars[{k}] is a {type(v).__name__}, not a cvxpy Variable (pass whole "
                    "Variables, not slices or expressions)")
            if v.id not in seen:
                seen.add(v.id)
                out.append(v)
        in_follower = {v.id for v in self.follower.variables()}
        missing = [v.name() for v in out if v.id not in in_follower]
        if missing:
            raise BilevelInputError(
                f"lower_vars names {missing}, which do not appear in the follower problem: "
                "lower_vars must list the follower's own variables")
        return out

    def _leader_vars(self, ys) -> list:
        y_ids = {v.id for v in ys}
        out, seen = [], set()
        leader_ids = {v.id for v in self.leader.variables()}
        for v in list(self.leader.variables()) + list(self.follower.variables()):
            if v.id in y_ids or v.id in seen:
                continue
            seen.add(v.id)
            out.append(v)
            if v.id not in leader_ids:
                warnings.warn(
                    f"variable {v.name()} appears only in the follower and is not in lower_vars: "
                    "it is treated as a leader decision", stacklevel=4)
        return out

    def _blocks(self, variables, level) -> list[_VarBlock]:
        blocks, start = [], 0
        for v in variables:
            attrs = getattr(v, "attributes", {})
            bad = [a for a in _UNSUPPORTED_ATTRS if _truthy(attrs.get(a))]
            if bad:
                raise UnsupportedStructureError(
                    f"{level} variable {v.name()} has attribute(s) {bad}: only sign, bounds, "
                    "integer and boolean attributes are supported")
            n = int(v.size)
            lb = np.full(n, -np.inf)
            ub = np.full(n, np.inf)
            if attrs.get("nonneg") or attrs.get("pos"):
                lb[:] = 0.0
            if attrs.get("nonpos") or attrs.get("neg"):
                ub[:] = 0.0
            bounds = attrs.get("bounds")
            if bounds is not None:
                for arr, val, pick in ((lb, bounds[0], np.maximum), (ub, bounds[1], np.minimum)):
                    if val is None:
                        continue
                    val = getattr(val, "value", val)
                    if val is None:
                        raise BilevelInputError(f"{level} variable {v.name()}: a bound has no value")
                    arr[:] = pick(arr, np.broadcast_to(np.asarray(val, float), v.shape)
                                  .ravel(order="F"))
            integer = _index_mask(v, "integer") | _index_mask(v, "boolean")
            boolean = _index_mask(v, "boolean")
            lb[boolean] = np.maximum(lb[boolean], 0.0)
            ub[boolean] = np.minimum(ub[boolean], 1.0)
            blocks.append(_VarBlock(v, start, lb, ub, integer))
            start += n
        return blocks

    # ------------------------------------------------------------ follower
    def _read_follower(self) -> _Canon:
        cp = self.cp
        mapping = {**self._x_param, **self._y_clone}
        sub = _Substituter(mapping, cp, "follower")
        cons = []
        for i, c in enumerate(self.follower.constraints):
            where = f"follower constraint {i} ({_short(c)})"
            if not isinstance(c, _linear_types(cp)):
                raise UnsupportedStructureError(
                    f"{where} is a {type(c).__name__} constraint: the follower may only have "
                    "equalities and linear or piecewise-linear inequalities (zero and nonnegative "
                    "cones); second-order, PSD, exponential and power cones are not supported")
            cc = sub.constraint(c)
            _check_dcp(cc, where, "follower")
            if not all(a.is_pwl() for a in cc.args):
                raise UnsupportedStructureError(
                    f"{where} is not linear or piecewise linear in the follower's variables: it "
                    "would need a second-order (or other nonlinear) cone, which the follower may "
                    "not have")
            cons.append(cc)
        obj = sub.objective(self.follower.objective)
        where = f"follower objective ({_short(self.follower.objective)})"
        _check_dcp(obj, where, "follower")
        if not obj.args[0].is_qpwa():
            raise UnsupportedStructureError(
                f"{where} is not linear, convex quadratic or piecewise linear: the follower must "
                "be an LP or convex QP")
        prob = cp.Problem(obj, cons)
        params = [(self._x_param[b.var.id], b) for b in self.x_blocks
                  if self._x_param[b.var.id].id in {p.id for p in prob.parameters()}]
        self._fparam_blocks = [b for _par, b in params]  # order of x entries in the data
        return self._canonicalize(prob, "follower", cons, params,
                                  {self._y_clone[b.var.id].id: ("y", b.start) for b in self.y_blocks},
                                  aux_level="y", aux_start=sum(b.size for b in self.y_blocks))

    # ------------------------------------------------------------ leader
    def _read_leader(self):
        cp = self.cp
        mapping = {**self._x_clone, **self._y_clone}
        sub = _Substituter(mapping, cp, "leader")
        canon_cons, canon_idx, numeric = [], [], []
        for i, c in enumerate(self.leader.constraints):
            where = f"leader constraint {i} ({_short(c)})"
            if not isinstance(c, _linear_types(cp)):
                raise UnsupportedStructureError(
                    f"{where} is a {type(c).__name__} constraint: the leader may have linear, "
                    "piecewise-linear or quadratic constraints only")
            cc = sub.constraint(c)
            if cc.is_dcp() and all(a.is_pwl() for a in cc.args):
                canon_cons.append(cc)
                canon_idx.append(i)
            elif all(a.is_quadratic() for a in cc.args):
                numeric.append((i, cc))
            else:
                raise UnsupportedStructureError(
                    f"{where} is neither piecewise linear and DCP nor quadratic: the leader must be "
                    "an LP/QP (with linear, piecewise-linear or quadratic constraints)")
        obj = sub.objective(self.leader.objective)
        expr = obj.args[0]
        where = f"leader objective ({_short(self.leader.objective)})"
        numeric_obj = None
        if obj.is_dcp() and expr.is_qpwa():
            canon_obj = obj
        elif expr.is_quadratic():
            canon_obj = cp.Minimize(0)
            numeric_obj = expr
        else:
            raise UnsupportedStructureError(
                f"{where} is neither a convex (DCP) LP/QP objective nor a quadratic polynomial")
        prob = cp.Problem(canon_obj, canon_cons)
        cols = {self._x_clone[b.var.id].id: ("x", b.start) for b in self.x_blocks}
        cols.update({self._y_clone[b.var.id].id: ("y", b.start) for b in self.y_blocks})
        if prob.variables():
            canon = self._canonicalize(prob, "leader", canon_cons, [], cols, aux_level="x",
                                       aux_start=sum(b.size for b in self.x_blocks),
                                       user_index=canon_idx)
        else:
            d = float(np.asarray(canon_obj.args[0].value).sum()) if canon_obj.args[0].value is not None else 0.0
            canon = _Canon([None], [np.zeros(0)], [d], [sp.csr_matrix((0, 0))], [np.zeros(0)], {}, 0)
        return canon, numeric_obj, numeric

    # ------------------------------------------------------------ canonical data
    def _canonicalize(self, prob, level, user_cons, params, var_cols, aux_level, aux_start,
                      user_index=None) -> _Canon:
        cp = self.cp
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
        rows, row_owner, n_aux_rows = [], {}, 0
        for con in pp.constraints:
            if not isinstance(con, (Zero, NonNeg)):
                who = owner.get(con.id)
                what = (f"{level} constraint {who[0]} ({_short(who[1])})" if who
                        else f"an auxiliary constraint CVXPY built for the {level}'s objective or atoms")
                raise UnsupportedStructureError(
                    f"{what} canonicalises to a {type(con).__name__} cone: only zero and "
                    "nonnegative cones (linear equalities and inequalities) are supported")
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
        return _Canon(P, q, d, A, b, cols, n_aux, rows, row_owner)

    # ------------------------------------------------------------ build
    def _build(self, fc: _Canon, lc: _Canon, num_obj, num_cons) -> BilevelProblem:
        nx_user = sum(b.size for b in self.x_blocks)
        ny_user = sum(b.size for b in self.y_blocks)
        n_x, n_y = nx_user + lc.n_aux, ny_user + fc.n_aux
        x_names = _entry_names(self.x_blocks) + [f"leader.t[{k}]" for k in range(lc.n_aux)]
        y_names = _entry_names(self.y_blocks) + [f"follower.t[{k}]" for k in range(fc.n_aux)]
        x_bounds = [(lo, hi) for b in self.x_blocks for lo, hi in zip(b.lb, b.ub)] + \
            [(None, None)] * lc.n_aux
        y_bounds = [(lo, hi) for b in self.y_blocks for lo, hi in zip(b.lb, b.ub)] + \
            [(None, None)] * fc.n_aux
        x_int = [bool(v) for b in self.x_blocks for v in b.integer] + [False] * lc.n_aux
        p = BilevelProblem(n_x, n_y, name=self.name, x_bounds=x_bounds, y_bounds=y_bounds,
                           x_integer=x_int, x_names=x_names, y_names=y_names)
        self._n_x_user, self._n_y_user = nx_user, ny_user

        def var(ref):
            lvl, k = ref
            return p.x[k] if lvl == "x" else p.y[k]

        # follower: parameters are the leader's entries, in block order
        fparams = [p.x[b.start + j] for b in self._fparam_blocks for j in range(b.size)]
        f_min = _objective_expr(fc, var, fparams)
        g = _row_constraints(fc, var, fparams, "follower")
        # leader
        F_min = _objective_expr(lc, var, [])
        G = _row_constraints(lc, var, [], "leader")
        if num_obj is not None or num_cons:
            cols = self._probe_cols()
            if num_obj is not None:  # read in the user's sense; F_min is in min form
                F_num = _quadratic_expr(num_obj, cols, var, "leader objective")[0]
                is_max = isinstance(self.leader.objective, self.cp.Maximize)
                F_min = F_min + (-F_num if is_max else F_num)
            for i, cc in num_cons:
                G += _numeric_constraint(self.cp, i, cc, cols, var)
        up = "max" if isinstance(self.leader.objective, self.cp.Maximize) else "min"
        lo = "max" if isinstance(self.follower.objective, self.cp.Maximize) else "min"
        # the canonical objectives are in min form; set_* takes the user's sense
        p.set_upper(-F_min if up == "max" else F_min, G, sense=up)
        p.set_lower(-f_min if lo == "max" else f_min, g, sense=lo)
        p.source = "cvxpy"
        p.meta = {"frontend": "cvxpy", "leader_aux": lc.n_aux, "follower_aux": fc.n_aux}
        return p

    def _probe_cols(self) -> dict:
        """clone Variable id -> ("x" | "y", start offset) for the numeric quadratic read-out."""
        cols = {self._x_clone[b.var.id].id: ("x", b.start) for b in self.x_blocks}
        cols.update({self._y_clone[b.var.id].id: ("y", b.start) for b in self.y_blocks})
        return cols

    # ------------------------------------------------------------ results
    def write_back(self, result) -> None:
        """Store ``result.x``/``result.y`` in the Variables' values and the follower's
        multipliers in its constraints' ``dual_value`` (CVXPY's sign convention)."""
        if result.x is None or result.y is None:
            return
        for blocks, vals in ((self.x_blocks, result.x), (self.y_blocks, result.y)):
            vals = np.asarray(vals, float)
            for b in blocks:
                v = vals[b.start:b.start + b.size].copy()
                v[b.integer] = np.round(v[b.integer])
                val = v.reshape(b.var.shape, order="F") if b.var.shape else float(v[0])
                try:
                    b.var.value = b.var.project(val)
                except Exception:  # pragma: no cover - project failing on odd attributes
                    b.var.value = val
        duals = result.duals or {}
        kinds = dict(self._follower_canon.rows)
        for i, names in self.follower_rows.items():
            if not all(n in duals for n in names):
                continue
            con = self.follower.constraints[i]
            # bilevel_mp: min f - lam*g (g >= 0) - mu*h (h = 0); CVXPY: lam >= 0, -mu
            vals = np.array([duals[n] if kinds[n] == "ge" else -duals[n] for n in names], float) + 0.0
            if con.size != len(vals):
                continue
            con.save_dual_value(float(vals[0]) if con.shape == () else vals.reshape(con.shape, order="F"))

    def dual_names(self) -> dict:
        """Follower constraint index -> the names of its rows in ``result.duals``."""
        return dict(self.follower_rows)

    def __repr__(self) -> str:
        return f"CvxpyBilevel({self.problem!r})"


# ---------------------------------------------------------------------- helpers
def _truthy(v) -> bool:
    if v is None or v is False:
        return False
    if isinstance(v, (list, tuple)) and len(v) == 0:
        return False
    return True


def _index_mask(v, attr) -> np.ndarray:
    """Flat (column-major) mask of the entries carrying a boolean/integer attribute."""
    n = int(v.size)
    a = v.attributes.get(attr)
    if a is True:
        return np.ones(n, bool)
    if not a:
        return np.zeros(n, bool)
    mask = np.zeros(v.shape if v.shape else (1,), bool)
    for idx in a:
        mask[tuple(idx) if v.shape else 0] = True
    return mask.ravel(order="F")


def _entry_names(blocks) -> list[str]:
    names, seen = [], {}
    for b in blocks:
        base = b.var.name()
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            base = f"{base}#{b.var.id}"
        if b.var.shape == ():
            names.append(base)
        else:
            for k in range(b.size):
                idx = np.unravel_index(k, b.var.shape, order="F")
                names.append(f"{base}[{','.join(str(int(i)) for i in idx)}]")
    return names


def _short(obj, n: int = 60) -> str:
    s = str(obj)
    return s if len(s) <= n else s[: n - 3] + "..."


def _linear_types(cp):
    c = cp.constraints
    return (c.Equality, c.Inequality, c.Zero, c.NonNeg, c.NonPos)


def _check_dcp(obj, where, level):
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


class _Substituter:
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
    M.data[np.abs(M.data) < _ZERO] = 0.0
    M.eliminate_zeros()
    return M


def _clean_dense(v):
    v = np.array(v, float)
    v[np.abs(v) < _ZERO] = 0.0
    return v


def _sum(terms):
    if not terms:
        return 0.0
    import pyomo.environ as pyo

    return pyo.quicksum(terms)


def _objective_expr(c: _Canon, var, params):
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
                if abs(v) > _ZERO:
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
            terms.append(scale * _sum(part))
    return _sum(terms)


def _row_constraints(c: _Canon, var, params, level) -> list[Constraint]:
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
                per_row[r].append(scale * _sum(contrib[r]))
    out = []
    for r, (name, kind) in enumerate(c.rows):
        body = _sum(per_row[r])
        if isinstance(body, (int, float)):
            ok = body == 0 if kind == "eq" else body >= -1e-9
            if not ok:
                raise BilevelInputError(
                    f"{level} row {name} reads {body:g} {'== 0' if kind == 'eq' else '>= 0'}: "
                    "the constraint can never hold")
            continue
        out.append(Constraint(name, body, kind))
    return out


def _quadratic_expr(expr, cols, var, where):
    """Read a quadratic CVXPY expression (over clone Variables) exactly as a quadratic
    polynomial, by evaluating it on probe points; returns one Pyomo expression per
    entry (column-major). Verified at random points."""
    variables = list(expr.variables())
    n = sum(int(v.size) for v in variables)
    if n > _MAX_PROBE_VARS:
        raise UnsupportedStructureError(
            f"{where} is quadratic but not DCP and involves {n} scalar variables (more than "
            f"{_MAX_PROBE_VARS} are not read by probing): write it in DCP form")
    refs, slots = [], []
    for v in variables:
        lvl, start = cols[v.id]
        for j in range(int(v.size)):
            refs.append((lvl, start + j))
            slots.append((v, j))

    def value(z):
        for v in variables:
            v.value = np.zeros(v.shape) if v.shape else 0.0
        offs = 0
        for v in variables:
            vals = z[offs:offs + int(v.size)]
            v.value = vals.reshape(v.shape, order="F") if v.shape else float(vals[0])
            offs += int(v.size)
        val = expr.value
        return np.atleast_1d(np.asarray(val, float)).ravel(order="F")

    z0 = np.zeros(n)
    c0 = value(z0)
    m = c0.size
    grad = np.zeros((m, n))
    hdiag = np.zeros((m, n))
    plus = np.zeros((m, n))
    for i in range(n):
        e = z0.copy()
        e[i] = 1.0
        fp = value(e)
        e[i] = -1.0
        fm = value(e)
        plus[:, i] = fp
        grad[:, i] = (fp - fm) / 2
        hdiag[:, i] = fp + fm - 2 * c0  # = H_ii
    H = np.zeros((m, n, n))
    for i in range(n):
        H[:, i, i] = hdiag[:, i]
        for j in range(i + 1, n):
            e = z0.copy()
            e[i] = e[j] = 1.0
            hij = value(e) - plus[:, i] - plus[:, j] + c0
            H[:, i, j] = H[:, j, i] = hij
    rng = np.random.default_rng(1)
    for _ in range(3):
        z = rng.uniform(-2, 2, n)
        pred = c0 + grad @ z + 0.5 * np.einsum("mij,i,j->m", H, z, z)
        got = value(z)
        if np.abs(pred - got).max() > 1e-7 * (1 + np.abs(got).max()):
            raise UnsupportedStructureError(f"{where} could not be read as a quadratic polynomial")
    out = []
    for r in range(m):
        terms = [float(c0[r])] if abs(c0[r]) > _ZERO else []
        for i in range(n):
            if abs(grad[r, i]) > _ZERO:
                terms.append(float(grad[r, i]) * var(refs[i]))
            if abs(H[r, i, i]) > _ZERO:
                terms.append(0.5 * float(H[r, i, i]) * var(refs[i]) * var(refs[i]))
            for j in range(i + 1, n):
                if abs(H[r, i, j]) > _ZERO:
                    terms.append(float(H[r, i, j]) * var(refs[i]) * var(refs[j]))
        out.append(_sum(terms))
    return out


def _numeric_constraint(cp, i, cc, cols, var) -> list[Constraint]:
    C = cp.constraints
    if isinstance(cc, C.Inequality):
        body, kind = cc.args[1] - cc.args[0], "ge"
    elif isinstance(cc, C.Equality):
        body, kind = cc.args[0] - cc.args[1], "eq"
    elif isinstance(cc, C.NonNeg):
        body, kind = cc.args[0], "ge"
    elif isinstance(cc, C.NonPos):
        body, kind = -cc.args[0], "ge"
    else:  # Zero
        body, kind = cc.args[0], "eq"
    rows = _quadratic_expr(body, cols, var, f"leader constraint {i}")
    names = [f"leader[{i}]"] if len(rows) == 1 else [f"leader[{i}][{j}]" for j in range(len(rows))]
    out = []
    for nm, r in zip(names, rows):
        if isinstance(r, (int, float)):
            if (kind == "eq" and r != 0) or (kind == "ge" and r < -1e-9):
                raise BilevelInputError(f"leader row {nm} reads {r:g}: the constraint can never hold")
            continue
        out.append(Constraint(nm, r, kind))
    return out


__all__ = ["from_cvxpy", "CvxpyBilevel"]
