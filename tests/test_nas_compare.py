"""Scoring against the ground-truth table (nas_frontend.truth), incumbent trajectories and
regret curves (checked against values computed here from the CSV), and the benchmark
benchmarks/nas_compare.py end to end."""

import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from nas_frontend import truth  # noqa: E402
from nas_frontend.plots import incumbents  # noqa: E402
from nas_frontend.truth import TABLE_DIR  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CELL4 = TABLE_DIR / "cell4.csv"


def _csv_means(path, key="test_acc"):
    by = {}
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            by.setdefault(r["genotype"], []).append(float(r[key]))
    return {g: statistics.mean(v) for g, v in by.items()}, by


def test_truth_and_score_match_the_csv():
    mean_csv, _ = _csv_means(CELL4)
    archs, mean, best, feasible = truth.reference(CELL4, None)
    assert best == pytest.approx(max(mean_csv.values()))
    g_best = max(mean_csv, key=mean_csv.get)
    rec = truth.score({"genotype": g_best}, archs, mean, best, feasible, truth.val_means(archs, mean))
    assert rec["regret"] == pytest.approx(0.0) and rec["percentile"] == 100.0 and truth.top1(rec)
    g_worst = min(mean_csv, key=mean_csv.get)
    rec = truth.score({"genotype": g_worst}, archs, mean, best, feasible)
    assert rec["regret"] == pytest.approx(best - mean_csv[g_worst])
    assert rec["parameter_free"] and not truth.top1(rec)
    assert rec["percentile"] == pytest.approx(100.0 * sum(v <= mean_csv[g_worst] for v in mean_csv.values())
                                              / len(mean_csv))


def test_resource_reference_is_best_feasible():
    rows = list(csv.DictReader(CELL4.open(newline="")))
    params = {r["genotype"]: int(r["params"]) for r in rows}
    mean_csv, _ = _csv_means(CELL4)
    archs, mean, best, feasible = truth.reference(CELL4, "params:4500")
    assert feasible == {g for g in mean_csv if params[g] <= 4500}
    assert best == pytest.approx(max(mean_csv[g] for g in feasible))
    assert best < max(mean_csv.values())
    over = max(mean_csv, key=mean_csv.get)
    assert not truth.score({"genotype": over}, archs, mean, best, feasible)["meets_resource"]


def test_incumbents_of_each_kind_of_history():
    P = np.full((4, 5), 0.1)
    P[:, 3] = 0.6                                # conv5 on every edge (cell4 op order)
    darts = [{"epochs": 0.5, "seconds": 1.0, "probs": P.tolist()}]
    (e, s, g, probs), = incumbents(darts, "cell4")
    assert (e, s, g) == (0.5, 1.0, "conv5|conv5|conv5|conv5") and np.allclose(probs, P)
    mp_h = [{"epochs": 1, "seconds": 2, "genotype": ["conv3", "none", "skip", "conv5"],
             "probs": P.tolist()}]
    assert incumbents(mp_h, "cell4")[0][2] == "conv3|none|skip|conv5"
    sampling = [{"epochs": 20, "seconds": 9, "genotype": "skip|skip|skip|skip",
                 "best_genotype": "conv3|conv3|conv3|conv3"}]
    assert incumbents(sampling, "cell4") == [(20.0, 9.0, "conv3|conv3|conv3|conv3", None)]
    assert incumbents([{"epochs": 1, "loss": 0.3}], "cell4") == []


