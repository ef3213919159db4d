"""Linear models whose L2 penalties (one, one per group, or one per feature) are fine-tuned
jointly with the weights from the start a search chose (by default RidgeCV's /
LogisticRegressionCV's on the same folds), guarded by held-out folds: ``BilevelRidge`` and
``BilevelLogisticRegression`` (binary and multinomial), numpy/scipy only. Their bilevel data and
auxiliary program: ``linear_problem.LinearHPOProblem``."""

from __future__ import annotations

import math
import time
from numbers import Integral, Real

import numpy as np
from scipy.special import expit, logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .linear_problem import LinearHPOProblem, LogLoss, SquaredLoss
from .base import (GUARD_CONSTRAINTS, SHARED_CONSTRAINTS, ClassTarget, RegressionTarget, box_around,
                   check_lam_bounds, check_predict_X, check_safeguards, hold_out_rows, initial_lambda,
                   settle_tuning, splits, tune)

__all__ = ["BilevelRidge", "BilevelLogisticRegression", "LinearHPOProblem"]


_LINEAR_DOC_PARAMS = """
    Fine-tuning is meant as a step *after* a search (Sinha & Gunwal 2025): by default it
    starts from the single λ that scikit-learn's ``RidgeCV`` / ``LogisticRegressionCV``
    picks on the same folds, or from a given ``lam0`` (the best configuration of a grid,
    random or Optuna search), and moves one λ per group (one group by default: the start's
    λ fine-tuned together with the weights; ``groups=2``: the features with the larger and
    the smaller coefficients at the start apart) within half a decade of the start
    (``max_move``), only while data the steps did not see agree (``guard``). ``moved_``
    says whether it moved, ``stop_reason_`` why it stopped.

    Parameters
    ----------
    lam0 : None, float or array, default None
        Starting penalties (one per group, or one for all), in the estimator's per-sample
        units (sklearn's Ridge alpha / n_train, or 1 / (C n_train)). None: ``start``.
    start : "cv" or "path", default "cv"
        Start when ``lam0`` is None. "cv": the λ chosen by scikit-learn's ``RidgeCV`` /
        ``LogisticRegressionCV`` (MSE / log-loss scoring) over ``n_init`` values spread
        log-uniformly over ``lam_bounds``, on the same train/validation folds
        (``n_init`` fits per fold). "path": the best of those values on a warm-started path
        of this estimator's own solver (the same choice up to solver tolerance).
    groups : None, int k, "feature" or array of length n_features, default None
        One penalty per group. None: a single group (one λ for every feature); an int k:
        k groups of (nearly) equal size by the size of the features' coefficients (times
        their standard deviations) at the start, each fold ranking them on its own training
        rows and the final model on all of X (group 0 the largest; an adaptive ridge: the
        weak features' penalty moves apart from the strong ones'; ``lam0`` one value);
        "feature": one λ per feature; an array: the group label of every feature.
    cv : None, int, a CV splitter or an iterable of (train, val) index arrays
        None: one train/validation pair (``X_val, y_val`` given to fit, or an internal
        split by ``validation_fraction``); the fine-tuned w is the model. Otherwise K
        folds of X, y (an int: shuffled, stratified for classifiers), one weight vector
        per fold, the upper objective is the mean validation loss over the folds (less
        noisy than one split); the model is then refitted on all of X, y at the tuned
        penalties, keeping sklearn's alpha = n_train·λ (λ·n_train/n on the n rows of X).
    guard : bool, default True
        Hold out part of the validation data from the steps: with K >= 2 folds, the last
        ``guard_fraction``·K folds (at least one, at least one left); with one pair, that
        fraction of its validation rows. Steps are computed on the rest, and a step is
        accepted only if it does not raise the held-out loss above its current value
        times (1 + ``guard_tol``); after ``patience`` rejections in a row it stops. The
        start is chosen on all the folds.
    guard_fraction, guard_tol, patience
        See ``guard``.
    confidence : None or float, default 1.0
        The last safeguard (needs ``guard``): the fine-tuned penalties are kept only if the
        held-out rows' loss fell from the start by more than ``confidence`` standard
        errors of the mean fall (paired over the held-out rows); otherwise fine-tuning
        declines and returns the start (``moved_`` False, ``stop_reason_`` says why; the
        last ``history_`` row has ``declined``). The rows are those that guarded every step,
        so the bar is on a fall already selected on them (optimistic). 0: any fall; None:
        off (every guarded step is kept).
    n_iter_no_change : None or int
        Early stopping (needs ``guard``): stop after that many accepted steps without a
        new best held-out loss, and return the best one.
    max_move : None or float, default 0.5
        A box of ± ``max_move`` decades around the start on every log10 λ (within
        ``lam_bounds``): fine-tuning stays near the start (None: the whole ``lam_bounds``).
    max_fits : None or int
        Stop fine-tuning once it has done this many fits (the start's not counted; with
        ``groups=k`` the rankings' fits, one per fold and one on all the rows, are: a
        smaller budget allows no step).
    hessian : "exact" or "sr1"
        H_ww in the program: exact, or an SR1 quasi-Newton approximation of the data
        loss's Hessian built from the gradient differences of the Newton steps.
    basis : "auto", "full" or "response"
        dw in the full weight space, or in the span of the exact response directions
        −H⁻¹H_wθ, −H⁻¹r0 with a Galerkin test (a small program; "auto" picks it above 300
        weights in all).
    max_iter, radius, delta, norm, line_search, tol
        Iterations; initial trust-region radius in log-λ units; stationarity band δ;
        "inf" (LP) or "2" (QP) trust region; step rule; stop when the predicted
        decrease is below tol·max(1, F).
    refit_steps : int
        Newton steps from w + t·dw at each line-search trial (each trial counts as one fit
        per fold).
    lam_bounds : (low, high)
        Box on every λ, kept through the program's dx bounds.
    n_init : int
        Number of λ values of the start's search (``start``).
    validation_fraction, random_state
        Internal split (or fold shuffling) when ``fit`` gets no X_val, y_val.

    Attributes
    ----------
    coef_, intercept_, lambda_ (one per group), groups_ (group labels), feature_group_
    (every feature's index into groups_ and lambda_), start_lambda_
    (the start, one per group), moved_ (whether fine-tuning moved λ from the start),
    stop_reason_ (why it stopped), history_ (per iteration: val_loss on the steps' folds,
    guard_loss on the held-out ones, stationarity, step, radius, predicted, accepted,
    fits, seconds; a guard rejection has accepted False and rejected_guard_loss), n_iter_
    (iterations run: auxiliary programs solved, the last one included when it predicts no
    decrease, so >= 1 when max_iter >= 1), n_fits_ (training-problem solves, the start's
    and the final refit included), problem_ (the ``LinearHPOProblem`` of the steps' folds),
    guard_problem_ (the held-out folds', or None), theta_ and w_ (log λ and the stacked
    fold weights of ``problem_`` at the end of the search).
"""


