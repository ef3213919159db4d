"""What one solve hands every method: the problem, its structure (detected once), the
high-point relaxation cache (bound tightening solved once) and the clock."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..clock import MIN_SOLVE_SECONDS, interrupted, with_grace
from ..problem import BilevelProblem
from ..structure import Structure
from .lifted import HPR

CERTIFY_TIME_LIMIT = 60.0  # seconds for one follower re-solve of the certificate


@dataclass
class Context:
    """One method run's inputs. ``time_limit`` (seconds, None: none) counts from ``t0``;
    ``certify_time_limit`` bounds each follower re-solve of the certificate. ``deadline``
    (a ``time.perf_counter()`` instant) is when the whole solve must have returned:
    ``t0 + clock.with_grace(time_limit)``, or the parent's if earlier. After a Ctrl-C
    (``clock.interrupted()``) no time is left."""

    problem: BilevelProblem
    structure: Structure
    time_limit: float | None = None
    certify_time_limit: float = CERTIFY_TIME_LIMIT
    hpr: HPR = field(default_factory=HPR)
    t0: float = field(default_factory=time.perf_counter)
    deadline: float | None = None

    def __post_init__(self):
        if self.time_limit is not None:
            own = self.t0 + with_grace(self.time_limit)
            self.deadline = own if self.deadline is None else min(self.deadline, own)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float | None:
        """Seconds left for the search (never negative; 0 after a Ctrl-C), None without a limit."""
        if interrupted():
            return 0.0
        return None if self.time_limit is None else max(0.0, self.time_limit - self.elapsed())

    def out_of_time(self, margin: float = 0.0) -> bool:
        if interrupted():
            return True
        left = self.left()
        return left is not None and left <= margin

    def search_end(self) -> float:
        """The ``time.perf_counter()`` instant the search should end (``math.inf``: none)."""
        return math.inf if self.time_limit is None else self.t0 + self.time_limit

    def certify_limit(self) -> float:
        """Seconds for the next certificate re-solve: ``certify_time_limit``, cut to what is
        left before ``deadline`` (at least ``clock.MIN_SOLVE_SECONDS``)."""
        if self.deadline is None:
            return self.certify_time_limit
        return min(self.certify_time_limit, max(MIN_SOLVE_SECONDS, self.deadline - time.perf_counter()))

    def stage(self, seconds: float | None) -> Context:
        """The same problem with its own clock and ``seconds`` of budget (a stage of auto),
        which must end within them: its deadline is the earlier of this context's and
        ``seconds`` from now (no grace of its own)."""
        now = time.perf_counter()
        deadline = self.deadline
        if seconds is not None:  # the grace is the whole solve's, not each stage's
            deadline = now + seconds if deadline is None else min(deadline, now + seconds)
        return Context(self.problem, self.structure, seconds, self.certify_time_limit, self.hpr,
                       t0=now, deadline=deadline)
