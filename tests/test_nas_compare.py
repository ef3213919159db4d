"""benchmarks/nas_compare.py: scoring against the ground-truth table, incumbent
trajectories and regret curves (checked against values computed here from the CSV)."""

import csv
import importlib.util
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from nas_frontend.plots import incumbents  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CELL4 = ROOT / "benchmarks" / "nas_truth" / "cell4.csv"


def _load():
    spec = importlib.util.spec_from_file_location("nas_compare", ROOT / "benchmarks" / "nas_compare.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


nc = _load()


def _csv_means(path, key="test_acc"):
    by = {}
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            by.setdefault(r["genotype"], []).append(float(r[key]))
    return {g: statistics.mean(v) for g, v in by.items()}, by


def test_truth_and_score_match_the_csv():
    mean_csv, _ = _csv_means(CELL4)
    archs, mean, best, feasible = nc.truth("cell4", CELL4, None)
    assert best == pytest.approx(max(mean_csv.values()))
    g_best = max(mean_csv, key=mean_csv.get)
    rec = nc.score({"genotype": g_best}, archs, mean, best, feasible, nc.val_means(archs, mean))
    assert rec["regret"] == pytest.approx(0.0) and rec["percentile"] == 100.0 and nc.top1(rec)
    g_worst = min(mean_csv, key=mean_csv.get)
    rec = nc.score({"genotype": g_worst}, archs, mean, best, feasible)
    assert rec["regret"] == pytest.approx(best - mean_csv[g_worst])
    assert rec["parameter_free"] and not nc.top1(rec)
    assert rec["percentile"] == pytest.approx(100.0 * sum(v <= mean_csv[g_worst] for v in mean_csv.values())
                                              / len(mean_csv))


def test_resource_reference_is_best_feasible():
    rows = list(csv.DictReader(CELL4.open(newline="")))
    params = {r["genotype"]: int(r["params"]) for r in rows}
    mean_csv, _ = _csv_means(CELL4)
    archs, mean, best, feasible = nc.truth("cell4", CELL4, "params:4500")
    assert feasible == {g for g in mean_csv if params[g] <= 4500}
    assert best == pytest.approx(max(mean_csv[g] for g in feasible))
    assert best < max(mean_csv.values())
    over = max(mean_csv, key=mean_csv.get)
    assert not nc.score({"genotype": over}, archs, mean, best, feasible)["meets_resource"]


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
    c = nc.regret_curve(rec, mean, 0.99, grid, "epochs")
    assert np.isnan(c[:2]).all()
    assert np.allclose(c[2:], [0.09, 0.09, 0.04, 0.04, 0.0, 0.0])
    s = nc.regret_curve(rec, mean, 0.99, np.array([5.0, 10.0, 35.0, 50.0]), "seconds")
    assert np.isnan(s[0]) and np.allclose(s[1:], [0.09, 0.04, 0.0])
    # a last logged point at the final epoch: the returned architecture wins the tie
    rec2 = {**rec, "trajectory": rec["trajectory"] + [(8.0, 40.0, "a", None)]}
    assert nc.regret_curve(rec2, mean, 0.99, np.array([8.0]), "epochs")[0] == 0.0
    # an incumbent missing from the table is unknown (nan), not the previous value
    rec3 = {**rec, "trajectory": [(2.0, 10.0, "a", None), (5.0, 30.0, "zz", None)]}
    c3 = nc.regret_curve(rec3, mean, 0.99, np.array([3.0, 6.0, 8.0]), "epochs")
    assert c3[0] == pytest.approx(0.09) and np.isnan(c3[1]) and c3[2] == 0.0


def test_parse_settings():
    assert nc.parse_settings(["delta=0.5", "basis=cg", "k=4"]) == {"delta": 0.5, "basis": "cg", "k": 4}
    with pytest.raises(SystemExit):
        nc.parse_settings(["delta"])


def test_end_to_end_table_oracle_runs(tmp_path):
    """Random search and grid search through the benchmark on cell3 (table oracle): the
    records' accuracies and regrets are the CSV's, and the figures are written."""
    table = ROOT / "benchmarks" / "nas_truth" / "cell3.csv"
    assert nc.main(["--space", "cell3", "--seeds", "2", "--budget-epochs", "60", "--methods",
                    "random,grid", "--jobs", "1", "--out", str(tmp_path)]) == 0
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
    archs, mean, best, feasible = nc.truth(space, ROOT / "benchmarks" / "nas_truth" / f"{space}.csv",
                                           resource)
    for r in recs:
        fresh = nc.score({"genotype": r["genotype"]}, archs, mean, best, feasible)
        assert fresh["test_acc"] == pytest.approx(r["test_acc"])
        assert fresh["regret"] == pytest.approx(r["regret"])
        assert fresh["meets_resource"] == r["meets_resource"]
        assert r["epochs"] <= budget + 1.0
        if r["method"] == "mp" and resource:
            assert r["meets_resource"]              # MP never exceeds the budget
