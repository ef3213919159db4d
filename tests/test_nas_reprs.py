"""NAS and HPO result records summarise themselves in one line (no history dump)."""

import numpy as np
import pytest

from nas_frontend.common import SearchResult


def _result(n_history, **kw):
    history = [{"iter": k, "val_loss": 1.0 / (k + 1), "probs": [[0.25] * 4] * 6}
               for k in range(n_history)]
    base = dict(method="darts2", space="cell3", dataset="digits", seed=3,
                genotype=("conv3", "skip", "conv5"), epochs_used=12.5, seconds=42.25,
                alpha=[[0.1] * 4] * 6, history=history)
    base.update(kw)
    return SearchResult(**base)


def test_search_result_repr_summarises_whatever_the_history():
    short, long = repr(_result(3)), repr(_result(5000))
    assert "\n" not in long and len(long) < 250
    assert len(long) - len(short) <= 4  # only the iteration count grows
    for part in ("method='darts2'", "space='cell3'", "dataset='digits'", "seed=3",
                 "genotype='conv3|skip|conv5'", "iterations=5000", "seconds=42.2"):
        assert part in long, (part, long)
    assert "val_loss=0.0002" in long  # the last logged validation loss
    assert "probs" not in long and "alpha" not in long


def test_search_result_repr_shows_the_best_score_available():
    r = _result(2, info={"best_val_acc": 0.875})
    assert "best_val_acc=0.875" in repr(r) and r.score() == ("best_val_acc", 0.875)
    r.info["retrain"] = {"test_acc": 0.9125, "val_acc": 0.9}
    assert "test_acc=0.9125" in repr(r) and "best_val_acc" not in repr(r)
    assert _result(0).score() is None and "iterations=0" in repr(_result(0))


def test_search_result_json_round_trip_keeps_the_repr(tmp_path):
    r = _result(4, info={"best_val_acc": 0.5})
    r.to_json(tmp_path / "r.json")
    assert repr(SearchResult.from_json(tmp_path / "r.json")) == repr(r)


def test_tune_result_repr_summarises():
    pytest.importorskip("sklearn")
    from nas_frontend.hpo.base import TuneResult

    history = [dict(iter=k, val_loss=2.0 - 0.001 * k, stationarity=0.0) for k in range(3000)]
    r = TuneResult(theta=np.log(np.full(10, 0.5)), w=np.zeros(20000), history=history,
                   reason="max_iter", n_iter=2999)
    text = repr(r)
    assert "\n" not in text and len(text) < 200
    for part in ("n_iter=2999", "reason='max_iter'", "val_loss=", "0.5, 0.5", "...",
                 "w_size=20000", "history=3000 rows"):
        assert part in text, (part, text)
