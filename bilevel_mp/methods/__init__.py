"""The methods ``solve(method=...)`` accepts: one module each, registered here.

Every module exports ``NAME``, ``LOCAL`` (a local method: no global claim), ``Settings``
(a dataclass of its declared, validated options), ``accepts(problem, structure,
settings)`` (raises ``UnsupportedStructureError`` naming why not) and ``run(context,
settings) -> Claim``; ``core.finish`` turns the claim into the result. A module that
serves follower duals in the leader's model (``BilevelProblem.dual_of``) sets
``LINKED_DUALS = True``, one that serves a coupled game of followers ``NASH = True``.
"""

from __future__ import annotations

from types import ModuleType

from ..cones import follower_cones
from ..errors import BilevelInputError, UnsupportedStructureError
from ..problem import refuse_coupled_followers, refuse_linked_duals
from . import (auto, complementarity_bb, descent, follower_dual, kkt, penalty, regularized,
               strong_duality, trust_region, value_function)
from .settings import make_settings, setting_names

METHODS: dict[str, ModuleType] = {m.NAME: m for m in (
    auto, kkt, strong_duality, follower_dual, value_function, complementarity_bb, regularized, descent,
    trust_region, penalty)}
LOCAL_METHODS = tuple(name for name, m in METHODS.items() if m.LOCAL)


def get_method(name: str) -> ModuleType:
    """The module of ``method=name``; ``BilevelInputError`` listing the valid names."""
    if not isinstance(name, str) or name not in METHODS:
        raise BilevelInputError(f"unknown method {name!r}; choose one of {list(METHODS)}")
    return METHODS[name]


def check_accepts(name: str, problem, structure, settings) -> None:
    """``accepts`` of method ``name``, after the checks every method shares: follower duals
    in the leader's model and coupled games only for the modules that declare them."""
    module = get_method(name)
    if not getattr(module, "LINKED_DUALS", False):
        refuse_linked_duals(problem, name)
    elif problem.dual_links and structure.lower_cones:
        linked = sorted(set(problem.dual_links) & set(follower_cones(problem)))
        if linked:  # its multiplier is a vector; the certificate's dual check is row by row
            raise UnsupportedStructureError(
                f"dual_of names second-order cone rows ({', '.join(linked)}): a cone's multiplier is a "
                "vector, and linking it to the leader is not supported; link an affine row instead")
    if not getattr(module, "NASH", False):
        refuse_coupled_followers(problem, name)
    module.accepts(problem, structure, settings)


def settings_for(name: str, options: dict):
    """The validated ``Settings`` of method ``name`` from keyword options."""
    return make_settings(name, get_method(name).Settings, options)


__all__ = ["METHODS", "LOCAL_METHODS", "check_accepts", "get_method", "settings_for", "setting_names"]
