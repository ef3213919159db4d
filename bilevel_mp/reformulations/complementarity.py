"""Complementarity modes: how ``0 <= s  ⊥  lambda >= 0`` is written for a solver.

One small class per mode, all behind one switch, as BilevelJuMP's ``modes``:

- ``bigm``      s <= M_s (1 - z), lambda <= M_l z; a MILP for HiGHS. M_s is proven
                (see ``bilevel_mp.bounds``); M_l must come from the user.
- ``sos1``      {s, lambda} is an SOS1 set; exact, no bounds needed (SCIP).
- ``indicator`` z = 1 -> s <= 0, z = 0 -> lambda <= 0; exact, no bounds (SCIP).
- ``product``   lambda * s <= 0; exact as a nonconvex constraint for a global solver.
"""

from __future__ import annotations

import math

import pyomo.environ as pyo

from ..errors import BigMError, BilevelInputError
from ..backends.single_level import Indicator, SingleLevelModel


class Mode:
    name = "mode"
    exact = True

    def add(self, slm: SingleLevelModel, k: int, slack, dual, label: str, slack_ub: float,
            dual_ub: float | None) -> list[str]:
        """Add the pair; return the assumptions it rests on (empty if none)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _binary(slm, k):
    m = slm.m
    if not hasattr(m, "z"):
        m.z = pyo.Var(pyo.Any, dense=False, domain=pyo.Binary)
    return m.z[k]


def _slack_var(slm, k, slack):
    m = slm.m
    if not hasattr(m, "s"):
        m.s = pyo.Var(pyo.Any, dense=False, domain=pyo.NonNegativeReals)
    s = m.s[k]
    slm.add(s == slack)
    return s


class BigM(Mode):
    """Big-M with binary z_k: proven slack bound, user-supplied dual bound."""

    name = "bigm"
    exact = False  # exact only when the dual bound is valid, which is the user's claim

    def add(self, slm, k, slack, dual, label, slack_ub, dual_ub):
        if not math.isfinite(slack_ub):
            raise BigMError(
                f"no finite bound on the slack of follower constraint {label!r}: bound the "
                "variables it involves, or use mode='sos1' / 'indicator'"
            )
        if dual_ub is None or not math.isfinite(dual_ub):
            raise BigMError(
                f"the multiplier of follower constraint {label!r} has no proven bound; pass "
                "dual_bound=M (your claim) or use mode='sos1' / 'indicator'"
            )
        z = _binary(slm, k)
        if slack_ub > 0:
            slm.add(slack <= slack_ub * (1 - z))
        else:
            slm.add(slack <= 0)
        slm.add(dual <= dual_ub * z)
        return [f"multiplier of {label} <= {dual_ub:g} (user-supplied)"]


class SOS1(Mode):
    """SOS1 set {s_k, lambda_k} with an explicit slack variable."""

    name = "sos1"

    def add(self, slm, k, slack, dual, label, slack_ub, dual_ub):
        s = _slack_var(slm, k, slack)
        slm.sos1.append([s, dual])
        return []


class IndicatorMode(Mode):
    """Two indicator constraints on a binary z_k."""

    name = "indicator"

    def add(self, slm, k, slack, dual, label, slack_ub, dual_ub):
        z = _binary(slm, k)
        slm.indicators.append(Indicator(z, 1, slack, "le"))
        slm.indicators.append(Indicator(z, 0, dual, "le"))
        return []


class Product(Mode):
    """lambda_k * s_k <= 0 (both nonnegative): a bilinear constraint."""

    name = "product"

    def add(self, slm, k, slack, dual, label, slack_ub, dual_ub):
        slm.add(dual * slack <= 0)
        return []


MODES = {cls.name: cls for cls in (BigM, SOS1, IndicatorMode, Product)}


def get_mode(mode) -> Mode:
    """A ``Mode`` from a name (``"bigm"``, ``"sos1"``, ``"indicator"``, ``"product"``) or instance."""
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str) and mode.lower() in MODES:
        return MODES[mode.lower()]()
    raise BilevelInputError(f"unknown complementarity mode {mode!r}; choose one of {sorted(MODES)}")
