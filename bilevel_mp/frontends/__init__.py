"""Front ends: every way in produces the same ``BilevelProblem``.

- ``expr``  : BOLIB-format JSON / dicts with expression strings, and Python callables
- ``pyomo`` : a Pyomo model whose follower part sits in a ``LowerLevel`` block
- ``cvxpy`` : leader and follower as two ``cvxpy.Problem`` objects sharing Variables
- ``mps_aux``: MPS + AUX instance files (MibS, BOBILib)

Converted models (``from_pyomo``, ``from_cvxpy``) follow the ``Frontend`` protocol of
``base``: ``.problem`` and ``.write_back(result)``.
"""

from __future__ import annotations

from pyomo.core.base.block import BlockData

from ..errors import BilevelInputError
from ..problem import BilevelProblem
from .base import Frontend, is_frontend
from .expr import problem_from_dict
from .pyomo import from_pyomo


def as_problem(obj):
    """Normalise any supported input to ``(BilevelProblem, write_back or None)``."""
    if isinstance(obj, BilevelProblem):
        return obj, None
    if isinstance(obj, dict):
        return problem_from_dict(obj), None
    if isinstance(obj, BlockData):
        conv = from_pyomo(obj)
        return conv.problem, conv.write_back
    if is_frontend(obj):
        return obj.problem, obj.write_back
    raise BilevelInputError(
        f"cannot solve an object of type {type(obj).__name__}: pass a BilevelProblem, a BOLIB "
        "dict, a Pyomo model with a LowerLevel block, or bilevel_mp.frontends.cvxpy.from_cvxpy(...)"
    )


__all__ = ["Frontend", "as_problem", "is_frontend"]
