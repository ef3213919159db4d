"""Pyomo front end: an ordinary Pyomo model whose follower sits in a lower-level block.

    import pyomo.environ as pyo
    from bilevel_mp.frontends.pyomo import LowerLevel

    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 8))                 # leader
    m.obj = pyo.Objective(expr=-m.x - 10 * m.L.y)  # (declare m.L first)
    m.L = LowerLevel()                           # follower block
    m.L.y = pyo.Var(bounds=(0, None))            # variables declared in it are the follower's
    m.L.obj = pyo.Objective(expr=m.L.y)
    m.L.c1 = pyo.Constraint(expr=-25 * m.x + 20 * m.L.y <= 30)
    bilevel_mp.solve(m)                          # values loaded into m.x, m.L.y
    m.L.dual[m.L.c1]                             # follower multiplier after the solve

A leader variable that *is* a follower multiplier (BilevelJuMP's ``DualOf``; prices in
market models) is declared ``m.price = DualOf(m.L.balance)``.

Leader variables are every other variable the model uses. A follower variable declared
outside the block can be listed with ``LowerLevel(variables=[...])``. Several
``LowerLevel`` blocks are several followers, each choosing its own block's variables, in a
Nash game among them (``BilevelProblem.add_follower``; PAO's multiple submodels).

Domains, at either level: a real interval (``Reals``, ``NonNegativeReals``,
``UnitInterval``, ...) gives a continuous variable; an integer one (``Binary``,
``Boolean``, ``Integers``, ``NonNegativeIntegers``, ``PositiveIntegers``,
``RangeSet(a, b)``, ...) an integer x or y (``y_integer`` of ``BilevelProblem``), in
both cases with the domain's bounds intersected with the variable's own (``Binary`` ->
[0, 1]). Other domains (a step other than 1, a set such as {1, 3, 5}) are refused with
``BilevelInputError``. The front end accepts integer followers; whether a method can
solve them is up to the method (those built on the follower's KKT conditions or duality
refuse them, naming themselves). Integer values are written back rounded.

Follower multipliers (where the method reports them) follow the Lagrangian f - λᵀg with
g >= 0: λ >= 0 for inequalities; a ``<=`` constraint written ``expr <= ub`` has
g = ub - expr; a ranged constraint reports λ_lower - λ_upper.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_variables

from ..errors import BilevelInputError
from ..problem import BilevelProblem, Constraint
from ..backends.single_level import substitute

_FLAG = "_bilevel_mp_lower"
_DUAL = "_bilevel_mp_dual_of"


def DualOf(constraint):
    """A leader variable that equals the follower's multiplier of ``constraint`` (a
    constraint of the ``LowerLevel`` block), as BilevelJuMP's ``DualOf``::

        m.L.balance = pyo.Constraint(expr=m.L.q1 + m.L.q2 == demand)
        m.price = DualOf(m.L.balance)        # use m.price in the leader's objective
        m.obj = pyo.Objective(expr=(m.price - cost) * m.L.q1, sense=pyo.maximize)

    The sign is that of the ``dual`` suffix (module docstring): λ >= 0 for an inequality,
    for an equality ``body == rhs`` the follower's cost of one more unit of ``rhs``.
    Ranged constraints have two multipliers and are refused. After the solve the variable
    holds its value (``BilevelProblem.dual_of`` documents the semantics)."""
    var = pyo.Var()
    setattr(var, _DUAL, constraint)
    return var


def LowerLevel(variables=None, *args, **kwargs):
    """A Pyomo ``Block`` marked as the follower's problem (one objective inside)."""
    block = pyo.Block(*args, **kwargs)
    setattr(block, _FLAG, list(variables or []))
    return block


def mark_lower(block, variables=None):
    """Mark an existing block as the follower's problem."""
    setattr(block, _FLAG, list(variables or []))
    return block


def _lower_blocks(model) -> list:
    """The lower-level blocks, one per follower (none nested in another)."""
    found = [b for b in model.component_data_objects(pyo.Block, descend_into=True)
             if hasattr(b, _FLAG) or hasattr(b.parent_component(), _FLAG)]
    if not found:
        raise BilevelInputError(
            "no lower-level block in the model: declare the follower as m.L = LowerLevel() "
            "(bilevel_mp.frontends.pyomo.LowerLevel) or mark a block with mark_lower(block)")
    for b in found:
        for other in found:
            if other is not b and _inside(b, other):
                raise BilevelInputError(f"lower-level block {b.name} sits inside {other.name}: "
                                        "a follower's block cannot hold another follower")
    return found


