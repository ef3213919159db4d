"""bilevel-mp: bilevel optimisation on real mathematical-programming solvers.

    import bilevel_mp as bmp
    result = bmp.solve(problem)            # BilevelProblem, Pyomo model, BOLIB dict, ...
    print(result)                          # status, F, f, x, y, certificate

Every answer carries a certificate: the follower's problem re-solved at the returned x.
"""

from .errors import (
    BigMError,
    BilevelError,
    BilevelInputError,
    MissingExtraError,
    SolverUnavailableError,
    UnsupportedStructureError,
)
from .backends import BACKENDS, available_solvers
from .methods import METHODS
from .problem import BilevelProblem, Constraint
from .result import STATUSES, BilevelResult, Certificate
from .solve import solve
from .export import export
from .frontends.matrix import linear_bilevel
from .structure import detect

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "METHODS",
    "STATUSES",
    "available_solvers",
    "BigMError",
    "BilevelError",
    "BilevelInputError",
    "BilevelProblem",
    "BilevelResult",
    "Certificate",
    "Constraint",
    "MissingExtraError",
    "SolverUnavailableError",
    "UnsupportedStructureError",
    "detect",
    "export",
    "linear_bilevel",
    "solve",
]