class _FoldGuard:
    """The held-out folds' loss at θ, for ``tune``'s guard: their own weights, re-fitted
    (warm-started) at every trial θ."""

    def __init__(self, problem, theta, w0=None):
        self.problem = problem
        self.state = self.start = problem.fit_lower(theta, w0)
        self.value = problem.val_loss(self.state)

    def losses(self, state):
        """Every held-out row's loss at the folds' weights ``state``."""
        return self.problem.sample_losses(state)

    @property
    def n_fits(self):
        return self.problem.n_fits

    def trial(self, theta, w_search=None):
        w = self.problem.fit_lower(theta, self.state)
        return self.problem.val_loss(w), w

    def commit(self, state):
        self.state = state
        self.value = self.problem.val_loss(state)


def rank_groups(size, k):
    """Group labels 0..k'-1 (k' = min(k, len(size))) of features ranked by ``size``
    (largest first) in k' parts of equal count: group 0 holds the largest."""
    size = np.asarray(size, dtype=float)
    k = max(1, min(int(k), size.size))
    ranks = np.argsort(np.argsort(-size, kind="stable"), kind="stable")
    return (ranks * k) // size.size


def _sklearn_cv_start(is_classifier, pairs, grid, n_train):
    """Index of the grid value RidgeCV / LogisticRegressionCV pick on these pairs (MSE /
    log-loss scoring); the pairs are stacked so that each is one (train, val) fold."""
    import inspect
    import warnings

    from sklearn.linear_model import LogisticRegressionCV, RidgeCV

    Xs, ys, folds, pos = [], [], [], 0
    for Xt, yt, Xv, yv in pairs:
        nt, nv = len(Xt), len(Xv)
        Xs += [Xt, Xv]
        ys += [yt, yv]
        folds.append((np.arange(pos, pos + nt), np.arange(pos + nt, pos + nt + nv)))
        pos += nt + nv
    X, y = np.vstack(Xs), np.concatenate(ys)
    if is_classifier:
        kw = dict(Cs=1.0 / (n_train * grid), cv=folds, scoring="neg_log_loss", max_iter=1000,
                  tol=1e-6, refit=False)
        params = inspect.signature(LogisticRegressionCV).parameters
        if "l1_ratios" in params:
            kw["l1_ratios"] = (0.0,)
        if "use_legacy_attributes" in params:
            kw["use_legacy_attributes"] = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = LogisticRegressionCV(**kw).fit(X, y)
        C = float(np.ravel(est.C_)[0])
        return int(np.argmin(np.abs(np.log(1.0 / (n_train * grid)) - math.log(C))))
    est = RidgeCV(alphas=n_train * grid, cv=folds, scoring="neg_mean_squared_error").fit(X, y)
    return int(np.argmin(np.abs(np.log(n_train * grid) - math.log(est.alpha_))))


