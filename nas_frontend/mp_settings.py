"""The settings of MP-NAS (:mod:`nas_frontend.mp_search`): defaults, validation, and the
forms a resource budget may take."""

from __future__ import annotations

from .linearize import HVP_MODES

BASES = ("krylov", "gradients", "cg")
SELECTS = ("auto", "argmax", "average", "oneshot")
DEFAULTS = dict(radius=0.2, delta=1.0, basis="krylov", k=3, refresh_steps=5, batch_size=64,
                norm="inf", alpha_bound=4.0, weight_decay=3e-4, lr=3e-3, refresh_factor=1.25,
                min_radius=1e-3, max_radius=1.0, cg_iters=5, damping=1e-2,
                hvp_mode="rev-rev", line_search_evals=4, resource_slack=0.01, select="auto",
                select_k=5)
"""Settings of :class:`~nas_frontend.mp_search.MPSearch` /
:func:`~nas_frontend.mp_search.mp_search` (see mp_search's docstring)."""


def _is_int(v, lo):
    return not isinstance(v, bool) and int(v) == v and v >= lo


def check_settings(**kw) -> dict:
    """DEFAULTS updated by ``kw``, validated (ValueError naming the bad setting)."""
    unknown = set(kw) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown mp_search settings {sorted(unknown)}; known: "
                         f"{sorted(DEFAULTS)}")
    c = {**DEFAULTS, **kw}
    if c["norm"] in (2, 2.0):                 # norm=2 from a number
        c["norm"] = "2"
    ok = {"radius": c["radius"] > 0, "delta": c["delta"] >= 0, "k": _is_int(c["k"], 1),
          "refresh_steps": _is_int(c["refresh_steps"], 0),
          "batch_size": _is_int(c["batch_size"], 2), "alpha_bound": c["alpha_bound"] > 0,
          "weight_decay": c["weight_decay"] >= 0, "lr": c["lr"] > 0,
          "refresh_factor": c["refresh_factor"] >= 0,
          "min_radius": 0 < c["min_radius"] <= c["max_radius"],
          "max_radius": c["max_radius"] > 0, "cg_iters": _is_int(c["cg_iters"], 1),
          "damping": c["damping"] >= 0, "line_search_evals": _is_int(c["line_search_evals"], 1),
          "resource_slack": c["resource_slack"] >= 0, "select": c["select"] in SELECTS,
          "select_k": _is_int(c["select_k"], 1),
          "basis": c["basis"] in BASES, "norm": c["norm"] in ("inf", "2"),
          "hvp_mode": c["hvp_mode"] in HVP_MODES}
    choices = {"basis": BASES, "norm": ("inf", "2"), "hvp_mode": HVP_MODES, "select": SELECTS}
    for name, good in ok.items():
        if not good:
            hint = f"; choose one of {choices[name]}" if name in choices else ""
            raise ValueError(f"mp_search: bad {name} = {c[name]!r}{hint}")
    return c


def mp_resource(spec):
    """``spec`` with the form ``{"kind": k, "max": B}`` turned into ``(k, B)``; the space's
    ``check_resource`` parses the rest (:func:`~nas_frontend.common.parse_resource` forms,
    and on a model's space ``(fn, B)``)."""
    if isinstance(spec, dict) and set(spec) == {"kind", "max"}:
        return (spec["kind"], spec["max"])
    return spec
