"""The campaign's failures, before they were fixed, kept as regressions: answers
that exploited the follower's tolerance (y drifting ~sqrt(gap) inside the follower's
optimum, or a hair outside its set) and were reported ``optimal`` at an F the follower's
exact response does not allow (``benchmarks/FUZZ.md``; reproduce one with
``python benchmarks/fuzz_campaign.py --repro FAMILY SEED METHOD``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bilevel_mp.library import known_optima as ko

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("fuzz_campaign", ROOT / "benchmarks" / "fuzz_campaign.py")
FC = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(FC)


@pytest.mark.parametrize("family,seed,method", [
    ("nonconvex", 5, "auto"), ("nonconvex", 41, "auto"), ("nonconvex", 61, "auto"),
    ("nonconvex", 71, "auto"), ("miqp", 64, "strong_duality"), ("lp_param", 44, "kkt"),
    ("lplp", 1062, "regularized"),  # fresh seeds: a traceback comparing a missing gap
    # strong duality on QP followers at SCIP's default feasibility tolerance
    ("qp", 22, "strong_duality"), ("qp", 57, "strong_duality"), ("qp", 66, "strong_duality"),
    ("qp", 71, "strong_duality"), ("miqp", 0, "strong_duality"), ("miqp", 72, "strong_duality"),
    ("miqp", 2, "strong_duality"),  # and its tight tolerance once called a feasible one infeasible
])
def test_former_wrong_optimal_answers(family, seed, method):
    _, ref = ko.generate(family, seed)
    rec = FC.solve_task(family, seed, method, 20.0)
    cat, reason = FC.classify(rec, {"ref_status": ref.status, "F_star": ref.F},
                              ko.instance(family, seed).upper_sense)
    assert cat not in ("WRONG", "traceback"), reason