class _BilevelLinear(BaseEstimator):
    _parameter_constraints: dict = {
        **SHARED_CONSTRAINTS,
        "lam0": [None, Interval(Real, 0, None, closed="neither"), "array-like"],
        "start": [StrOptions({"cv", "path"})],
        "groups": [None, StrOptions({"feature"}), Interval(Integral, 1, None, closed="left"), "array-like"],
        "cv": ["cv_object"],
        **GUARD_CONSTRAINTS,
        "hessian": [StrOptions({"exact", "sr1"})],
        "basis": [StrOptions({"auto", "full", "response"})],
        "refit_steps": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, lam0=None, start="cv", groups=None, cv=None, guard=True,
                 guard_fraction=0.4, guard_tol=0.0, patience=2, confidence=1.0, n_iter_no_change=None,
                 max_move=0.5, max_fits=None, hessian="exact", basis="auto", max_iter=30,
                 radius=1.0, delta=1e-6, norm="inf", line_search="backtracking", tol=1e-5,
                 refit_steps=5, lam_bounds=(1e-5, 1e2), n_init=15, validation_fraction=0.25,
                 random_state=None):
        self.lam0 = lam0
        self.start = start
        self.groups = groups
        self.cv = cv
        self.guard = guard
        self.guard_fraction = guard_fraction
        self.guard_tol = guard_tol
        self.patience = patience
        self.confidence = confidence
        self.n_iter_no_change = n_iter_no_change
        self.max_move = max_move
        self.max_fits = max_fits
        self.hessian = hessian
        self.basis = basis
        self.max_iter = max_iter
        self.radius = radius
        self.delta = delta
        self.norm = norm
        self.line_search = line_search
        self.tol = tol
        self.refit_steps = refit_steps
        self.lam_bounds = lam_bounds
        self.n_init = n_init
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _split_guard(self, pairs):
        """(search pairs, guard pairs or None)."""
        if not self.guard:
            return pairs, None
        if len(pairs) >= 2:
            n_g = min(len(pairs) - 1, max(1, round(self.guard_fraction * len(pairs))))
            return pairs[:-n_g], pairs[-n_g:]
        search, held = hold_out_rows(pairs[0], self.guard_fraction, self.random_state)
        return [search], None if held is None else [held]

    def fit(self, X, y, X_val=None, y_val=None):
        """Start at the search's λ (``lam0``, or ``start``), fit w there, then fine-tune
        (λ, w) jointly on the validation loss (X_val, y_val; ``cv`` folds; or an internal
        split), guarded by held-out folds (``guard``)."""
        t_start = time.perf_counter()
        self._validate_params()
        lo, hi = check_lam_bounds(self.lam_bounds)
        check_safeguards(self)
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=not self._is_classifier)
        p = X.shape[1]
        y = self._encode_y(y)
        pairs = splits(X, y, X_val, y_val, self.validation_fraction, self.cv,
                       self.random_state, self._is_classifier, self._encode_val)
        if isinstance(self.groups, (bool, np.bool_)):  # an Integral to the validation
            raise ValueError(f"groups must be None, an int k >= 1, 'feature' or one label per "
                             f"feature; got {self.groups!r}")
        ranked = isinstance(self.groups, Integral)
        if self.groups is None or ranked:  # ranked groups: one λ until the start is fitted
            labels, gidx = np.zeros(1, dtype=int), np.zeros(p, dtype=int)
        elif isinstance(self.groups, str):  # "feature" (validated)
            labels, gidx = np.arange(p), np.arange(p)
        else:
            g = np.asarray(self.groups).ravel()
            if g.size != p:
                raise ValueError(f"groups has {g.size} labels, expected one per feature ({p})")
            labels, gidx = np.unique(g, return_inverse=True)
        n = labels.size
        if ranked and self.lam0 is not None and np.size(self.lam0) != 1:
            raise ValueError(f"groups={self.groups} ranks the features at one start λ: give lam0 "
                             f"as one value, got {np.size(self.lam0)}")
        theta = initial_lambda(self.lam0, n, lo, hi)
        K, eps_int = self._outputs()
        eps = np.zeros((p + 1) * K)
        eps[p * K:] = eps_int
        log_box = (math.log(lo), math.log(hi))

        def design(gidx, n):
            Gf = np.zeros((p + 1, n))
            Gf[np.arange(p), gidx] = 1.0
            return np.repeat(Gf, K, axis=0)  # weight (feature j, output k) at row j*K + k

        def make(prs, gidx=gidx, n=n):
            """The problem of these pairs; ``gidx``: one feature→group map for all, or a
            list of one per pair (parallel to ``prs``)."""
            G = [design(g, n) for g in gidx] if isinstance(gidx, list) else design(gidx, n)
            folds = [(self._loss(Xt, yt, False), self._loss(Xv, yv, True)) for Xt, yt, Xv, yv in prs]
            return LinearHPOProblem(folds, G, eps, log_box, hessian=self.hessian,
                                    basis=self.basis, refit_steps=self.refit_steps)

        def ranked_groups(trains, theta):
            """The feature→group map of every training set (Xt, yt) from its own rows: the
            size of each feature's coefficients (times its spread: scale-free) at the
            start's one λ; returns (maps, fits)."""
            one = LinearHPOProblem([(self._loss(Xt, yt, False), None) for Xt, yt in trains],
                                   design(np.zeros(p, dtype=int), 1), eps, log_box)
            w = one.fit_lower(theta[:1])
            W = one.blocks(w).reshape(len(trains), p + 1, K)[:, :p]
            maps = [rank_groups(np.sqrt((Wk ** 2).sum(axis=1)) * Xt.std(axis=0), self.groups)
                    for Wk, (Xt, _) in zip(W, trains)]
            return maps, one.n_fits

        n_train = float(np.mean([len(pr[1]) for pr in pairs]))
        start_fits = 0
        if theta is None:
            grid = np.geomspace(lo, hi, self.n_init)
            if self.start == "cv":
                i = _sklearn_cv_start(self._is_classifier, pairs, grid, n_train)
                start_fits = self.n_init * len(pairs)
            else:  # the best single λ on a warm-started path of this solver
                full, best, w = make(pairs), None, None
                for j, lam in enumerate(grid[::-1]):
                    w = full.fit_lower(np.full(n, math.log(lam)), w)
                    F = full.val_loss(w)
                    if best is None or F < best[0]:
                        best = (F, self.n_init - 1 - j)
                i = best[1]
                start_fits = full.n_fits
            theta = np.full(n, math.log(grid[i]))
        search_pairs, guard_pairs = self._split_guard(pairs)
        search_map = guard_map = gidx  # feature→group: one for all folds, or one per fold
        rank_fits = 0
        if ranked:  # k groups by coefficient size, each fold's from its own training rows
            search_map, rank_fits = ranked_groups([pr[:2] for pr in search_pairs], theta)
            if guard_pairs is not None:
                guard_map, f1 = ranked_groups([pr[:2] for pr in guard_pairs], theta)
                rank_fits += f1
            start_fits += rank_fits
            rank_fits += self.cv is not None  # the final model's ranking on all the rows
            gidx = search_map[0]  # the model's groups without a refit (one pair)
            n = int(gidx.max()) + 1
            labels, theta = np.arange(n), np.full(n, theta[0])
        self.groups_, self.start_lambda_ = labels, np.exp(theta)
        problem = make(search_pairs, search_map, n)
        box_around(problem, theta, lo, hi, self.max_move)
        w = problem.fit_lower(theta)
        guard = None
        if guard_pairs is not None:
            guard = _FoldGuard(make(guard_pairs, guard_map, n), theta)
        theta0, w0 = theta, w
        res = tune(problem, theta, w, max_iter=self.max_iter, radius=self.radius, delta=self.delta,
                   norm=self.norm, method=self.line_search, tol=self.tol,
                   seconds_setup=time.perf_counter() - t_start, guard=guard,
                   guard_tol=self.guard_tol, patience=self.patience,
                   n_iter_no_change=self.n_iter_no_change,
                   max_fits=None if self.max_fits is None else max(0, self.max_fits - rank_fits))
        n_fits = start_fits + problem.n_fits + (guard.n_fits if guard is not None else 0)
        # evidence from data the steps did not see, or the start
        res, self.moved_ = settle_tuning(res, theta0, w0, guard, self.guard, self.confidence)
        if self.cv is None:
            final = res.w
        else:  # refit on all the data at the tuned λ (alpha = n_train·λ kept), from the
            # mean of the fold models
            shift = math.log(n_train / X.shape[0])
            if ranked:  # the refitted model's groups: ranked on all the rows, at the start's λ
                (gidx,), f2 = ranked_groups([(X, y)], theta0 + shift)
                n_fits += f2
            whole = LinearHPOProblem([(self._loss(X, y, False), None)], design(gidx, n), eps, log_box)
            final = whole.fit_lower(res.theta + shift, problem.blocks(res.w).mean(axis=0))
            n_fits += whole.n_fits
        self.feature_group_ = gidx
        self.theta_, self.w_, self.lambda_ = res.theta, res.w, np.exp(res.theta)
        self._set_coef(final.reshape(p + 1, K))
        self.history_, self.stop_reason_, self.problem_ = res.history, res.reason, problem
        self.guard_problem_ = None if guard is None else guard.problem
        self.n_iter_, self.n_fits_ = res.n_iter, n_fits
        return self

    def _check_X(self, X):
        return check_predict_X(self, X, "coef_")