def _single_objective(block, descend, where):
    objs = [o for o in block.component_data_objects(pyo.Objective, active=True, descend_into=descend)]
    if len(objs) != 1:
        raise BilevelInputError(f"{where} must have exactly one active objective, found {len(objs)}")
    return objs[0]


@dataclass
class PyomoBilevel:
    """The converted problem and the way back onto the user's model."""

    problem: BilevelProblem
    model: object
    lower_blocks: list  # one per follower
    x_vars: list
    y_vars: list
    lower_cons: dict = field(default_factory=dict)  # user constraint -> [(name, sign)]
    linked: list = field(default_factory=list)  # the user's DualOf variables

    def write_back(self, result) -> None:
        """Load x, y into the user's variables, the follower multipliers into
        each lower-level block's ``dual`` (a Suffix, created if missing), and set ``result.values`` to
        {variable name: value as loaded}. x and y are the user's variables already (this
        front end adds none), so ``result.x``/``result.y`` stay as they are."""
        values = {}
        for vars_, vals in ((self.x_vars, result.x), (self.y_vars, result.y)):
            if vals is None:
                continue
            for v, val in zip(vars_, vals):
                val = float(val) + 0.0
                if not v.is_continuous():  # integer x or y: drop the solver's round-off
                    val = float(round(val)) + 0.0
                v.set_value(val, skip_validation=True)
                values[v.name] = val
        for v in self.linked:
            name = _dual_name(getattr(v, _DUAL), self.lower_cons, v.name)
            if name in result.duals:
                v.set_value(float(result.duals[name]) + 0.0, skip_validation=True)
                values[v.name] = v.value
        result.values = values
        for block in self.lower_blocks:
            if not hasattr(block, "dual"):
                block.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
        for con, parts in self.lower_cons.items():
            vals = [sign * result.duals[name] for name, sign in parts if name in result.duals]
            block = next(b for b in self.lower_blocks if _inside(con, b))
            if vals:
                block.dual[con] = float(sum(vals))


def _constraints(cons, mapping, prefix):
    out, parts = [], {}
    for con in cons:
        body = substitute(con.body, mapping)
        lo = None if con.lower is None else pyo.value(con.lower)
        hi = None if con.upper is None else pyo.value(con.upper)
        name = con.name
        if con.equality:
            out.append(Constraint(name, body - hi, "eq"))
            parts[con] = [(name, 1.0)]
        elif lo is not None and hi is not None:
            out += [Constraint(f"{name}.lo", body - lo, "ge"), Constraint(f"{name}.hi", hi - body, "ge")]
            parts[con] = [(f"{name}.lo", 1.0), (f"{name}.hi", -1.0)]
        elif lo is not None:
            out.append(Constraint(name, body - lo, "ge"))
            parts[con] = [(name, 1.0)]
        elif hi is not None:
            out.append(Constraint(name, hi - body, "ge"))
            parts[con] = [(name, 1.0)]
    return out, parts


