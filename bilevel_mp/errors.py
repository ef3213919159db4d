"""Exceptions raised before any solver runs, each naming what is wrong."""


class BilevelError(Exception):
    """Base class of every error bilevel-mp raises on purpose."""


class BilevelInputError(BilevelError, ValueError):
    """The problem as given cannot be handled: bad expression, dimension, variable."""


class UnsupportedStructureError(BilevelError):
    """The chosen method cannot treat this problem class (e.g. integer y under KKT)."""


class MissingExtraError(BilevelError, ImportError):
    """An optional dependency (a solver, torch, scikit-learn) is not installed; the message
    names the ``pip install`` that provides it."""


class SolverUnavailableError(MissingExtraError):
    """A solver back end is not installed; the message names the pip extra."""


class BigMError(BilevelError):
    """No finite big-M could be proven for a complementarity pair."""