class BilevelRidge(RegressorMixin, RegressionTarget, _BilevelLinear):
    __doc__ = ("""Linear regression with L2 penalties (one, per group or per feature) fine-tuned
    jointly with the weights on a validation MSE; the intercept is not penalised.
    Training objective: ½·mean((Xw + b − y)²)/σ_y² + ½ Σ_g λ_g ‖w_g‖² (y standardised
    internally, so λ = sklearn Ridge's alpha / n_train); val_loss in ``history_`` is
    the validation MSE in y's units.
""" + _LINEAR_DOC_PARAMS)

    def _outputs(self):
        return 1, 0.0

    def _loss(self, X, y, val):
        return SquaredLoss(np.column_stack([X, np.ones(len(X))]), y, self._y_std ** 2 if val else 0.5)

    def _set_coef(self, W):
        self.coef_ = W[:-1, 0] * self._y_std
        self.intercept_ = float(W[-1, 0] * self._y_std + self._y_mean)

    def predict(self, X):
        """Predictions ``X @ coef_ + intercept_``."""
        return self._check_X(X) @ self.coef_ + self.intercept_


class BilevelLogisticRegression(ClassifierMixin, ClassTarget, _BilevelLinear):
    __doc__ = ("""Logistic regression (binary, or multinomial for 3+ classes) with
    L2 penalties (one, per group or per feature) fine-tuned jointly with the weights on the
    validation log-loss. Training objective: mean log-loss + ½ Σ_g λ_g Σ_{j∈g} ‖W_j‖²
    (W_j: feature j's weights over the classes; λ = 1/(C·n_train) in sklearn's terms);
    intercepts unpenalised (multinomial: a fixed 1e-8 to identify them).
""" + _LINEAR_DOC_PARAMS)

    def _outputs(self):
        return (1, 0.0) if self.classes_.size == 2 else (self.classes_.size, 1e-8)

    def _loss(self, X, y, val):
        return LogLoss(np.column_stack([X, np.ones(len(X))]), y, self._outputs()[0])

    def _set_coef(self, W):
        self.coef_ = W[:-1].T.copy()
        self.intercept_ = W[-1].copy()

    def decision_function(self, X):
        """Linear scores (n,) for binary, (n, n_classes) for multinomial."""
        Z = self._check_X(X) @ self.coef_.T + self.intercept_
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        Z = self.decision_function(X)
        if Z.ndim == 1:
            p = expit(Z)
            return np.column_stack([1 - p, p])
        return np.exp(Z - logsumexp(Z, axis=1, keepdims=True))

    def predict(self, X):
        """Most probable class."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
