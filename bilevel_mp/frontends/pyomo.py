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
    m.L.dual[m.L.c1]                             # follower multiplier (like BilevelJuMP's DualOf)

Leader variables are every other variable the model uses. A follower variable declared
outside the block can be listed with ``LowerLevel(variables=[...])``.

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


def LowerLevel(variables=None, *args, **kwargs):
    """A Pyomo ``Block`` marked as the follower's problem (one objective inside)."""
    block = pyo.Block(*args, **kwargs)
    setattr(block, _FLAG, list(variables or []))
    return block


def mark_lower(block, variables=None):
    """Mark an existing block as the follower's problem."""
    setattr(block, _FLAG, list(variables or []))
    return block


def _lower_block(model):
    found = [b for b in model.component_data_objects(pyo.Block, descend_into=True)
             if hasattr(b, _FLAG) or hasattr(b.parent_component(), _FLAG)]
    if not found:
        raise BilevelInputError(
            "no lower-level block in the model: declare the follower as m.L = LowerLevel() "
            "(bilevel_mp.frontends.pyomo.LowerLevel) or mark a block with mark_lower(block)")
    if len(found) > 1:
        raise BilevelInputError(f"more than one lower-level block: {[b.name for b in found]}")
    return found[0]


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
    lower_block: object
    x_vars: list
    y_vars: list
    lower_cons: dict = field(default_factory=dict)  # user constraint -> [(name, sign)]

    def write_back(self, result) -> None:
        """Load x, y into the user's variables, the follower multipliers into
        ``lower_block.dual`` (a Suffix, created if missing), and set ``result.values`` to
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
        result.values = values
        block = self.lower_block
        if not hasattr(block, "dual"):
            block.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
        for con, parts in self.lower_cons.items():
            vals = [sign * result.duals[name] for name, sign in parts if name in result.duals]
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
    """Convert a Pyomo model with a lower-level block into a ``BilevelProblem``."""
    block = _lower_block(model)
    lower_obj = _single_objective(block, True, f"lower-level block {block.name}")
    upper_objs = [o for o in model.component_data_objects(pyo.Objective, active=True)
                  if not _inside(o, block)]
    if len(upper_objs) != 1:
        raise BilevelInputError(f"the leader must have exactly one active objective outside "
                                f"{block.name}, found {len(upper_objs)}")
    upper_obj = upper_objs[0]
    lower_cons = [c for c in block.component_data_objects(pyo.Constraint, active=True)]
    lower_ids = {id(c) for c in lower_cons}
    upper_cons = [c for c in model.component_data_objects(pyo.Constraint, active=True)
                  if id(c) not in lower_ids]

    flag = getattr(block, _FLAG, None) or getattr(block.parent_component(), _FLAG, [])
    y_vars = [v for v in block.component_data_objects(pyo.Var, descend_into=True)]
    for comp in flag:
        y_vars += list(comp.values()) if comp.is_indexed() else [comp]
    y_ids = {id(v) for v in y_vars}
    used = []
    seen = set()
    for e in [upper_obj.expr, lower_obj.expr] + [c.body for c in upper_cons + lower_cons]:
        for v in identify_variables(e, include_fixed=False):
            if id(v) not in seen:
                seen.add(id(v))
                used.append(v)
    x_vars = [v for v in used if id(v) not in y_ids]
    y_vars = [v for v in y_vars if not v.fixed]
    if not y_vars:
        raise BilevelInputError(f"lower-level block {block.name} declares no follower variables")
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
    for e in [upper_obj.expr, lower_obj.expr] + [c.body for c in upper_cons + lower_cons]:
        for v in identify_variables(e, include_fixed=True):  # fixed variables are data
            if v.fixed and id(v) not in mapping:
                mapping[id(v)] = float(v.value)
    for i, v in enumerate(x_vars):
        if v.value is not None:
            p.x[i].set_value(v.value, skip_validation=True)
    G, _ = _constraints(upper_cons, mapping, "G")
    g, parts = _constraints(lower_cons, mapping, "g")
    sense = lambda o: "max" if o.sense == pyo.maximize else "min"  # noqa: E731
    p.set_upper(substitute(upper_obj.expr, mapping), G, sense(upper_obj))
    p.set_lower(substitute(lower_obj.expr, mapping), g, sense(lower_obj))
    return PyomoBilevel(p, model, block, x_vars, y_vars, parts)


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
