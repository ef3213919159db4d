"""Issue 18: fine-tuning as a step after a search. The default start is RidgeCV's /
LogisticRegressionCV's choice on the same folds, one penalty group by default, the
held-out-fold guard rejects steps that worsen the folds they did not see, early stopping
returns the best held-out iterate, the max_move box, the fit budget, the sklearn API."""

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from nas_frontend.hpo import BilevelLogisticRegression, BilevelRidge
from nas_frontend.hpo.linear import rank_groups


def regression(seed=0, n=120, p=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X @ np.linspace(1.5, 0.0, p) + rng.normal(size=n)
    return X, y


def test_default_start_is_ridgecv_choice_on_the_same_folds():
    X, y = regression(0)
    folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    est = BilevelRidge(cv=folds, max_iter=0).fit(X, y)
    n_train = np.mean([len(tr) for tr, _ in folds])
    grid = np.geomspace(1e-5, 1e2, 15)
    ref = RidgeCV(alphas=n_train * grid, cv=folds, scoring="neg_mean_squared_error").fit(X, y)
    assert est.start_lambda_.shape == (1,) and est.lambda_.shape == (1,)
    assert est.start_lambda_[0] * n_train == pytest.approx(ref.alpha_, rel=1e-12)
    # max_iter=0: the model is RidgeCV's (same alpha on all the data)
    assert np.allclose(est.predict(X), ref.predict(X), atol=1e-8)
    assert not est.moved_ and est.stop_reason_ == "max_iter"


def test_default_start_is_logisticregressioncv_choice():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 5))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=150) > 0).astype(int)
    folds = list(StratifiedKFold(4, shuffle=True, random_state=0).split(X, y))
    est = BilevelLogisticRegression(cv=folds, max_iter=0, n_init=9).fit(X, y)
    n_train = np.mean([len(tr) for tr, _ in folds])
    Cs = 1.0 / (n_train * np.geomspace(1e-5, 1e2, 9))
    ref = LogisticRegressionCV(Cs=Cs, cv=folds, scoring="neg_log_loss", l1_ratios=(0.0,),
                               use_legacy_attributes=False, max_iter=5000, tol=1e-10).fit(X, y)
    assert 1.0 / (n_train * est.start_lambda_[0]) == pytest.approx(float(ref.C_), rel=1e-9)
    assert np.allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-4)


def test_given_start_and_groups():
    X, y = regression(2)
    est = BilevelRidge(cv=3, lam0=0.05, max_iter=2, random_state=0).fit(X, y)
    assert est.start_lambda_ == pytest.approx([0.05])
    per = BilevelRidge(cv=3, lam0=0.05, groups="feature", max_iter=2, random_state=0).fit(X, y)
    assert per.lambda_.shape == (6,) and list(per.groups_) == list(range(6))
    path = BilevelRidge(cv=3, start="path", max_iter=0, random_state=0).fit(X, y)
    cvs = BilevelRidge(cv=3, max_iter=0, random_state=0).fit(X, y)
    assert path.start_lambda_ == pytest.approx(cvs.start_lambda_)  # same grid, same choice


def test_rank_groups_splits_features_by_size_into_equal_parts():
    assert list(rank_groups([3.0, 1.0, 2.0, 0.0], 2)) == [0, 1, 0, 1]
    assert list(rank_groups([5.0, 4.0, 3.0, 2.0, 1.0], 2)) == [0, 0, 0, 1, 1]
    assert list(rank_groups([1.0, 2.0, 3.0], 3)) == [2, 1, 0]
    assert list(rank_groups([1.0, 2.0], 5)) == [1, 0]  # at most one group per feature
    assert list(rank_groups([1.0, 2.0], 1)) == [0, 0]


