"""The CVXPY front end's result in the user's terms: CVXPY's auxiliary variables (the
epigraph variables of its canonical form, ``leader.t[k]`` / ``follower.t[k]`` at the end
of x and y) and the multipliers of its own rows (``follower.aux[k]``) are taken out of a
``BilevelResult`` and kept in ``result.internal``."""

from __future__ import annotations

import numpy as np

from ...errors import BilevelInputError


def user_part(vals, n_user: int, n_full: int, level: str) -> np.ndarray:
    """The user's entries (the first ``n_user``) of a full x or y (``n_full`` entries, the
    auxiliaries last) or of one already restricted; ``BilevelInputError`` otherwise."""
    vals = np.asarray(vals, float).ravel()
    if vals.size not in (n_user, n_full):
        raise BilevelInputError(f"result.{level} has {vals.size} entries; this problem has "
                                f"{n_full} (with CVXPY's auxiliary variables) or {n_user} "
                                "(the user's)")
    return vals[:n_user]


def restrict(result, x, y, values: dict, duals: dict, aux_rows: set) -> None:
    """Set ``result.x, y`` to the user's entries ``x, y``, ``result.values`` to ``values``
    and ``result.duals`` to ``duals`` without ``aux_rows``; the full x, y (when they were
    longer) and the multipliers of ``aux_rows`` go to ``result.internal`` ("x", "y",
    "duals"). The certificate's ``y_best`` is cut to the user's entries likewise."""
    internal = dict(getattr(result, "internal", None) or {})
    if np.size(result.x) != x.size or np.size(result.y) != y.size:
        internal.update(x=np.asarray(result.x, float), y=np.asarray(result.y, float))
    internal["duals"] = {**internal.get("duals", {}),
                         **{n: v for n, v in duals.items() if n in aux_rows}}
    result.x, result.y = x, y
    result.duals = {n: v for n, v in duals.items() if n not in aux_rows}
    result.values, result.internal = values, internal
    cert = getattr(result, "certificate", None)
    if cert is not None and cert.y_best is not None and len(cert.y_best) > y.size:
        cert.y_best = list(cert.y_best[:y.size])
