"""Exact algorithms that work on the problem directly rather than through one
single-level model: ``complementarity_bb`` (LP-LP branch-and-bound over HiGHS LPs)."""

from .complementarity_bb import solve_complementarity_bb

__all__ = ["solve_complementarity_bb"]