def test_ranked_groups_penalise_the_weak_features_more_and_refit_is_the_generalised_ridge():
    rng = np.random.default_rng(11)
    n, w_true = 200, np.array([2.0, -1.5, 1.0, 1.2, 0.0, 0.0, 0.0, 0.0])
    X = rng.normal(size=(n, 8))
    y = X @ w_true + 1.5 * rng.normal(size=n) + 3.0
    est = BilevelRidge(cv=5, lam0=0.05, groups=2, guard=False, max_iter=15, random_state=0).fit(X, y)
    assert list(est.groups_) == [0, 1] and est.start_lambda_ == pytest.approx([0.05, 0.05])
    assert list(est.feature_group_) == [0, 0, 0, 0, 1, 1, 1, 1]  # the true support ranks first
    assert est.moved_ and est.lambda_[1] > 2 * est.lambda_[0]
    val = [r["val_loss"] for r in est.history_ if r["accepted"]]
    assert val[-1] < val[0]
    # the model: the generalised ridge on all the rows at the tuned λ (alpha = n_train·λ),
    # solved here by one linear system
    n_train = np.mean([len(tr) for tr, _ in KFold(5, shuffle=True, random_state=0).split(X)])
    lam = est.lambda_[est.feature_group_] * n_train / n
    ys = (y - y.mean()) / y.std()
    Xa = np.column_stack([X, np.ones(n)])
    A = Xa.T @ Xa / n + np.diag(np.append(lam, 0.0))
    w = np.linalg.solve(A, Xa.T @ ys / n)
    assert np.allclose(est.coef_, w[:-1] * y.std(), atol=1e-6)
    assert est.intercept_ == pytest.approx(w[-1] * y.std() + y.mean(), abs=1e-6)


def test_ranked_groups_are_chosen_by_every_fold_from_its_own_training_rows():
    """No fold's validation rows decide its groups: each fold ranks the features by a
    ridge fit (scikit-learn's, here) on its own training rows at the start's λ."""
    from sklearn.linear_model import Ridge
    rng = np.random.default_rng(13)
    n, p = 80, 8
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, size=p)
    y = X @ np.linspace(1.0, 0.6, p) + 2.0 * rng.normal(size=n)
    folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    est = BilevelRidge(cv=folds, lam0=0.1, groups=2, max_iter=0).fit(X, y)
    maps = []
    for prob, fl in ((est.problem_, folds[:3]), (est.guard_problem_, folds[3:])):
        for G, (tr, _) in zip(prob.Gs, fl):
            ref = Ridge(alpha=len(tr) * 0.1).fit(X[tr], y[tr])  # alpha = n_train·λ
            want = rank_groups(np.abs(ref.coef_) * X[tr].std(axis=0), 2)
            assert list(np.argmax(G[:p], axis=1)) == list(want)
            maps.append(tuple(want))
    assert len(set(maps)) == 2  # the folds disagree here: one shared ranking would fail
    whole = Ridge(alpha=n * 0.1 * np.mean([len(tr) for tr, _ in folds]) / n).fit(X, y)
    assert list(est.feature_group_) == list(rank_groups(np.abs(whole.coef_) * X.std(axis=0), 2))


def test_ranked_groups_on_a_classifier_and_with_more_groups_than_features():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(150, 3))
    y = (X[:, 0] + 0.2 * rng.normal(size=150) > 0).astype(int)
    est = BilevelLogisticRegression(cv=3, lam0=0.01, groups=5, max_iter=3, random_state=0).fit(X, y)
    assert list(est.groups_) == [0, 1, 2] and est.feature_group_[0] == 0
    assert est.lambda_.shape == (3,) and est.predict_proba(X).shape == (150, 2)


def test_one_ranked_group_is_one_lambda_and_rankings_count_against_the_fit_budget():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(150, 5))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=150) > 0).astype(int)
    for hessian in ("exact", "sr1"):  # the SR1 pairs of the first fit are the same too
        kw = dict(lam0=0.02, hessian=hessian, guard=False, max_move=None, max_iter=4, random_state=0)
        one = BilevelLogisticRegression(groups=None, **kw).fit(X, y)
        ranked = BilevelLogisticRegression(groups=1, **kw).fit(X, y)
        assert ranked.lambda_ == pytest.approx(one.lambda_, rel=1e-10)
    Xr, yr = regression(8, n=150, p=6)
    # the rankings (5 folds + all the rows: 6 fits) spend a budget of 4 or 6: no step
    for budget in (4, 6):
        est = BilevelRidge(cv=5, lam0=0.05, groups=2, max_fits=budget, random_state=0).fit(Xr, yr)
        assert not est.moved_ and est.stop_reason_ == "fit budget spent" and est.n_iter_ == 0
    # the search gets the rest; as for one λ, its last trial may pass it by one trial's
    # fits (3 search folds + 2 guard folds)
    est = BilevelRidge(cv=5, lam0=0.05, groups=2, max_fits=20, random_state=0).fit(Xr, yr)
    assert est.history_[-1]["fits"] - est.history_[0]["fits"] <= 20 - 6 + 5