def from_pyomo(model) -> PyomoBilevel:
    """Convert a Pyomo model with one lower-level block (or several: one follower each,
    a Nash game among them, ``BilevelProblem.add_follower``) into a ``BilevelProblem``."""
    blocks = _lower_blocks(model)
    lower_objs = [_single_objective(b, True, f"lower-level block {b.name}") for b in blocks]
    upper_objs = [o for o in model.component_data_objects(pyo.Objective, active=True)
                  if not any(_inside(o, b) for b in blocks)]
    if len(upper_objs) != 1:
        raise BilevelInputError(f"the leader must have exactly one active objective outside "
                                f"{', '.join(b.name for b in blocks)}, found {len(upper_objs)}")
    upper_obj = upper_objs[0]
    cons_of = [list(b.component_data_objects(pyo.Constraint, active=True)) for b in blocks]
    lower_cons = [c for cons in cons_of for c in cons]
    lower_ids = {id(c) for c in lower_cons}
    upper_cons = [c for c in model.component_data_objects(pyo.Constraint, active=True)
                  if id(c) not in lower_ids]

    vars_of = []
    for b in blocks:
        flag = getattr(b, _FLAG, None) or getattr(b.parent_component(), _FLAG, [])
        own = list(b.component_data_objects(pyo.Var, descend_into=True))
        for comp in flag:
            own += list(comp.values()) if comp.is_indexed() else [comp]
        own = [v for v in own if not v.fixed]
        if not own:
            raise BilevelInputError(f"lower-level block {b.name} declares no follower variables")
        vars_of.append(own)
    y_vars = [v for own in vars_of for v in own]
    y_ids = {id(v) for v in y_vars}
    if len(y_ids) != len(y_vars):
        raise BilevelInputError("a follower variable is listed in more than one lower-level block")
    used = []
    seen = set()
    for e in [upper_obj.expr] + [o.expr for o in lower_objs] + [c.body for c in upper_cons + lower_cons]:
        for v in identify_variables(e, include_fixed=False):
            if id(v) not in seen:
                seen.add(id(v))
                used.append(v)
    linked = [v for v in used if id(v) not in y_ids and getattr(v, _DUAL, None) is not None]
    linked_ids = {id(v) for v in linked}
    x_vars = [v for v in used if id(v) not in y_ids and id(v) not in linked_ids]
    x_int = [_is_integer(v, "leader") for v in x_vars]
    y_int = [_is_integer(v, "follower") for v in y_vars]

    # v.lb / v.ub are the variable's own bounds intersected with its domain's
    # (Binary -> [0, 1], NonNegativeIntegers -> [0, ub], PositiveIntegers -> [1, ub])
    p = BilevelProblem(
        len(x_vars), len(y_vars), name=model.name or "pyomo_model",
        x_bounds=[(v.lb, v.ub) for v in x_vars], y_bounds=[(v.lb, v.ub) for v in y_vars],
        x_integer=x_int, y_integer=y_int,
        x_names=[v.name for v in x_vars], y_names=[v.name for v in y_vars])
    mapping = {id(v): p.x[i] for i, v in enumerate(x_vars)}
    mapping.update({id(v): p.y[j] for j, v in enumerate(y_vars)})
    for e in [upper_obj.expr] + [o.expr for o in lower_objs] + [c.body for c in upper_cons + lower_cons]:
        for v in identify_variables(e, include_fixed=True):  # fixed variables are data
            if v.fixed and id(v) not in mapping:
                mapping[id(v)] = float(v.value)
    for i, v in enumerate(x_vars):
        if v.value is not None:
            p.x[i].set_value(v.value, skip_validation=True)
    lower_use = {id(u) for e in [o.expr for o in lower_objs] + [c.body for c in lower_cons]
                 for u in identify_variables(e, include_fixed=False)}
    for v in linked:
        if id(v) in lower_use:
            raise BilevelInputError(f"{v.name} is a follower dual (DualOf): only the leader may use it")
    sense = lambda o: "max" if o.sense == pyo.maximize else "min"  # noqa: E731
    parts, start = {}, 0
    for b, obj, cons, own in zip(blocks, lower_objs, cons_of, vars_of):
        g, block_parts = _constraints(cons, mapping, "g")
        parts.update(block_parts)
        if len(blocks) == 1:
            p.set_lower(substitute(obj.expr, mapping), g, sense(obj))
        else:
            p.add_follower([p.y[j] for j in range(start, start + len(own))],
                           substitute(obj.expr, mapping), g, sense(obj), name=b.name)
        start += len(own)
    for v in linked:
        d = mapping[id(v)] = p.dual_of(_dual_name(getattr(v, _DUAL), parts, v.name))
        d.setlb(v.lb)  # the user's bounds on the price (a cap), within the dual's own sign
        d.setub(v.ub)
    G, _ = _constraints(upper_cons, mapping, "G")
    p.set_upper(substitute(upper_obj.expr, mapping), G, sense(upper_obj))
    return PyomoBilevel(p, model, blocks, x_vars, y_vars, parts, linked)


def _dual_name(con, parts, where) -> str:
    """The problem's name of the follower constraint a ``DualOf`` variable points at."""
    if not hasattr(con, "body") or not hasattr(con, "equality"):
        raise BilevelInputError(f"DualOf({con!r}) for {where}: the argument must be a Pyomo constraint")
    if con not in parts:
        raise BilevelInputError(f"DualOf({con.name}) for {where}: the constraint is not an active "
                                "constraint of the lower-level block")
    names = parts[con]
    if len(names) != 1:
        raise BilevelInputError(f"DualOf({con.name}) for {where}: a ranged constraint has two "
                                "multipliers; split it into two constraints")
    return names[0][0]


def _is_integer(v, level) -> bool:
    """False for a real-interval domain, True for a step-1 integer one (Binary, Boolean,
    Integers, NonNegativeIntegers, RangeSet(a, b) with integer a, ...); anything else
    (a step other than 1, an integer step from a fractional start, a non-interval set
    such as {1, 3, 5}) cannot be written as bounds plus integrality and is refused."""
    if v.is_continuous():
        return False
    if v.is_integer():
        return True
    raise BilevelInputError(
        f"{level} variable {v.name} has domain {v.domain.name}, which is neither a real interval "
        "nor the integers in an interval (Binary, Integers, NonNegativeIntegers, ...)")


def _inside(component, block) -> bool:
    b = component.parent_block()
    while b is not None:
        if b is block:
            return True
        b = b.parent_block()
    return False
