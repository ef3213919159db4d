"""Declared, validated settings: each method's ``Settings`` is a dataclass whose fields are
its options (documented in the class docstring) and whose ``__post_init__`` checks them,
in the manner of Pyomo's ``CONFIG`` and scikit-learn's parameter constraints."""

from __future__ import annotations

import difflib
import math
from dataclasses import fields

import numpy as np

from ..errors import BilevelInputError


def make_settings(method: str, cls, options: dict):
    """``cls(**options)``; an unknown option raises ``BilevelInputError`` naming the
    method's valid settings (and the nearest one)."""
    valid = [f.name for f in fields(cls)]
    for key in options:
        if key not in valid:
            near = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise BilevelInputError(
                f"method {method!r} has no setting {key!r}{hint}; its settings are: "
                f"{', '.join(valid) if valid else 'none'}")
    return cls(**options)


def setting_names(cls) -> list[str]:
    return [f.name for f in fields(cls)]


def positive(name: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
            or not math.isfinite(value):
        raise BilevelInputError(f"{name} must be a positive number, got {value!r}")


def nonnegative(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
            or not math.isfinite(value):
        raise BilevelInputError(f"{name} must be a number >= 0, got {value!r}")


def count(name: str, value, minimum: int = 0, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise BilevelInputError(f"{name} must be an integer >= {minimum}, got {value!r}")


def one_of(name: str, value, choices) -> None:
    if value not in choices:
        raise BilevelInputError(f"{name} must be one of {list(choices)}, got {value!r}")


def flag(name: str, value) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise BilevelInputError(f"{name} must be True or False, got {value!r}")


def leader_point(name: str, value, n_x: int) -> np.ndarray | None:
    """A start point for x: None, or n_x finite numbers."""
    if value is None:
        return None
    try:
        x = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise BilevelInputError(f"{name} must be a list of {n_x} numbers, got {value!r}") from None
    if x.shape != (n_x,) or not np.all(np.isfinite(x)):
        raise BilevelInputError(f"{name} must be {n_x} finite numbers (n_x = {n_x}), got {value!r}")
    return x