def _conflict(n_train=80, n_val=30, p=4, seed=3):
    """Five folds sharing one training set: the first three folds' validation rows follow
    the training relation (they want a small λ), the last two's have the sign of y
    flipped (they want w = 0, a large λ). The guard holds out the last two."""
    rng = np.random.default_rng(seed)
    w = np.array([2.0, -1.0, 1.0, 0.5])[:p]
    Xt = rng.normal(size=(n_train, p))
    yt = Xt @ w + 0.5 * rng.normal(size=n_train)
    Xs, ys, folds = [Xt], [yt], []
    pos = n_train
    for k in range(5):
        Xv = rng.normal(size=(n_val, p))
        yv = (1.0 if k < 3 else -1.0) * (Xv @ w) + 0.5 * rng.normal(size=n_val)
        Xs.append(Xv)
        ys.append(yv)
        folds.append((np.arange(n_train), np.arange(pos, pos + n_val)))
        pos += n_val
    return np.vstack(Xs), np.concatenate(ys), folds


def test_guard_rejects_a_step_that_worsens_the_held_out_folds():
    X, y, folds = _conflict()
    # what the guarded search's steps see: the first three folds, unguarded, lower λ
    free = BilevelRidge(cv=folds[:3], lam0=1.0, guard=False, max_iter=10).fit(X, y)
    assert free.moved_ and free.lambda_[0] < 0.5
    est = BilevelRidge(cv=folds, lam0=1.0, max_iter=10).fit(X, y)
    assert len(est.problem_.folds) == 3 and len(est.guard_problem_.folds) == 2
    rejected = [r for r in est.history_ if "rejected_guard_loss" in r]
    assert rejected and all(r["rejected_guard_loss"] > r["guard_loss"] for r in rejected)
    assert all(not r["accepted"] for r in rejected)
    assert not est.moved_ and est.lambda_ == pytest.approx([1.0])
    assert "held-out validation loss would rise" in est.stop_reason_
    # a looser tolerance lets the same steps through (the last safeguard off)
    loose = BilevelRidge(cv=folds, lam0=1.0, guard_tol=10.0, confidence=None, max_iter=10).fit(X, y)
    assert loose.moved_


def test_confidence_declines_a_move_the_held_out_folds_do_not_support():
    X, y, folds = _conflict()
    start = BilevelRidge(cv=folds, lam0=1.0, max_iter=0).fit(X, y)
    # the steps pass the loose per-step guard, but the held-out folds end up worse than at
    # the start: the default confidence returns the start, saying why (off: the move is kept)
    assert BilevelRidge(cv=folds, lam0=1.0, guard_tol=10.0, confidence=None, max_iter=10).fit(X, y).moved_
    est = BilevelRidge(cv=folds, lam0=1.0, guard_tol=10.0, max_iter=10).fit(X, y)
    assert not est.moved_ and est.lambda_ == pytest.approx([1.0])
    assert est.stop_reason_.startswith("declined: the held-out loss fell by -")
    assert "not above 1 x its standard error" in est.stop_reason_
    assert np.allclose(est.predict(X), start.predict(X), atol=1e-10)
    g0 = est.guard_problem_
    assert g0.sample_losses(g0.fit_lower(np.log([1.0]))).size == 2 * 30  # the held-out rows


