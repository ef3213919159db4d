"""The one exit: every method's ``Claim`` becomes a ``BilevelResult`` here.

A method says what it found and what it can prove; this module certifies the point
(the follower re-solved at x), cleans y, rounds integer x, flips the sense and sets the
status from one table. No other code builds a status.

Status table (first row that applies):

=========================  ======================================================
no point, ``verdict``      that verdict (``infeasible``, ``unbounded``,
                           ``lower_level_unbounded``: the method proved it)
no point, limit hit        ``time_limit``
no point                   ``error``
``verdict == "unbounded"`` ``unbounded`` (the leader's objective, solver's proof)
follower unbounded at x    ``lower_level_unbounded``
not certified              ``time_limit`` if a limit was hit, else ``error``
limit hit                  ``time_limit`` (certified point returned)
proven, exact certificate  ``optimal``
local and converged        ``locally_optimal``
otherwise                  ``feasible``
=========================  ======================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..problem import BilevelProblem
from ..result import BilevelResult, Certificate
from ..structure import Structure
from .certify import beats_optimum, certify, certify_and_polish, is_tight, per_solve, polish_locally

VERDICTS = ("infeasible", "unbounded", "lower_level_unbounded")


@dataclass
class Claim:
    """What a method returns: a point (or none) and what it proves about it.

    ``bound`` is a proven lower bound on F in minimisation form. ``proven`` means the
    method's search proves (x, y) globally optimal provided the follower's re-solve at x
    is exact; ``local``/``converged`` describe local methods. ``verdict`` is a proven
    conclusion without a point (or ``"unbounded"`` with one). ``certificate`` is set by
    ``settle`` (or by a method that certified the point itself)."""

    x: np.ndarray | None = None
    y: np.ndarray | None = None
    duals: dict = field(default_factory=dict)
    proven: bool = False
    local: bool = False
    converged: bool = False
    limit_hit: bool = False
    verdict: str | None = None
    bound: float | None = None
    solver: str = ""
    mode: str | None = None
    assumptions: list = field(default_factory=list)
    message: str = ""
    history: list = field(default_factory=list)
    certificate: Certificate | None = None
    settled: bool = False
    found_by: str = ""

    def note(self, text: str) -> None:
        """Append ``text`` to the message."""
        self.message = f"{self.message}; {text}" if self.message else text

    def F_min(self, problem: BilevelProblem) -> float | None:
        """F at the (settled) point in minimisation form, None without a point."""
        if self.x is None:
            return None
        return problem.sense_sign * problem.leader_value(self.x, self.y, self.duals)

    @property
    def certified(self) -> bool:
        return self.certificate is not None and self.certificate.certified


def settle(problem: BilevelProblem, claim: Claim, certify_time_limit) -> Claim:
    """Round integer x, certify (x, y) and clean y (the exact optimistic response at x
    when the solver's y is optimal only to its tolerances). A claim keeps ``proven`` only
    if its y is tight (``is_tight``) and the clean response does not raise F: no method
    can turn the certificate's tolerance into a better F. ``certify_time_limit``: seconds
    per re-solve, or a function giving them (``Context.certify_limit``). Idempotent."""
    if claim.settled or claim.x is None:
        return claim
    x = np.asarray(claim.x, dtype=float).ravel()
    ints = problem.x_is_integer()
    if any(ints):
        x = np.where(ints, np.round(x), x)
    y = np.asarray(claim.y, dtype=float).ravel()
    if problem.dual_links:  # F and G read the linked duals; the certificate checks them
        missing = [name for name in problem.dual_links if name not in claim.duals]
        if missing:
            claim.note(f"the method returned no value for the linked duals {missing}")
            claim.proven = False
        problem.set_duals(claim.duals)
    cert = claim.certificate
    if cert is not None and (x != np.asarray(claim.x, float)).any():
        cert = None  # rounding moved x: the method's certificate no longer applies
    y_new, cert, replaced = certify_and_polish(problem, x, y, time_limit=certify_time_limit, cert=cert)
    if replaced:
        claim.note("y replaced by the exact optimistic follower response at x")
        if claim.proven and _worse(problem, x, y, y_new):
            # the method's proof is about (x, y): with the exact response F is higher
            claim.proven = False
            claim.note("the exact response raises F: the method's proof does not cover it")
    if cert.certified and cert.solver == "scip" and not problem.coupled:
        y_new, cert = _exact_response(problem, claim, x, y_new, cert, certify_time_limit)
    if claim.proven and claim.bound is not None:
        F = problem.sense_sign * problem.leader_value(x, y_new)
        if F > claim.bound + PROOF_TOL * max(1.0, abs(claim.bound)):
            claim.proven = False
            claim.note(f"F exceeds the method's own bound by {F - claim.bound:.3g}: not proven")
    if claim.proven and cert.certified and beats_optimum(cert) and any(problem.y_is_integer()):
        claim.proven = False
        claim.note(f"y beats the follower's exact optimum at x by {-cert.ll_gap:.3g}: it is feasible only to "
                   "the certificate's tolerance, so the method's proof does not cover it")
    if claim.proven and cert.certified and not is_tight(cert):
        claim.proven = False
        claim.note(f"y is follower-optimal only to a gap of {cert.ll_gap:.3g} and no tighter response "
                   "was found at x: the method's proof does not cover it")
    claim.x, claim.y, claim.certificate, claim.settled = x, y_new, cert, True
    if cert.duals:  # the re-solve's LP duals; with linked duals, the vector that holds them
        claim.duals = {**claim.duals, **cert.duals}
    return claim


def _exact_response(problem, claim: Claim, x, y, cert, certify_time_limit):
    """A nonlinear follower: polish y to the follower's exact local response at x
    (``polish_locally``). If that raises F, y had drifted within the follower's tolerance
    to the leader's profit: the polished y is returned, and a proven claim stays proven
    only if its F still meets the claim's bound."""
    seconds = per_solve(certify_time_limit)()
    y_loc = polish_locally(problem, x, y, time_limit=min(30.0, seconds or 30.0))
    if y_loc is None or not _worse(problem, x, y, y_loc):
        return y, cert
    cert_loc = certify(problem, x, y_loc, time_limit=seconds)
    if not cert_loc.certified:
        return y, cert
    if claim.proven:
        F = problem.sense_sign * problem.leader_value(x, y_loc)
        bound = claim.bound
        claim.proven = bound is not None and F <= bound + PROOF_TOL * max(1.0, abs(bound))
    claim.note("y polished to the follower's exact response at x: F rises"
               + ("" if claim.proven else "; the method's proof does not cover it"))
    return y_loc, cert_loc


PROOF_TOL = 1e-6  # F within this (relative) of a proven bound still counts as proven


def _worse(problem: BilevelProblem, x, y_old, y_new, tol: float = 1e-6) -> bool:
    """F(x, y_new) above F(x, y_old) by more than ``tol`` relative (minimisation form)."""
    old = problem.sense_sign * problem.leader_value(x, y_old)
    new = problem.sense_sign * problem.leader_value(x, y_new)
    return new > old + tol * max(1.0, abs(old))


def status_of(claim: Claim) -> str:
    """The status table of the module docstring (the claim must be settled)."""
    if claim.x is None:
        if claim.verdict in VERDICTS:
            return claim.verdict
        return "time_limit" if claim.limit_hit else "error"
    cert = claim.certificate
    if claim.verdict == "unbounded":
        return "unbounded"
    if cert.ll_status == "unbounded":
        return "lower_level_unbounded"
    if not cert.certified:
        return "time_limit" if claim.limit_hit else "error"
    if claim.limit_hit:
        return "time_limit"
    if claim.proven and cert.exact:
        return "optimal"
    if claim.local and claim.converged:
        return "locally_optimal"
    return "feasible"


def finish(problem: BilevelProblem, structure: Structure, method: str, claim: Claim,
           certify_time_limit) -> BilevelResult:
    """Settle ``claim`` and turn it into the ``BilevelResult`` of ``method``."""
    settle(problem, claim, certify_time_limit)
    res = BilevelResult(name=problem.name, status=status_of(claim), method=method,
                        mode=claim.mode, structure=structure.label, solver=claim.solver,
                        assumptions=list(claim.assumptions), message=claim.message,
                        history=list(claim.history), found_by=claim.found_by or method)
    if claim.bound is not None:
        res.bound = problem.sense_sign * claim.bound + 0.0  # + 0.0: no -0 in the result
    if claim.x is not None:
        ev = problem.evaluate(claim.x, claim.y, claim.duals)
        res.x, res.y = np.asarray(claim.x, float) + 0.0, np.asarray(claim.y, float) + 0.0
        res.F, res.f = ev["F"] + 0.0, ev["f"] + 0.0
        res.duals = {k: float(v) + 0.0 for k, v in claim.duals.items()}
        res.certificate = claim.certificate
        if not claim.certificate.certified:
            res.message = (res.message + "; " if res.message else "") + \
                f"returned point not certified: {claim.certificate.message}"
    elif claim.verdict == "lower_level_unbounded" and not res.message:
        res.message = "the follower's problem is unbounded"
    return res
