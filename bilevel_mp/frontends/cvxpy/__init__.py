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
with zero-cone rows (equalities), nonnegative-cone rows (linear or piecewise-linear
inequalities: ``abs``, ``maximum``, ``norm1``, ... are fine) and second-order cones
(``cp.norm(u) <= t``, ``cp.SOC``, ``sum_squares(y) <= x``...: each cone becomes a row
``t − sqrt(u·u) >= 0``, read back by ``bilevel_mp.cones``, named ``follower[i]`` or
``follower[i][j]``, CVXPY's own cones ``follower.soc[k]``). PSD, exponential and power cones
are refused with ``UnsupportedStructureError``, as are nonconvex (non-DCP) followers. Auxiliary variables of the canonical form become extra
(continuous) follower variables (named ``follower.t[k]``, at the end of ``problem.y``);
the projection of the follower's optimal set onto its own variables is unchanged.

Integer and boolean follower variables become integer y (``y_integer`` of
``BilevelProblem``; boolean with bounds [0, 1]), as on the leader's side: the
canonicalisation above reads the follower's continuous relaxation (the private copies
carry no attributes) and integrality is added afterwards, on the user's variables only.
Whether a method can solve an integer follower is up to the method (those built on the
follower's KKT conditions or duality refuse it, naming themselves).

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
Integer and boolean entries (x or y) are written back rounded. ``write_back`` also
states the result in the user's terms: ``result.x``/``result.y`` keep the user's entries
only (CVXPY's auxiliary variables dropped), ``result.values`` maps each Variable's name to
its value, and what was dropped is kept in ``result.internal``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...errors import BilevelInputError, SolverUnavailableError, UnsupportedStructureError
from ...problem import BilevelProblem
from .canon import (Canon, Substituter, canonicalize, check_dcp, linear_types, objective_expr,
                    row_constraints, short)
from .quadratic import numeric_constraint, quadratic_expr
from .results import restrict, user_part

_UNSUPPORTED_ATTRS = ("symmetric", "diag", "PSD", "NSD", "hermitian", "complex", "imag", "sparsity")


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
        # private clones: leader vars are Parameters in the follower, plain Variables
        # (no attributes: bounds and integrality are imposed by bilevel_mp) elsewhere;
        # so CVXPY canonicalises the follower's continuous relaxation and integer y
        # comes back only as y_integer of the BilevelProblem
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
    def _read_follower(self) -> Canon:
        cp = self.cp
        mapping = {**self._x_param, **self._y_clone}
        sub = Substituter(mapping, cp, "follower")
        cons = []
        for i, c in enumerate(self.follower.constraints):
            where = f"follower constraint {i} ({short(c)})"
            if not isinstance(c, linear_types(cp) + (cp.constraints.SOC,)):
                raise UnsupportedStructureError(
                    f"{where} is a {type(c).__name__} constraint: the follower may have equalities, "
                    "inequalities and second-order cones (cp.SOC, cp.norm(...) <= t); PSD, "
                    "exponential and power cones are not supported")
            cc = sub.constraint(c)
            check_dcp(cc, where, "follower")
            cons.append(cc)
        obj = sub.objective(self.follower.objective)
        where = f"follower objective ({short(self.follower.objective)})"
        check_dcp(obj, where, "follower")
        prob = cp.Problem(obj, cons)
        params = [(self._x_param[b.var.id], b) for b in self.x_blocks
                  if self._x_param[b.var.id].id in {p.id for p in prob.parameters()}]
        self._fparam_blocks = [b for _par, b in params]  # order of x entries in the data
        return canonicalize(self.cp, prob, "follower", cons, params,
                            {self._y_clone[b.var.id].id: ("y", b.start) for b in self.y_blocks},
                            aux_level="y", aux_start=sum(b.size for b in self.y_blocks), soc=True)

    # ------------------------------------------------------------ leader
    def _read_leader(self):
        cp = self.cp
        mapping = {**self._x_clone, **self._y_clone}
        sub = Substituter(mapping, cp, "leader")
        canon_cons, canon_idx, numeric = [], [], []
        for i, c in enumerate(self.leader.constraints):
            where = f"leader constraint {i} ({short(c)})"
            if not isinstance(c, linear_types(cp)):
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
        where = f"leader objective ({short(self.leader.objective)})"
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
            canon = canonicalize(self.cp, prob, "leader", canon_cons, [], cols, aux_level="x",
                                 aux_start=sum(b.size for b in self.x_blocks),
                                 user_index=canon_idx)
        else:
            d = float(np.asarray(canon_obj.args[0].value).sum()) if canon_obj.args[0].value is not None else 0.0
            canon = Canon([None], [np.zeros(0)], [d], [sp.csr_matrix((0, 0))], [np.zeros(0)], {}, 0)
        return canon, numeric_obj, numeric

    # ------------------------------------------------------------ canonical data
    # ------------------------------------------------------------ build
    def _build(self, fc: Canon, lc: Canon, num_obj, num_cons) -> BilevelProblem:
        nx_user = sum(b.size for b in self.x_blocks)
        ny_user = sum(b.size for b in self.y_blocks)
        n_x, n_y = nx_user + lc.n_aux, ny_user + fc.n_aux
        x_names = _entry_names(self.x_blocks) + [f"leader.t[{k}]" for k in range(lc.n_aux)]
        y_names = _entry_names(self.y_blocks) + [f"follower.t[{k}]" for k in range(fc.n_aux)]
        x_bounds = [(lo, hi) for b in self.x_blocks for lo, hi in zip(b.lb, b.ub)] + \
            [(None, None)] * lc.n_aux
        y_bounds = [(lo, hi) for b in self.y_blocks for lo, hi in zip(b.lb, b.ub)] + \
            [(None, None)] * fc.n_aux
        # CVXPY's auxiliary (epigraph) variables stay continuous at both levels
        x_int = [bool(v) for b in self.x_blocks for v in b.integer] + [False] * lc.n_aux
        y_int = [bool(v) for b in self.y_blocks for v in b.integer] + [False] * fc.n_aux
        p = BilevelProblem(n_x, n_y, name=self.name, x_bounds=x_bounds, y_bounds=y_bounds,
                           x_integer=x_int, y_integer=y_int, x_names=x_names, y_names=y_names)
        self._n_x_user, self._n_y_user = nx_user, ny_user

        def var(ref):
            lvl, k = ref
            return p.x[k] if lvl == "x" else p.y[k]

        # follower: parameters are the leader's entries, in block order
        fparams = [p.x[b.start + j] for b in self._fparam_blocks for j in range(b.size)]
        f_min = objective_expr(fc, var, fparams)
        g = row_constraints(fc, var, fparams, "follower")
        # leader
        F_min = objective_expr(lc, var, [])
        G = row_constraints(lc, var, [], "leader")
        if num_obj is not None or num_cons:
            cols = self._probe_cols()
            if num_obj is not None:  # read in the user's sense; F_min is in min form
                F_num = quadratic_expr(num_obj, cols, var, "leader objective")[0]
                is_max = isinstance(self.leader.objective, self.cp.Maximize)
                F_min = F_min + (-F_num if is_max else F_num)
            for i, cc in num_cons:
                G += numeric_constraint(self.cp, i, cc, cols, var)
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
        """Put ``result`` onto the user's model and restrict it to the user's variables.

        The Variables' ``value`` get x and y (integer entries rounded), each follower
        constraint's ``dual_value`` its multipliers (CVXPY's sign convention). ``result``
        itself is then stated in the user's terms: ``x`` and ``y`` keep the user's entries
        only (in ``x_names``/``y_names`` order, CVXPY's auxiliary ``leader.t[k]`` and
        ``follower.t[k]`` dropped), ``values`` maps each user Variable's name to its value
        (its shape), the multipliers of CVXPY's own rows (``follower.aux[k]``) leave
        ``duals``, and the dropped parts are kept in ``result.internal`` ("x", "y",
        "duals"). ``result.x``/``y`` may hold the full vectors or the user's entries
        (a second call changes nothing); any other length is a ``BilevelInputError``."""
        if result.x is None or result.y is None:
            return
        x = user_part(result.x, self._n_x_user, self.problem.n_x, "x")
        y = user_part(result.y, self._n_y_user, self.problem.n_y, "y")
        values = {}
        for blocks, vals in ((self.x_blocks, x), (self.y_blocks, y)):
            for b, name in zip(blocks, _block_names(blocks)):
                v = vals[b.start:b.start + b.size].copy()
                v[b.integer] = np.round(v[b.integer])
                val = v.reshape(b.var.shape, order="F") if b.var.shape else float(v[0])
                try:
                    b.var.value = b.var.project(val)
                except Exception:  # pragma: no cover - project failing on odd attributes
                    b.var.value = val
                values[name] = float(b.var.value) if b.var.shape == () else \
                    np.array(b.var.value, float)
        duals = dict(result.duals or {})
        kinds = dict(self._follower_canon.rows)
        cones = {name for name, _t, _u in self._follower_canon.cones}
        for i, names in self.follower_rows.items():
            if not all(n in duals for n in names) or any(n in cones for n in names):
                continue  # a cone's multiplier is a vector in CVXPY: only its row dual is kept
            con = self.follower.constraints[i]
            # bilevel_mp: min f - lam*g (g >= 0) - mu*h (h = 0); CVXPY: lam >= 0, -mu
            vals = np.array([duals[n] if kinds[n] == "ge" else -duals[n] for n in names], float) + 0.0
            if con.size != len(vals):
                continue
            con.save_dual_value(float(vals[0]) if con.shape == () else vals.reshape(con.shape, order="F"))
        aux_rows = ({n for n, _kind in self._follower_canon.rows} | cones) - \
            {n for names in self.follower_rows.values() for n in names}
        restrict(result, x, y, values, duals, aux_rows)

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


def _block_names(blocks) -> list[str]:
    """One name per Variable: its own, ``name#id`` for a repeated one."""
    names, seen = [], {}
    for b in blocks:
        base = b.var.name()
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}#{b.var.id}")
    return names


def _entry_names(blocks) -> list[str]:
    """One name per entry: the Variable's (``_block_names``), indexed for a non-scalar."""
    names = []
    for b, base in zip(blocks, _block_names(blocks)):
        if b.var.shape == ():
            names.append(base)
        else:
            for k in range(b.size):
                idx = np.unravel_index(k, b.var.shape, order="F")
                names.append(f"{base}[{','.join(str(int(i)) for i in idx)}]")
    return names


__all__ = ["from_cvxpy", "CvxpyBilevel"]
