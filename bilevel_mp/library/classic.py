"""Classic bilevel problems by name, each with its source and known optimum.

``get(name)`` returns a fresh ``BilevelProblem`` (``problem.known_F`` holds the known
optimal leader value, ``problem.source`` the reference); ``names()`` lists them.
The BOLIB entries come from the copy of BOLIB (v2, via BOLIB.jl, MIT licence) shipped
in ``library/data/bolib.json``; the others are written here from their papers.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from ..errors import BilevelInputError
from ..frontends.expr import problem_from_dict
from ..problem import BilevelProblem


@lru_cache(maxsize=1)
def bolib_entries() -> dict[str, dict]:
    """The shipped BOLIB entries, by name."""
    text = resources.files("bilevel_mp.library").joinpath("data/bolib.json").read_text()
    return {e["name"]: e for e in json.loads(text)}


def bolib(name: str) -> BilevelProblem:
    """One shipped BOLIB problem by name."""
    entries = bolib_entries()
    if name not in entries:
        raise BilevelInputError(f"no BOLIB problem named {name!r}")
    p = problem_from_dict(entries[name])
    p.source = f"BOLIB v2 (Zhou, Zemkoho & Tin 2020): {name}"
    return p


def bilevel_jump_readme() -> BilevelProblem:
    """BilevelJuMP's README example (leader variable v, follower u in the paper's
    naming swapped): F* = 3 (3.5 · 8/15) + 8/15 = 6.1333..."""
    p = BilevelProblem(1, 1, name="BilevelJuMPReadme", x_bounds=[(0, 8)], y_bounds=[(None, 5)])
    x, y = p.x[0], p.y[0]
    p.set_upper(3 * y + x)
    p.set_lower(-y, [y + x <= 8, 4 * y + x >= 8, 2 * y + x <= 13, 2 * y - 7 * x <= 0])
    p.known_F = 3 * (3.5 * 8 / 15) + 8 / 15
    p.source = "BilevelJuMP.jl README (Dias Garcia, Bodin & Street)"
    return p


def moore_bard_1990() -> BilevelProblem:
    """Moore & Bard (1990), Operations Research 38(5), Example 1, with an integer
    leader and a *continuous* follower:

        min_x  -x - 10 y     x in {0, 1, ..., 8}
        min_y   y   s.t. -25x + 20y <= 30, x + 2y <= 10, 2x - y <= 15, 2x + 10y >= 15

    The follower minimises y, so F(x) = -x - 10 y_min(x); enumerating x with the
    follower LP gives x = 8, y = 1, F* = -18 (the tests repeat the enumeration with
    scipy's linprog)."""
    p = BilevelProblem(1, 1, name="MooreBard1990Cont", x_bounds=[(0, 8)], y_bounds=[(0, None)],
                       x_integer=True)
    x, y = p.x[0], p.y[0]
    p.set_upper(-x - 10 * y)
    p.set_lower(y, [-25 * x + 20 * y <= 30, x + 2 * y <= 10, 2 * x - y <= 15, 2 * x + 10 * y >= 15])
    p.known_F = -18.0
    p.source = "Moore & Bard 1990, Example 1 (follower relaxed to continuous)"
    return p


def integer_leader_lp() -> BilevelProblem:
    """A small LP-LP with two integer leader variables in {0..4}, constructed here::

        min_x  -2 x1 + x2 - 3 y1 - y2        s.t. x1 + x2 <= 6
        min_y   y1 + 2 y2   s.t. y1 + y2 >= 1, y1 - x1 <= 1.5, y2 + x2 >= 2,
                                 2 y1 + y2 <= 2 + x2,  y >= 0

    Optimum by enumerating the 25 leader points (follower LP at each, optimistic
    ties): x = (4, 0), y = (0, 2), F* = -10."""
    p = BilevelProblem(2, 2, name="IntegerLeaderLP", x_bounds=[(0, 4), (0, 4)],
                       y_bounds=[(0, None), (0, None)], x_integer=True)
    x, y = p.x, p.y
    p.set_upper(-2 * x[0] + x[1] - 3 * y[0] - y[1], [x[0] + x[1] <= 6])
    p.set_lower(y[0] + 2 * y[1], [y[0] + y[1] >= 1, y[0] - x[0] <= 1.5, y[1] + x[1] >= 2,
                                 2 * y[0] + y[1] <= 2 + x[1]])
    p.known_F = -10.0
    p.source = "constructed; optimum by enumeration over the integer leader"
    return p


_BUILDERS = {
    "BilevelJuMPReadme": bilevel_jump_readme,
    "MooreBard1990Cont": moore_bard_1990,
    "IntegerLeaderLP": integer_leader_lp,
}

#: BOLIB problems with status 1 (proven optimum) whose follower is an LP or convex QP
CLASSIC_BOLIB = [
    "Bard1984a", "Bard1984b", "GlackinEtal2009", "MershaDempe2006Ex2", "TuyEtal1993",
    "TuyEtal1994", "VisweswaranEtal1996", "WangJiaoLi2005", "MitsosBarton2006Ex31",
    "FrankeEtal2018Ex511", "FrankeEtal2018Ex53", "AiyoshiShimizu1984Ex2", "AllendeStill2013",
    "Bard1988Ex2", "Bard1991Ex1", "BardBook1998", "ClarkWesterberg1990a", "DempeDutta2012Ex31",
    "FalkLiu1995", "GumusFloudas2001Ex4", "SahinCiric1998Ex2", "Yezza1996Ex41", "TuyEtal2007",
    "LamparielloSagratella2017Ex31", "DempeLohse2011Ex31a", "WanWangLv2011",
]


def names() -> list[str]:
    """Names accepted by ``get``."""
    return sorted(_BUILDERS) + sorted(bolib_entries())


def get(name: str) -> BilevelProblem:
    """A classic problem by name (a builder above, or any shipped BOLIB name)."""
    if name in _BUILDERS:
        return _BUILDERS[name]()
    return bolib(name)
