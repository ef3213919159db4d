"""What one solve hands every method: the problem, its structure (detected once), the
high-point relaxation cache (bound tightening solved once) and the clock."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..problem import BilevelProblem
from ..structure import Structure
from .lifted import HPR

CERTIFY_TIME_LIMIT = 60.0  # seconds for one follower re-solve of the certificate


@dataclass
class Context:
    """One method run's inputs. ``time_limit`` (seconds, None: none) counts from ``t0``;
    ``certify_time_limit`` bounds each follower re-solve of the certificate."""

    problem: BilevelProblem
    structure: Structure
    time_limit: float | None = None
    certify_time_limit: float = CERTIFY_TIME_LIMIT
    hpr: HPR = field(default_factory=HPR)
    t0: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float | None:
        """Seconds left (never negative), None without a limit."""
        return None if self.time_limit is None else max(0.0, self.time_limit - self.elapsed())

    def out_of_time(self, margin: float = 0.0) -> bool:
        left = self.left()
        return left is not None and left <= margin

    def stage(self, seconds: float | None) -> Context:
        """The same problem with its own clock and ``seconds`` of budget (a stage of auto,
        a model of the trust region)."""
        return Context(self.problem, self.structure, seconds, self.certify_time_limit, self.hpr)