def test_regret_curve_is_a_step_function_of_the_incumbent():
    mean = {"a": 0.9, "b": 0.95, "c": 0.99}
    rec = {"trajectory": [(2.0, 10.0, "a", None), (5.0, 30.0, "b", None)],
           "epochs": 8.0, "seconds": 40.0, "regret": 0.0, "genotype": "c"}
    grid = np.array([0.0, 1.9, 2.0, 4.0, 5.0, 7.9, 8.0, 9.0])
    c = truth.regret_curve(rec, mean, 0.99, grid, "epochs")
    assert np.isnan(c[:2]).all()
    assert np.allclose(c[2:], [0.09, 0.09, 0.04, 0.04, 0.0, 0.0])
    s = truth.regret_curve(rec, mean, 0.99, np.array([5.0, 10.0, 35.0, 50.0]), "seconds")
    assert np.isnan(s[0]) and np.allclose(s[1:], [0.09, 0.04, 0.0])
    # a last logged point at the final epoch: the returned architecture wins the tie
    rec2 = {**rec, "trajectory": rec["trajectory"] + [(8.0, 40.0, "a", None)]}
    assert truth.regret_curve(rec2, mean, 0.99, np.array([8.0]), "epochs")[0] == 0.0
    # an incumbent missing from the table is unknown (nan), not the previous value
    rec3 = {**rec, "trajectory": [(2.0, 10.0, "a", None), (5.0, 30.0, "zz", None)]}
    c3 = truth.regret_curve(rec3, mean, 0.99, np.array([3.0, 6.0, 8.0]), "epochs")
    assert c3[0] == pytest.approx(0.09) and np.isnan(c3[1]) and c3[2] == 0.0


def _benchmark(*argv):
    """Run benchmarks/nas_compare.py as the script it is."""
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "nas_compare.py"), *argv],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_benchmark_rejects_a_malformed_mp_setting():
    r = _benchmark("--space", "cell3", "--mp", "delta")
    assert r.returncode != 0 and "--mp takes KEY=VALUE" in r.stderr


def test_end_to_end_table_oracle_runs(tmp_path):
    """Random search and grid search through the benchmark on cell3 (table oracle): the
    records' accuracies and regrets are the CSV's, and the figures are written."""
    table = TABLE_DIR / "cell3.csv"
    r = _benchmark("--space", "cell3", "--seeds", "2", "--budget-epochs", "60", "--methods",
                   "random,grid", "--jobs", "1", "--out", str(tmp_path),
                   "--mp", "delta=0.5", "--mp", "basis=cg", "--mp", "k=4")
    assert r.returncode == 0, r.stderr[-3000:]
    # --mp KEY=VALUE: numbers parsed, strings kept
    assert "mp settings {'delta': 0.5, 'basis': 'cg', 'k': 4}" in (tmp_path / "table.md").read_text()
    recs = json.loads((tmp_path / "records.json").read_text())
    mean_csv, _ = _csv_means(table)
    val_csv, _ = _csv_means(table, "val_acc")
    best = max(mean_csv.values())
    assert sorted((r["method"], r["seed"]) for r in recs) == [("grid", 0), ("grid", 1),
                                                              ("random", 0), ("random", 1)]
    for r in recs:
        assert r["test_acc"] == pytest.approx(mean_csv[r["genotype"]])
        assert r["regret"] == pytest.approx(best - mean_csv[r["genotype"]])
        seen = {p[2] for p in r["trajectory"]}
        assert r["genotype"] in seen
        # sampling returns the best by mean validation accuracy among what it evaluated
        assert val_csv[r["genotype"]] == pytest.approx(max(val_csv[g] for g in seen))
        assert r["epochs"] <= 60 + 1e-9
    for name in ("table.md", "regret.png", "regret_curves.png"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "benchmarks" / "nas_records").glob("*.json")))
def test_committed_records_rescore_to_their_stored_values(name):
    """The runs behind docs/nas.md (benchmarks/nas_records/): re-scored against the CSV,
    every record keeps its accuracy, regret and budget verdict, and every run stayed within
    its epoch budget (plus at most one iteration)."""
    recs = json.loads((ROOT / "benchmarks" / "nas_records" / f"{name}.json").read_text())
    space = name.split("_")[0]
    resource = "params:4500" if "params4500" in name else None
    budget = float(name.split("_e")[1].split("_")[0])
    archs, mean, best, feasible = truth.reference(TABLE_DIR / f"{space}.csv", resource)
    for r in recs:
        fresh = truth.score({"genotype": r["genotype"]}, archs, mean, best, feasible)
        assert fresh["test_acc"] == pytest.approx(r["test_acc"])
        assert fresh["regret"] == pytest.approx(r["regret"])
        assert fresh["meets_resource"] == r["meets_resource"]
        assert r["epochs"] <= budget + 1.0
        if r["method"] == "mp" and resource:
            assert r["meets_resource"]              # MP never exceeds the budget
