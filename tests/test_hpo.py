"""Hyperparameter fine-tuning (nas_frontend.hpo): descent on the validation loss, the
hypergradient behind the auxiliary program, the scikit-learn API, the MLP case, bad input."""

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils import estimator_checks as ec

from bilevel_mp.algorithms.descent import solve_direction
from nas_frontend.hpo import (BilevelLogisticRegression, BilevelRidge, hypergradient,
                              krylov_basis)

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
    est = BilevelRidge(cv=5, random_state=seed).fit(X, y)
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
    est = BilevelRidge(lam0=0.01, random_state=0, max_iter=10, **options).fit(X, y)
    h = est.history_
    assert h[-1]["val_loss"] < h[0]["val_loss"], est.stop_reason_
    assert accepted_decreases(h)
    assert est.n_fits_ == h[-1]["fits"]


def _finite_difference(problem, theta, h=1e-4):
    def F(th):
        return problem.val_loss(problem.fit_lower(th, tol=1e-12))
    return np.array([(F(theta + h * e) - F(theta - h * e)) / (2 * h) for e in np.eye(theta.size)])


@pytest.mark.parametrize("make,options", [
    (lambda: BilevelRidge(max_iter=0, lam0=0.05, random_state=0), {}),
    (lambda: BilevelRidge(max_iter=0, lam0=0.05, cv=3, basis="response", random_state=0), {}),
    (lambda: BilevelLogisticRegression(max_iter=0, lam0=0.02, random_state=0), {"classes": 2}),
    (lambda: BilevelLogisticRegression(max_iter=0, lam0=0.02, basis="response", random_state=0),
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
        est = BilevelLogisticRegression(max_iter=8, random_state=0).fit(X, labels)
        h = est.history_
        assert h[-1]["val_loss"] < h[0]["val_loss"] and accepted_decreases(h)
        P = est.predict_proba(X)
        assert P.shape == (len(X), classes) and np.allclose(P.sum(axis=1), 1.0)
        assert set(est.predict(X)) <= set(labels)
        assert est.coef_.shape == ((1 if classes == 2 else classes), X.shape[1])
        assert est.score(X, labels) > 0.6


def test_given_validation_data_is_used():
    X, y = noisy_regression(6, n=160)
    est = BilevelRidge(max_iter=5).fit(X[:100], y[:100], X_val=X[100:], y_val=y[100:])
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

CHECKS = ["check_estimator_cloneable", "check_parameters_default_constructible",
          "check_no_attributes_set_in_init", "check_get_params_invariance", "check_set_params",
          "check_estimators_unfitted", "check_fit2d_predict1d", "check_fit2d_1feature",
          "check_n_features_in_after_fitting", "check_estimators_dtypes", "check_fit_score_takes_y",
          "check_estimators_fit_returns_self", "check_dont_overwrite_parameters",
          "check_estimators_overwrite_params", "check_fit_idempotent", "check_estimators_nan_inf",
          "check_estimators_empty_data_messages", "check_supervised_y_2d", "check_estimators_pickle",
          "check_methods_subset_invariance", "check_dict_unchanged"]


@pytest.mark.parametrize("Est,extra", [
    (BilevelRidge, ["check_regressors_train", "check_regressors_int"]),
    (BilevelLogisticRegression, ["check_classifiers_train", "check_classifiers_classes",
                                 "check_classifiers_one_label", "check_classifiers_regression_target"]),
])
def test_sklearn_estimator_checks(Est, extra):
    est = Est(max_iter=3)
    for name in CHECKS + extra:
        getattr(ec, name)(Est.__name__, est)


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

def test_mlp_regressor_and_classifier_lower_validation_loss():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from nas_frontend.hpo import BilevelMLPClassifier, BilevelMLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = X[:, 0] - 2 * X[:, 1] + 0.5 * np.sin(3 * X[:, 2]) + 0.3 * rng.normal(size=120)
    reg = BilevelMLPRegressor(hidden_layer_sizes=(8,), lam0=1e-4, max_iter=3, fit_steps=80,
                              random_state=0).fit(X, y)
    h = reg.history_
    assert h[-1]["val_loss"] < h[0]["val_loss"] and accepted_decreases(h)
    assert reg.lambda_.shape == (2,) and reg.predict(X).shape == (120,)
    assert np.array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))
    assert clone(reg).get_params() == reg.get_params()
    Xc, yc = classification(8, n=120, p=4, classes=3)
    clf = BilevelMLPClassifier(hidden_layer_sizes=(8,), lam0=1e-4, max_iter=2, fit_steps=80,
                               random_state=0).fit(Xc, yc)
    assert clf.history_[-1]["val_loss"] < clf.history_[0]["val_loss"]
    assert np.allclose(clf.predict_proba(Xc).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="hessian must be 'exact'"):
        BilevelMLPRegressor(hessian="sr1").fit(X, y)


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("est,fit_kw,match", [
    (BilevelRidge(lam0=-1.0), {}, "lam0 must be > 0"),
    (BilevelRidge(lam0=[0.1, 0.2]), {}, "lam0 has 2 values"),
    (BilevelRidge(hessian="bfgs"), {}, "hessian must be one of 'exact', 'sr1'"),
    (BilevelRidge(basis="lanczos"), {}, "basis must be one of"),
    (BilevelRidge(groups=[0, 1]), {}, "groups has 2 labels"),
    (BilevelRidge(lam_bounds=(1.0, 0.1)), {}, "lam_bounds"),
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
            "from nas_frontend.hpo import BilevelRidge, BilevelLogisticRegression\n"
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
