"""Hyperparameter fine-tuning (nas_frontend.hpo): descent on the validation loss, the
hypergradient behind the auxiliary program, the scikit-learn API, the MLP case, bad input."""

import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from bilevel_mp.algorithms.descent import solve_direction
from nas_frontend.hpo import (BilevelLogisticRegression, BilevelRidge, hypergradient,
                              krylov_basis)

try:
    import torch
except ImportError:  # the MLP estimators are checked only where torch is installed
    torch = None
else:
    from nas_frontend.hpo import BilevelMLPClassifier, BilevelMLPRegressor

ROOT = Path(__file__).resolve().parents[1]


def noisy_regression(seed, n=200, p=10, informative=3):
    """y depends on the first ``informative`` features only; the rest are noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X[:, :informative] @ np.linspace(2.0, 1.0, informative) + rng.normal(size=n)
    return X, y


def classification(seed, n=150, p=5, classes=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    W = rng.normal(size=(p, classes))
    y = np.argmax(X @ W + 0.8 * rng.gumbel(size=(n, classes)), axis=1)
    return X, y


def accepted_decreases(history):
    return all(b["val_loss"] < a["val_loss"] for a, b in zip(history, history[1:]) if b["accepted"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ridge_descends_and_penalises_noise_features(seed):
    X, y = noisy_regression(seed)
    est = BilevelRidge(cv=5, groups="feature", guard=False, max_move=None, random_state=seed).fit(X, y)
    h = est.history_
    assert est.n_iter_ >= 1 and h[-1]["val_loss"] < h[0]["val_loss"]
    assert accepted_decreases(h)
    assert all(r["stationarity"] < 1e-6 for r in h)  # w kept optimal for the training loss
    assert est.problem_.val_loss(est.w_) == pytest.approx(h[-1]["val_loss"], rel=1e-12)
    log_lam = np.log10(est.lambda_)
    assert log_lam[3:].mean() > log_lam[:3].mean() + 1.0, log_lam


@pytest.mark.parametrize("options", [dict(), dict(hessian="sr1"), dict(basis="response"),
                                     dict(norm="2"), dict(line_search="golden")])
def test_ridge_single_split_options_descend(options):
    X, y = noisy_regression(3, n=150)
    est = BilevelRidge(lam0=0.01, groups="feature", guard=False, random_state=0, max_iter=10,
                       **options).fit(X, y)
    h = est.history_
    assert h[-1]["val_loss"] < h[0]["val_loss"], est.stop_reason_
    assert accepted_decreases(h)
    assert est.n_fits_ == h[-1]["fits"]


def _finite_difference(problem, theta, h=1e-4):
    def F(th):
        return problem.val_loss(problem.fit_lower(th, tol=1e-12))
    return np.array([(F(theta + h * e) - F(theta - h * e)) / (2 * h) for e in np.eye(theta.size)])


@pytest.mark.parametrize("make,options", [
    (lambda: BilevelRidge(max_iter=0, lam0=0.05, groups="feature", max_move=None, random_state=0), {}),
    (lambda: BilevelRidge(max_iter=0, lam0=0.05, cv=3, basis="response", groups="feature",
                          max_move=None, random_state=0), {}),
    (lambda: BilevelLogisticRegression(max_iter=0, lam0=0.02, groups="feature", max_move=None,
                                       random_state=0), {"classes": 2}),
    (lambda: BilevelLogisticRegression(max_iter=0, lam0=0.02, basis="response",
                                       groups="feature", max_move=None, random_state=0),
     {"classes": 3}),
])
def test_hypergradient_matches_finite_differences(make, options):
    """d(validation loss)/dθ from the program's data (grad_x − H_wθᵀ H_ww⁻¹ ∇_w F) equals
    central differences of the validation loss with w re-solved exactly; the LP's
    predicted change of a small step is that gradient times the step."""
    if options:
        X, y = classification(4, classes=options["classes"])
    else:
        X, y = noisy_regression(4, n=80, p=5)
    est = make().fit(X, y)
    problem = est.problem_
    rng = np.random.default_rng(0)
    theta = np.log(rng.uniform(1e-3, 1e-1, size=problem.n))
    w = problem.fit_lower(theta, tol=1e-12)
    prog = problem.program(theta, w)
    hg = hypergradient(prog)
    fd = _finite_difference(problem, theta)
    assert np.allclose(hg, fd, rtol=1e-4, atol=1e-7 * np.abs(fd).max()), (hg, fd)
    lam = np.exp(theta)
    assert np.allclose(hg / lam, fd / lam, rtol=1e-4, atol=1e-7 * np.abs(fd / lam).max())  # d/dλ
    d = solve_direction(prog, radius=1e-2, delta=1e-10)
    assert d.status == "optimal" and d.predicted < 0
    assert d.predicted == pytest.approx(hg @ d.dx, rel=1e-3)


def test_logistic_binary_and_multinomial():
    for classes in (2, 3):
        X, y = classification(5, classes=classes)
        labels = np.array(["a", "b", "c"])[y]
        est = BilevelLogisticRegression(max_iter=8, groups="feature", guard=False,
                                        random_state=0).fit(X, labels)
        h = est.history_
        assert h[-1]["val_loss"] < h[0]["val_loss"] and accepted_decreases(h)
        P = est.predict_proba(X)
        assert P.shape == (len(X), classes) and np.allclose(P.sum(axis=1), 1.0)
        assert set(est.predict(X)) <= set(labels)
        assert est.coef_.shape == ((1 if classes == 2 else classes), X.shape[1])
        assert est.score(X, labels) > 0.6


def test_given_validation_data_is_used():
    X, y = noisy_regression(6, n=160)
    est = BilevelRidge(max_iter=5, guard=False).fit(X[:100], y[:100], X_val=X[100:], y_val=y[100:])
    resid = est.predict(X[100:]) - y[100:]
    # the model returned is the fine-tuned w (no refit), so its validation MSE is history's
    assert np.mean(resid ** 2) == pytest.approx(est.history_[-1]["val_loss"], rel=1e-9)


def test_krylov_basis_is_orthonormal_and_invariant():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(12, 12))
    H = A @ A.T
    V = krylov_basis(lambda v: H @ v, rng.normal(size=(12, 2)), depth=2)
    assert V.shape == (12, 6) and np.allclose(V.T @ V, np.eye(6), atol=1e-10)
    full = krylov_basis(lambda v: H @ v, rng.normal(size=(12, 2)), depth=10)
    assert full.shape[1] == 12  # the whole space, dependent directions dropped


# -- scikit-learn API ------------------------------------------------------------------------

def _small_estimators():
    """Every estimator, sized so that the whole scikit-learn suite takes seconds."""
    ests = [BilevelRidge(max_iter=3), BilevelLogisticRegression(max_iter=3)]
    if torch is not None:
        small = dict(hidden_layer_sizes=(3,), max_iter=1, fit_steps=10, refit_steps=2,
                     krylov_depth=0)
        ests += [BilevelMLPRegressor(**small), BilevelMLPClassifier(**small)]
    return ests


# the full suite, legacy checks included; every check passes, so none is declared as an
# expected failure (n_iter_ counts the iterations run, the last one included, so it is >= 1
# whenever max_iter >= 1: check_non_transformer_estimators_n_iter)
@parametrize_with_checks(_small_estimators())
def test_sklearn_estimator_checks(estimator, check):
    if torch is not None:
        torch.set_num_threads(1)
    check(estimator)


def test_clone_get_set_params():
    est = BilevelRidge(lam0=0.1, groups=[0, 0, 1, 1, 1], max_iter=4, random_state=3)
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "coef_")
    c.set_params(max_iter=2, hessian="sr1")
    assert c.get_params()["max_iter"] == 2 and est.max_iter == 4
    X, y = noisy_regression(7, n=90, p=5)
    c.fit(X, y)
    assert c.lambda_.shape == (2,) and list(c.groups_) == [0, 1] and c.n_iter_ <= 2
    assert c.predict(X).shape == (90,)


# -- the MLP case ----------------------------------------------------------------------------

@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_mlp_regressor_and_classifier_lower_validation_loss():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = X[:, 0] - 2 * X[:, 1] + 0.5 * np.sin(3 * X[:, 2]) + 0.3 * rng.normal(size=120)
    reg = BilevelMLPRegressor(hidden_layer_sizes=(8,), lam0=1e-4, max_iter=3, fit_steps=80,
                              confidence=None, random_state=0).fit(X, y)
    h = reg.history_
    assert h[-1]["val_loss"] < h[0]["val_loss"] and accepted_decreases(h)
    assert reg.problem_.val_loss(reg.w_) == pytest.approx(h[-1]["val_loss"], rel=1e-9)
    assert reg.lambda_.shape == (2,) and reg.predict(X).shape == (120,)
    assert np.array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))
    assert clone(reg).get_params() == reg.get_params()
    Xc, yc = classification(8, n=120, p=4, classes=3)
    clf = BilevelMLPClassifier(hidden_layer_sizes=(8,), lam0=1e-4, max_iter=2, fit_steps=80,
                               confidence=None, random_state=0).fit(Xc, yc)
    assert clf.history_[-1]["val_loss"] < clf.history_[0]["val_loss"]
    assert clf.problem_.val_loss(clf.w_) == pytest.approx(clf.history_[-1]["val_loss"], rel=1e-9)
    assert np.allclose(clf.predict_proba(Xc).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match=r"'hessian' parameter of BilevelMLPRegressor must be "
                                         r"a str among \{'exact'\}. Got 'sr1' instead"):
        BilevelMLPRegressor(hessian="sr1").fit(X, y)
    with pytest.raises(ValueError, match="'lam0' parameter of BilevelMLPRegressor must be a float"):
        BilevelMLPRegressor(lam0=None).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be a positive integer"):
        BilevelMLPRegressor(hidden_layer_sizes=(4, 0)).fit(X, y)
    with pytest.raises(ValueError, match="'activation' parameter"):
        BilevelMLPRegressor(activation="gelu").fit(X, y)
    with pytest.raises(ValueError, match="needs guard=True"):
        BilevelMLPRegressor(guard=False, n_iter_no_change=2).fit(X, y)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_mlp_safeguards_hold_out_rows_and_decline_without_evidence():
    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(160, 4))
    y = X[:, 0] - 2 * X[:, 1] + 0.3 * rng.normal(size=160)
    kw = dict(hidden_layer_sizes=(6,), lam0=0.3, max_iter=4, fit_steps=80, random_state=0)
    free = BilevelMLPRegressor(confidence=None, **kw).fit(X, y)  # far too much weight decay
    assert free.moved_ and np.all(free.lambda_ < 0.3)
    acc = [r for r in free.history_ if r["accepted"]]
    assert all(b["guard_loss"] <= a["guard_loss"] for a, b in zip(acc, acc[1:]))
    assert len(free.problem_.Xv) == 40 - 16  # 40 validation rows, 16 held out (0.4)
    start = BilevelMLPRegressor(**{**kw, "max_iter": 0}).fit(X, y)
    strict = BilevelMLPRegressor(confidence=1e9, **kw).fit(X, y)
    assert not strict.moved_ and strict.lambda_ == pytest.approx(strict.start_lambda_)
    assert strict.stop_reason_.startswith("declined: the held-out loss fell by ")
    assert np.allclose(strict.predict(X), start.predict(X), atol=1e-10)
    last = strict.history_[-1]  # the declined row: back at the start's losses
    assert last["declined"] and last["val_loss"] == pytest.approx(strict.problem_.val_loss(strict.w_))
    capped = BilevelMLPRegressor(max_fits=2, confidence=None, **{**kw, "max_iter": 10}).fit(X, y)
    assert capped.stop_reason_ == "fit budget spent"
    assert capped.n_fits_ == 1 + 2  # the initial fit, then exactly the budget (no overshoot)
    boxed = BilevelMLPRegressor(max_move=0.25, confidence=None, **kw).fit(X, y)
    assert boxed.moved_ and np.all(np.abs(np.log10(boxed.lambda_ / 0.3)) <= 0.25 + 1e-9)


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("est,fit_kw,match", [
    (BilevelRidge(lam0=-1.0), {}, r"'lam0' parameter of BilevelRidge must be None, a float in "
                                  r"the range \(0.0, inf\) or an array-like. Got -1.0 instead"),
    (BilevelRidge(lam0=[0.1, -0.2, 0.1, 0.1], groups="feature"), {}, "lam0 must be > 0"),
    (BilevelRidge(lam0=[0.1, 0.2], groups="feature"), {}, "lam0 has 2 values"),
    (BilevelRidge(groups="layer"), {}, "'groups' parameter of BilevelRidge must be None, a str among"),
    (BilevelRidge(n_iter_no_change=2, guard=False), {}, "needs guard=True"),
    (BilevelRidge(start="tpe"), {}, "'start' parameter of BilevelRidge must be a str among"),
    (BilevelRidge(guard_fraction=1.0), {}, "'guard_fraction' parameter"),
    (BilevelRidge(lam0=1e3), {}, r"lam0 must lie within lam_bounds"),
    (BilevelRidge(hessian="bfgs"), {}, r"'hessian' parameter of BilevelRidge must be a str among "
                                       r"\{.*'sr1'.*\}. Got 'bfgs' instead"),
    (BilevelRidge(basis="lanczos"), {}, "'basis' parameter of BilevelRidge must be a str among"),
    (BilevelRidge(norm="1"), {}, "'norm' parameter of BilevelRidge must be a str among"),
    (BilevelRidge(max_iter=-1), {}, r"'max_iter' parameter of BilevelRidge must be an int in "
                                    r"the range \[0, inf\)"),
    (BilevelRidge(max_iter=2.5), {}, "'max_iter' parameter"),
    (BilevelRidge(radius=0.0), {}, r"'radius' parameter of BilevelRidge must be a float in "
                                   r"the range \(0.0, inf\)"),
    (BilevelRidge(validation_fraction=1.0), {}, "'validation_fraction' parameter"),
    (BilevelRidge(cv=1), {}, "'cv' parameter"),
    (BilevelRidge(groups=[0, 1]), {}, "groups has 2 labels"),
    (BilevelRidge(lam_bounds=(1.0, 0.1)), {}, r"lam_bounds must satisfy 0 < low < high"),
    (BilevelRidge(lam_bounds=(1.0, 2.0, 3.0)), {}, r"lam_bounds must be a pair"),
    (BilevelRidge(lam_bounds=0.1), {}, "'lam_bounds' parameter of BilevelRidge must be an array-like"),
    (BilevelRidge(), {"X_val": np.zeros((5, 3)), "y_val": np.zeros(5)}, "X_val has 3 features"),
    (BilevelRidge(), {"X_val": np.zeros((5, 4)), "y_val": np.zeros(6)}, r"y_val has shape \(6,\)"),
    (BilevelRidge(cv=3), {"X_val": np.zeros((5, 4)), "y_val": np.zeros(5)}, "not both"),
    (BilevelLogisticRegression(), {"X_val": np.zeros((2, 4)), "y_val": np.array([0, 7])},
     r"y_val has classes \[7\]"),
])
def test_bad_input_raises_clear_errors(est, fit_kw, match):
    X, y = noisy_regression(9, n=40, p=4)
    if isinstance(est, BilevelLogisticRegression):
        y = (y > 0).astype(int)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y, **fit_kw)


def test_linear_estimators_do_not_import_torch():
    code = ("import sys, numpy as np\n"
            "import nas_frontend.hpo as hpo\n"
            "from nas_frontend.hpo import BilevelRidge, BilevelLogisticRegression\n"
            "import bilevel_mp.algorithms.krylov as kr\n"
            "assert hpo.hypergradient is kr.hypergradient and hpo.krylov_basis is kr.krylov_basis\n"
            "X = np.random.default_rng(0).normal(size=(60, 3)); y = X[:, 0]\n"
            "BilevelRidge(max_iter=2).fit(X, y); BilevelLogisticRegression(max_iter=2).fit(X, y > 0)\n"
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "False"


def test_example_runs():
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "hpo_ridge.py")], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "accepted steps lowered it every time: True" in r.stdout
    assert "every noise feature penalised more than the median real one: True" in r.stdout
    # the ranking puts pure noise in the weak group (7 of 15 places: 2.3 of 5 by chance)
    assert int(re.search(r"noise features in the weak group: (\d) of 5", r.stdout)[1]) >= 4
