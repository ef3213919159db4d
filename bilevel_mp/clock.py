"""Time limits that hold, and a Ctrl-C that returns the best point found so far.

A solve with ``time_limit = T`` returns within ``with_grace(T) = T * (1 + GRACE_FRACTION)
+ GRACE_SECONDS`` of the call: structure detection, bound tightening, the methods'
searches and the certificate of the returned point all count. The methods plan to end
their search at T; the grace covers the last solver call's overrun and the certificate,
whose re-solves are cut short (the point is then returned uncertified) rather than let
run past it.

Inside ``catch_interrupt()`` (entered by ``bilevel_mp.solve`` in the main thread) the
first Ctrl-C does not raise: it sets a flag that every method's clock reads as "no time
left", so the solve ends as at a time limit and returns its best point with status
``time_limit`` and the note "interrupted". A second Ctrl-C raises ``KeyboardInterrupt``.
SCIP catches Ctrl-C itself during its solves; the back end reports it with
``note_interrupt()``.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager

GRACE_FRACTION = 0.05
GRACE_SECONDS = 2.0
MIN_SOLVE_SECONDS = 0.05  # the least a re-solve past the deadline is given

_state = {"pressed": 0}


def with_grace(time_limit: float | None) -> float | None:
    """The wall-clock seconds a solve with ``time_limit`` may take (None: no limit)."""
    return None if time_limit is None else time_limit * (1.0 + GRACE_FRACTION) + GRACE_SECONDS


def interrupted() -> bool:
    """True once the user has pressed Ctrl-C during the current solve."""
    return _state["pressed"] > 0


def seconds_to(deadline: float) -> float:
    """Seconds until the ``time.perf_counter()`` instant ``deadline`` (``math.inf``: never);
    0 after a Ctrl-C. The one clock of the methods' loops."""
    return 0.0 if interrupted() else deadline - time.perf_counter()


def note_interrupt() -> None:
    """Record a Ctrl-C that a solver caught itself (SCIP's 'userinterrupt')."""
    _state["pressed"] = max(1, _state["pressed"])


def _on_sigint(signum, frame):
    _state["pressed"] += 1
    if _state["pressed"] >= 2:
        raise KeyboardInterrupt
    print("\nbilevel-mp: interrupted: finishing with the best point so far "
          "(press Ctrl-C again to abort)", file=sys.stderr, flush=True)


@contextmanager
def catch_interrupt():
    """Turn the first Ctrl-C into ``interrupted()`` for the duration (main thread only;
    elsewhere, or nested, a no-op)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is _on_sigint:
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    _state["pressed"] = 0
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _state["pressed"] = 0
