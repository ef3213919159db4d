"""The NAS ground-truth tables: complete, and reproducible entry by entry."""

import csv

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models import spaces  # noqa: E402
from nas_frontend import truth_build  # noqa: E402
from nas_frontend.truth import TABLE_DIR as TRUTH  # noqa: E402
METRICS = ("train_acc", "train_loss", "val_acc", "val_loss", "test_acc", "test_loss")


def _rows(name):
    with (TRUTH / f"{name}.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("space", ["cell3", "cell4", "mlp"])
def test_table_is_complete(space):
    """Every architecture of the space, every seed, exactly once."""
    rows = _rows(space)
    seeds = sorted({int(r["seed"]) for r in rows})
    assert len(seeds) >= 2
    pairs = {(r["genotype"], int(r["seed"])) for r in rows}
    assert len(pairs) == len(rows), "duplicate (genotype, seed) rows"
    want = {("|".join(g), s) for g in spaces.all_genotypes(space) for s in seeds}
    assert pairs == want


def test_two_random_entries_retrain_identically():
    """Retrain two entries of the MLP table (the cheapest runs) with the builder's own
    worker function: the metrics must match the CSV to the digits written."""
    rows = _rows("mlp")
    rng = np.random.default_rng(2026)
    truth_build.init_worker(rows[0]["dataset"], 0)
    for k in rng.choice(len(rows), size=2, replace=False):
        r = rows[int(k)]
        again = truth_build.train_row("mlp", r["genotype"], int(r["seed"]), int(r["epochs"]))
        assert {m: again[m] for m in METRICS} == {m: r[m] for m in METRICS}, r["genotype"]
