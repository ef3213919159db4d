"""The front-end protocol: a converted model that ``bilevel_mp.solve`` accepts.

Front ends that convert a modelling-language object (``pyomo.from_pyomo``,
``cvxpy.from_cvxpy``) return an object with ``problem`` (the ``BilevelProblem`` to
solve) and ``write_back(result)`` (put a result back onto the user's model). Any such
object can be passed to ``bilevel_mp.solve``; ``as_problem`` recognises it by that
shape, not by its type or module.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..problem import BilevelProblem


@runtime_checkable
class Frontend(Protocol):
    """A converted bilevel model: ``problem`` and ``write_back(result)``."""

    problem: BilevelProblem

    def write_back(self, result) -> None:
        """Store ``result`` (a ``BilevelResult``) on the user's model objects."""


def is_frontend(obj) -> bool:
    """True when ``obj`` follows the ``Frontend`` protocol: a ``BilevelProblem`` in
    ``obj.problem`` and a callable ``obj.write_back``."""
    return (isinstance(obj, Frontend) and isinstance(obj.problem, BilevelProblem)
            and callable(obj.write_back))


__all__ = ["Frontend", "is_frontend"]
