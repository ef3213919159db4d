"""The names of the search spaces and data sets, importable without torch (the command
line offers them as choices before anything is built)."""

from __future__ import annotations

SPACE_NAMES = ("cell3", "cell4", "mlp")
"""The search spaces of :mod:`models.spaces` (with ground-truth tables)."""
MODEL_SPACES = ("nb201",)
"""Spaces written as models with Choices (:mod:`models.nb201`), searched by name too."""
SEARCH_SPACES = SPACE_NAMES + MODEL_SPACES
"""Every space the searchers and ``bilevel-mp nas --space`` take by name."""
DATASETS = ("mnist1d", "digits", "moons")
"""The data sets of :func:`models.data.load`."""


def check_space(space: str) -> str:
    """``space`` if it names a search space, else ValueError listing the names."""
    if space not in SPACE_NAMES:
        raise ValueError(f"unknown search space {space!r}; choose one of {', '.join(SPACE_NAMES)}")
    return space


def check_search_space(space: str) -> str:
    """``space`` if it names any searchable space (:data:`SEARCH_SPACES`), else ValueError."""
    if space not in SEARCH_SPACES:
        raise ValueError(f"unknown search space {space!r}; choose one of "
                         f"{', '.join(SEARCH_SPACES)}")
    return space


def check_dataset(name: str) -> str:
    """``name`` if it names a data set, else ValueError listing the names."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return name
