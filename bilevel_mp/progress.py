"""Live progress of one solve: stage, incumbent, bound, gap, seconds.

A solve reports to the *current* reporter (``current()``): ``bilevel_mp.solve`` installs
one with ``reporting(...)`` for the length of the call. The default reporter, ``Progress``,
ignores everything (Python is quiet by default); ``Live`` draws one line on stderr that
is redrawn in place on a terminal (rich) and printed as a plain log line per event
elsewhere (CI logs, pipes). The CLI shows it unless ``--quiet``; in Python
``bmp.solve(p, verbose=True)`` does.

What is reported:

* ``stage(name)``: a stage of ``auto`` (or the one method) starts;
* ``model(primal, dual)``: the running solver's incumbent and bound of the single-level
  model it solves, in minimisation form (the HiGHS and SCIP back ends, the LP-LP
  branch-and-bound); informative, not a certificate;
* ``point(F, bound)``: a stage ended with a certified point F and a proven bound, in
  minimisation form.

Values are shown in the user's sense (``sign`` is ``problem.sense_sign``). Certificate
re-solves report nothing (``muted()``).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time

REFRESH_PER_SECOND = 4
LOG_EVERY_SECONDS = 5.0  # a plain log line at least this far apart unless a stage starts


class Progress:
    """A reporter that ignores everything: the base class and the quiet default."""

    active = False

    def begin(self, name: str, method: str, sign: float = 1.0, time_limit: float | None = None):
        pass

    def stage(self, name: str) -> None:
        pass

    def model(self, primal: float | None, dual: float | None) -> None:
        pass

    def point(self, F: float | None, bound: float | None) -> None:
        pass

    def end(self, status: str | None = None) -> None:
        pass


class Live(Progress):
    """One line: ``name · method · stage │ incumbent │ bound │ gap │ seconds``.

    ``stream``: where to write (default ``sys.stderr``). On a terminal the line is redrawn
    in place (rich ``Live``, transient: it disappears when the solve ends); otherwise a log
    line is written when a stage starts and when the incumbent or bound changes (at most
    one every ``LOG_EVERY_SECONDS``)."""

    active = True

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self._live = None
        self._last_log = -math.inf
        self._logged = None
        self.name = self.method = self.stage_name = ""
        self.sign, self.time_limit, self.t0 = 1.0, None, time.perf_counter()
        self.F = self.bound = None          # certified point, proven bound (min form)
        self.primal = self.dual = None      # the running solver's (min form)

    # --- events -------------------------------------------------------------------
    def begin(self, name, method, sign=1.0, time_limit=None):
        self.name, self.method, self.sign, self.time_limit = name, method, float(sign), time_limit
        self.t0 = time.perf_counter()
        from rich.console import Console

        console = Console(file=self.stream, stderr=self.stream is sys.stderr)
        if console.is_terminal:
            from rich.live import Live as RichLive

            self._live = RichLive(get_renderable=self.line, console=console, transient=True,
                                  refresh_per_second=REFRESH_PER_SECOND, redirect_stdout=False,
                                  redirect_stderr=False)
            self._live.start()

    def stage(self, name):
        self.stage_name = name
        self.primal = self.dual = None
        self._log(force=True)

    def model(self, primal, dual):
        self.primal = _finite(primal)
        self.dual = _finite(dual)
        self._log()

    def point(self, F, bound):
        F, bound = _finite(F), _finite(bound)
        if F is not None and (self.F is None or F < self.F):
            self.F = F
        if bound is not None and (self.bound is None or bound > self.bound):
            self.bound = bound
        self._log()

    def end(self, status=None):
        if self._live is not None:
            self._live.stop()
            self._live = None
        elif status is not None:
            self._write(f"{self.line()} │ {status}")

    # --- rendering ----------------------------------------------------------------
    def values(self) -> tuple[float | None, float | None]:
        """(incumbent, bound) in minimisation form: the better of the certified point
        and the running solver's incumbent, the larger of the proven and the running bound."""
        inc = _best(min, self.F, self.primal)
        bound = _best(max, self.bound, self.dual)
        return inc, bound

    def line(self) -> str:
        inc, bound = self.values()
        gap = "–"
        if inc is not None and bound is not None:
            gap = f"{max(0.0, inc - bound) / max(1.0, abs(inc)):.2%}"
        seconds = time.perf_counter() - self.t0
        limit = f"/{self.time_limit:g}" if self.time_limit is not None else ""
        where = f"{self.name} · {self.method}" + (f" · {self.stage_name}" if self.stage_name and
                                                   self.stage_name != self.method else "")
        return (f"{where} │ incumbent {self._user(inc)} │ bound {self._user(bound)} │ gap {gap} │ "
                f"{seconds:.1f}{limit} s")

    def _user(self, v) -> str:
        return "–" if v is None else f"{self.sign * v + 0.0:.6g}"

    def _log(self, force: bool = False) -> None:
        if self._live is not None:
            return  # redrawn by rich on its own clock
        now = time.perf_counter()
        state = (self.stage_name, *self.values())
        if not force and (state == self._logged or now - self._last_log < LOG_EVERY_SECONDS):
            return
        if self.name:
            self._write(self.line())
            self._last_log, self._logged = now, state

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed stream never stops a solve
            pass


_QUIET = Progress()
_current: list[Progress] = [_QUIET]


def current() -> Progress:
    """The reporter of the solve in progress (the quiet one outside a solve)."""
    return _current[-1]


@contextlib.contextmanager
def reporting(reporter: Progress):
    """Make ``reporter`` the current one for the block (nested solves stack)."""
    _current.append(reporter)
    try:
        yield reporter
    finally:
        _current.pop()


def watcher(bound_only: bool = False):
    """The current reporter's ``model`` as a back end's ``watch`` callback, or None when
    nothing is shown (no callback is installed then). ``bound_only``: the model is a
    relaxation, so its incumbent is not a bilevel point and only its bound is passed."""
    rep = current()
    if not rep.active:
        return None
    if bound_only:
        return lambda primal, dual: rep.model(None, dual)
    return rep.model


@contextlib.contextmanager
def muted():
    """Nothing reported inside the block (certificate re-solves, bound tightening)."""
    with reporting(_QUIET):
        yield


def _finite(v):
    if v is None:
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _best(pick, *values):
    values = [v for v in values if v is not None]
    return pick(values) if values else None