def test_confidence_keeps_a_move_the_held_out_folds_support():
    X, y = regression(4, n=300, p=8)
    kept = BilevelRidge(cv=5, lam0=50.0, max_iter=10, random_state=0).fit(X, y)
    free = BilevelRidge(cv=5, lam0=50.0, max_iter=10, random_state=0, confidence=None).fit(X, y)
    assert kept.moved_ and kept.lambda_ == pytest.approx(free.lambda_, rel=1e-12)
    # an evidence bar no fall can pass: the same search, declined
    strict = BilevelRidge(cv=5, lam0=50.0, max_iter=10, random_state=0, confidence=1e9).fit(X, y)
    assert not strict.moved_ and strict.stop_reason_.startswith("declined: the held-out loss fell by ")
    assert "not above 1e+09 x" in strict.stop_reason_


def test_a_start_at_a_bound_up_to_rounding_is_that_bound():
    X, y = regression(3)
    est = BilevelRidge(cv=3, lam0=1e-5 * (1 - 1e-15), max_iter=0).fit(X, y)  # RidgeCV's alpha / n
    assert est.start_lambda_ == pytest.approx([1e-5], rel=1e-14)
    with pytest.raises(ValueError, match="lam0 must lie within lam_bounds"):
        BilevelRidge(cv=3, lam0=0.99e-5, max_iter=0).fit(X, y)


def test_held_out_evidence_is_a_paired_mean_against_its_standard_error():
    from nas_frontend.hpo.base import held_out_evidence

    before = np.array([1.0, 1.0, 1.0, 1.0])
    after = np.array([0.9, 1.1, 0.95, 1.02])
    d = before - after
    enough, gain, se, _ = held_out_evidence(before, after, 1.0)
    assert gain == pytest.approx(d.mean()) and se == pytest.approx(d.std(ddof=1) / 2.0)
    assert not enough and held_out_evidence(before, after, 0.0)[0]  # 0: any fall
    assert held_out_evidence(before, before - 0.1 + 1e-3 * np.arange(4), 5.0)[0]


def test_early_stopping_returns_the_best_held_out_iterate():
    X, y, folds = _conflict()
    est = BilevelRidge(cv=folds, lam0=1.0, guard_tol=10.0, n_iter_no_change=1, max_iter=10).fit(X, y)
    assert est.stop_reason_.startswith("early stopping")
    assert est.history_[-1].get("restored") and not est.moved_
    assert est.problem_.val_loss(est.w_) == pytest.approx(est.history_[-1]["val_loss"], rel=1e-10)


def test_guard_lets_agreeing_steps_through():
    X, y = regression(4, n=300, p=8)
    est = BilevelRidge(cv=5, lam0=50.0, max_iter=10, random_state=0).fit(X, y)
    assert est.moved_ and est.lambda_[0] < 50.0
    g = [r["guard_loss"] for r in est.history_ if r["accepted"]]
    assert all(b <= a for a, b in zip(g, g[1:]))  # the held-out loss never rose


def test_single_split_guard_and_max_move_and_fit_budget():
    X, y = regression(5, n=200, p=6)
    est = BilevelRidge(lam0=1.0, groups="feature", guard=False, max_move=0.5, max_iter=20,
                       random_state=0).fit(X, y)
    assert np.all(np.abs(np.log10(est.lambda_)) <= 0.5 + 1e-9) and est.moved_
    split = BilevelRidge(lam0=1.0, max_iter=5, random_state=0).fit(X, y)
    assert split.guard_problem_ is not None  # one pair: part of its validation rows held out
    n_v = len(split.problem_.folds[0][1].y) + len(split.guard_problem_.folds[0][1].y)
    assert n_v == 50
    capped = BilevelRidge(cv=5, lam0=1.0, groups="feature", guard=False, max_fits=1,
                          max_iter=20, random_state=0).fit(X, y)
    assert capped.stop_reason_ == "fit budget spent" and capped.n_iter_ == 1


def test_clone_get_params_round_trip():
    est = BilevelLogisticRegression(lam0=0.01, start="path", groups="feature", guard=False,
                                    guard_fraction=0.2, guard_tol=0.01, patience=3,
                                    n_iter_no_change=None, max_move=1.0, max_fits=40, cv=4)
    c = clone(est)
    assert c.get_params() == est.get_params()
    c.set_params(guard=True, n_iter_no_change=2)
    assert c.get_params()["n_iter_no_change"] == 2 and est.n_iter_no_change is None
    rng = np.random.default_rng(6)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + rng.normal(size=120) > 0).astype(int)
    c.fit(X, y)
    assert isinstance(c.moved_, bool) and isinstance(c.stop_reason_, str)
    again = pickle.loads(pickle.dumps(c))
    assert np.array_equal(again.predict_proba(X), c.predict_proba(X))
    assert 0.5 < c.score(X, y) <= 1.0


