"""Front ends: every way in produces the same ``BilevelProblem``.

- ``expr``  : BOLIB-format JSON / dicts with expression strings, and Python callables
- ``pyomo`` : a Pyomo model whose follower part sits in a ``LowerLevel`` block
- ``cvxpy`` : leader and follower as two ``cvxpy.Problem`` objects sharing Variables
"""

from __future__ import annotations

from ..errors import BilevelInputError
from ..problem import BilevelProblem


def as_problem(obj):
    """Normalise any supported input to ``(BilevelProblem, write_back or None)``."""
    if isinstance(obj, BilevelProblem):
        return obj, None
    if isinstance(obj, dict):
        from .expr import problem_from_dict

        return problem_from_dict(obj), None
    try:
        from pyomo.core.base.block import BlockData
    except ImportError:  # pragma: no cover
        BlockData = ()
    if isinstance(obj, BlockData):
        from .pyomo import from_pyomo

        conv = from_pyomo(obj)
        return conv.problem, conv.write_back
    if type(obj).__module__.startswith("bilevel_mp.frontends.cvxpy"):
        return obj.problem, obj.write_back
    raise BilevelInputError(
        f"cannot solve an object of type {type(obj).__name__}: pass a BilevelProblem, a BOLIB "
        "dict, a Pyomo model with a LowerLevel block, or bilevel_mp.frontends.cvxpy.from_cvxpy(...)"
    )