@pytest.mark.parametrize("est,match", [
    (BilevelRidge(n_iter_no_change=2, guard=False), "needs guard=True"),
    (BilevelRidge(groups="layer"), "'groups' parameter of BilevelRidge"),
    (BilevelRidge(start="grid"), "'start' parameter of BilevelRidge"),
    (BilevelRidge(max_move=0.0), "'max_move' parameter of BilevelRidge"),
    (BilevelRidge(patience=0), "'patience' parameter of BilevelRidge"),
    (BilevelRidge(guard="yes"), "'guard' parameter of BilevelRidge"),
    (BilevelRidge(confidence=-1.0), "'confidence' parameter of BilevelRidge"),
    (BilevelRidge(lam0=[0.1, 0.2], groups=None), r"lam0 has 2 values, expected 1 or one per group \(1\)"),
    (BilevelRidge(lam0=[0.1, 0.2], groups=2), "ranks the features at one start λ: give lam0 as one value"),
    (BilevelRidge(groups=0), "'groups' parameter of BilevelRidge"),
    (BilevelRidge(groups=True), "groups must be None, an int k >= 1, 'feature' or one label"),
])
def test_bad_new_inputs_raise_clear_errors(est, match):
    X, y = regression(7, n=40, p=4)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


# the scikit-learn suite on the non-default paths too (the defaults: tests/test_hpo.py);
# every check passes, none is declared as an expected failure
@parametrize_with_checks([BilevelRidge(max_iter=2, start="path", groups="feature", guard=False),
                          BilevelRidge(max_iter=2, groups=2),
                          BilevelLogisticRegression(lam0=0.01, max_iter=2, n_iter_no_change=1,
                                                    max_move=1.0)])
def test_sklearn_checks_on_the_other_options(estimator, check):
    check(estimator)


def test_optuna_example_runs():
    pytest.importorskip("optuna")
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, str(root / "examples" / "hpo_optuna.py")], capture_output=True,
                       text=True, timeout=120, cwd=root)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Optuna TPE: best λ" in r.stdout and "moved=" in r.stdout and "test MSE fine-tuned" in r.stdout


def test_benchmark_script_runs_and_reports_every_start(tmp_path):
    pytest.importorskip("torch")
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "hpo.json"
    r = subprocess.run([sys.executable, str(root / "benchmarks" / "hpo.py"), "--datasets", "diabetes",
                        "--seeds", "0", "--mlp", "--json", str(out)], capture_output=True, text=True,
                       timeout=300, cwd=root)
    assert r.returncode == 0, r.stderr[-2000:]
    for kind in ("grid", "random", "*CV", "MLP grid"):
        assert f"from {kind}: never worse on" in r.stdout
    import json

    res = json.loads(out.read_text())["results"]
    mlp = res["mlp diabetes"][0]
    assert mlp["seconds_per_fit"] > 0 and mlp["fits_finetune"] <= 12 - 6 - 1
    cv = res["diabetes"][0]["*CV"]
    assert cv["moved"] or cv["finetuned"] == pytest.approx(cv["start"], rel=1e-9)


def test_benchmark_options_reach_the_estimators(tmp_path):
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "hpo.json"
    r = subprocess.run([sys.executable, str(root / "benchmarks" / "hpo.py"), "--datasets", "wine",
                        "--seeds", "1", "--groups", "2", "--max-move", "none", "--confidence", "off",
                        "--json", str(out)], capture_output=True, text=True, timeout=300, cwd=root)
    assert r.returncode == 0, r.stderr[-2000:]
    import json

    got = json.loads(out.read_text())
    assert got["settings"]["groups"] == 2 and got["settings"]["max_move"] is None
    assert got["settings"]["confidence"] is None
    assert all(len(got["results"]["wine"][0][k]["lam_finetuned"]) == 2 for k in ("grid", "*CV"))
