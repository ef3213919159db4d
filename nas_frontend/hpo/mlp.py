"""Small torch MLPs whose per-layer weight decays are fine-tuned jointly with the weights:
``BilevelMLPRegressor``, ``BilevelMLPClassifier``. Hessian-vector and mixed products of the
training loss by ``torch.func``, on a block-Krylov basis of H_ww (matrix-free program).

The one module of ``nas_frontend.hpo`` that imports torch; the package loads it on first
use of one of its names."""

from __future__ import annotations

import math
import time
from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from bilevel_mp.algorithms.descent import DescentProgram
from bilevel_mp.algorithms.krylov import krylov_basis
from bilevel_mp.errors import MissingExtraError

from .base import (GUARD_CONSTRAINTS, SHARED_CONSTRAINTS, ClassTarget, RegressionTarget, box_around,
                   check_lam_bounds, check_predict_X, check_safeguards, hold_out_rows, initial_lambda,
                   scale_columns, settle_tuning, splits, tune)

try:
    import torch
    from torch import nn
except ImportError:  # torch: optional
    raise MissingExtraError("BilevelMLPRegressor and BilevelMLPClassifier need torch (not "
                            "installed): pip install 'bilevel-mp[nas]'") from None

__all__ = ["BilevelMLPRegressor", "BilevelMLPClassifier", "MLPHPOProblem"]

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "softplus": nn.Softplus}


class MLPHPOProblem:
    """A small torch MLP's bilevel data: weights w (flat, float64), θ = log of one weight
    decay per Linear layer (biases unpenalised); matrix-free H_ww v, H_wθ u, H_wθᵀ v by
    torch.func; block-Krylov basis; L-BFGS for the (re)fits. Same interface as
    ``LinearHPOProblem``."""

    def __init__(self, n_in, n_out, hidden, activation, Xt, yt, Xv, yv, classify, val_factor,
                 theta_bounds, seed, krylov_depth, refit_steps, refresh_factor):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            layers, d = [], n_in
            for h in hidden:
                layers += [nn.Linear(d, int(h)), ACTIVATIONS[activation]()]
                d = int(h)
            layers.append(nn.Linear(d, n_out))
            self.model = nn.Sequential(*layers).double()
        params = dict(self.model.named_parameters())
        self.names = list(params)
        self.shapes = [p.shape for p in params.values()]
        self.sizes = [p.numel() for p in params.values()]
        linear_idx = {name: i for i, name in enumerate(n for n in self.names if n.endswith("weight"))}
        self.n, self.m = len(linear_idx), sum(self.sizes)
        G = np.zeros((self.m, self.n))
        pos = 0
        for name, size in zip(self.names, self.sizes):
            if name in linear_idx:
                G[pos:pos + size, linear_idx[name]] = 1.0
            pos += size
        self.G = torch.tensor(G)
        self.w_init = torch.cat([p.detach().reshape(-1) for p in params.values()]).numpy().copy()
        t = lambda a, dt=torch.float64: torch.as_tensor(np.asarray(a), dtype=dt)  # noqa: E731
        ydt = torch.long if classify else torch.float64
        self.Xt, self.yt, self.Xv, self.yv = t(Xt), t(yt, ydt), t(Xv), t(yv, ydt)
        self.classify, self.val_factor = classify, val_factor
        self.theta_lo, self.theta_hi = theta_bounds
        self.krylov_depth, self.refit_steps = krylov_depth, refit_steps
        self.refresh_factor = refresh_factor
        self.res_ref = None
        self.n_fits = 0

    # torch pieces (module-level functions and closures are rebuilt, so the estimator pickles)
    def _params(self, w):
        return {n: p.view(s) for n, p, s in zip(self.names, torch.split(w, self.sizes), self.shapes)}

    def forward(self, w, X):
        return torch.func.functional_call(self.model, self._params(w), (X,))

    def _data_loss(self, w, X, y, val=False):
        return self._row_losses(w, X, y, val).mean()

    def _row_losses(self, w, X, y, val):
        out = self.forward(w, X)
        if self.classify:
            return torch.nn.functional.cross_entropy(out, y, reduction="none")
        r = out[:, 0] - y
        return (self.val_factor if val else 0.5) * r * r

    def row_losses(self, w, X, y):
        """Validation loss of every row of (X, y) at w (numpy in, numpy out)."""
        ydt = torch.long if self.classify else torch.float64
        with torch.no_grad():
            return self._row_losses(self.tensor(w), self.tensor(X),
                                    torch.as_tensor(np.asarray(y), dtype=ydt), True).numpy()

    def _objective(self, w, theta):
        return self._data_loss(w, self.Xt, self.yt) + 0.5 * ((self.G @ torch.exp(theta)) * w * w).sum()

    def _grad_w(self, w, theta):
        return torch.func.grad(self._objective, argnums=0)(w, theta)

    def _val_grad(self, w):
        return torch.func.grad(lambda w_: self._data_loss(w_, self.Xv, self.yv, val=True))(w)

    @staticmethod
    def tensor(a):
        """float64 torch tensor of ``a``."""
        return torch.as_tensor(np.asarray(a, dtype=np.float64))

    # interface
    def val_loss(self, w):
        with torch.no_grad():
            return float(self._data_loss(self.tensor(w), self.Xv, self.yv, val=True))

    def stationarity(self, theta, w):
        return float(self._grad_w(self.tensor(w), self.tensor(theta)).abs().max())

    def fit_lower(self, theta, w0=None, steps=200):
        """Full-batch L-BFGS on the training objective at θ (one fit)."""
        self.n_fits += 1
        w = self.tensor(self.w_init if w0 is None else w0).clone().requires_grad_(True)
        th = self.tensor(theta)
        opt = torch.optim.LBFGS([w], lr=1.0, max_iter=int(steps), history_size=20,
                                tolerance_grad=1e-10, tolerance_change=1e-14,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = self._objective(w, th)
            loss.backward()
            return loss

        opt.step(closure)
        return w.detach().numpy().copy()

    def refit(self, theta, w0):
        """Keep w0 unless the stationarity residual grew past refresh_factor × the one
        after the initial fit; then a few L-BFGS steps from w0."""
        if self.stationarity(theta, w0) > self.refresh_factor * self.res_ref:
            return self.fit_lower(theta, w0, steps=self.refit_steps)
        return np.asarray(w0, dtype=float)

    def program(self, theta, w) -> DescentProgram:
        """Matrix-free program at (θ, w) on a block-Krylov basis of H_ww started from
        [H_wθ, r0, ∇F], with the Galerkin test W = V."""
        func = torch.func
        wt, tht = self.tensor(w), self.tensor(theta)
        gw = lambda w_, th_: self._grad_w(w_, th_)  # noqa: E731

        def hvp(v):
            return func.jvp(lambda w_: gw(w_, tht), (wt,), (self.tensor(v),))[1].numpy()

        def mvp_yx(u):
            return func.jvp(lambda th_: gw(wt, th_), (tht,), (self.tensor(u),))[1].numpy()

        _, vjp_fn = func.vjp(lambda th_: gw(wt, th_), tht)

        def mvp_xy(v):
            return vjp_fn(self.tensor(v))[0].numpy()

        with torch.no_grad():
            r0 = gw(wt, tht).numpy()
            gF = self._val_grad(wt).numpy()
        start = np.column_stack([mvp_yx(e) for e in np.eye(self.n)] + [r0, gF])
        V = scale_columns(krylov_basis(hvp, start, self.krylov_depth), 1.0)
        return DescentProgram(grad_x=np.zeros(self.n), grad_y=gF, hvp_yy=hvp, mvp_yx=mvp_yx,
                              mvp_xy=mvp_xy, r0=r0, dx_lb=self.theta_lo - theta,
                              dx_ub=self.theta_hi - theta, basis=V, test=V)


class _HeldOutRows:
    """``tune``'s guard for one train/validation split: held-out validation rows scored
    with the search's own weights (the training rows are the same), so a trial costs no
    fit."""

    n_fits = 0

    def __init__(self, problem, X, y, w):
        self.problem, self.X, self.y = problem, X, y
        self.start = w
        self.commit(w)

    def losses(self, w):
        return self.problem.row_losses(w, self.X, self.y)

    def trial(self, theta, w):
        return float(self.losses(w).mean()), w

    def commit(self, state):
        self.state = state
        self.value = float(self.losses(state).mean())


class _BilevelMLP(BaseEstimator):
    _parameter_constraints: dict = {
        **SHARED_CONSTRAINTS,
        **GUARD_CONSTRAINTS,
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "lam0": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "hessian": [StrOptions({"exact"})],  # matrix-free Hessian-vector products
        "krylov_depth": [Interval(Integral, 0, None, closed="left")],
        "fit_steps": [Interval(Integral, 1, None, closed="left")],
        "refit_steps": [Interval(Integral, 1, None, closed="left")],
        "refresh_factor": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, hidden_layer_sizes=(32,), activation="tanh", lam0=1e-3, hessian="exact",
                 max_iter=10, radius=0.5, delta=1e-6, norm="inf", line_search="backtracking",
                 tol=1e-6, krylov_depth=3, fit_steps=200, refit_steps=10, refresh_factor=2.0,
                 lam_bounds=(1e-6, 10.0), guard=True, guard_fraction=0.4, guard_tol=0.0,
                 patience=2, confidence=1.0, n_iter_no_change=None, max_move=None,
                 max_fits=None, validation_fraction=0.25, random_state=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.lam0 = lam0
        self.hessian = hessian
        self.max_iter = max_iter
        self.radius = radius
        self.delta = delta
        self.norm = norm
        self.line_search = line_search
        self.tol = tol
        self.krylov_depth = krylov_depth
        self.fit_steps = fit_steps
        self.refit_steps = refit_steps
        self.refresh_factor = refresh_factor
        self.lam_bounds = lam_bounds
        self.guard = guard
        self.guard_fraction = guard_fraction
        self.guard_tol = guard_tol
        self.patience = patience
        self.confidence = confidence
        self.n_iter_no_change = n_iter_no_change
        self.max_move = max_move
        self.max_fits = max_fits
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def fit(self, X, y, X_val=None, y_val=None):
        """Train the MLP at λ0 (``fit_steps`` L-BFGS iterations), then fine-tune the
        per-layer weight decays and the weights jointly on the validation loss, guarded by
        held-out validation rows (``guard``) as the linear estimators are."""
        t_start = time.perf_counter()
        self._validate_params()
        lo, hi = check_lam_bounds(self.lam_bounds)
        check_safeguards(self)
        sizes = np.atleast_1d(self.hidden_layer_sizes)
        if sizes.size == 0 or sizes.ndim != 1 or not all(
                isinstance(h, Integral) and h >= 1 for h in sizes.tolist()):
            raise ValueError("hidden_layer_sizes must be a positive integer or a non-empty "
                             f"sequence of them, got {self.hidden_layer_sizes!r}")
        hidden = tuple(int(h) for h in sizes)
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=not self._is_classifier)
        y = self._encode_y(y)
        [pair] = splits(X, y, X_val, y_val, self.validation_fraction, None,
                        self.random_state, self._is_classifier, self._encode_val)
        held = None
        if self.guard:
            pair, held = hold_out_rows(pair, self.guard_fraction, self.random_state)
        Xt, yt, Xv, yv = pair
        theta = initial_lambda(self.lam0, len(hidden) + 1, lo, hi, what="layer")
        n_out, yt, yv, vf = self._targets(yt, yv)
        seed = np.random.RandomState(self.random_state).randint(2**31 - 1)
        problem = MLPHPOProblem(X.shape[1], n_out, hidden, self.activation, Xt, yt, Xv, yv,
                                self._is_classifier, vf, (math.log(lo), math.log(hi)), seed,
                                self.krylov_depth, self.refit_steps, self.refresh_factor)
        box_around(problem, theta, lo, hi, self.max_move)
        w = problem.fit_lower(theta, steps=self.fit_steps)
        problem.res_ref = max(problem.stationarity(theta, w), 1e-8)
        guard = None if held is None else _HeldOutRows(problem, held[2], held[3], w)
        res = tune(problem, theta, w, max_iter=self.max_iter, radius=self.radius, delta=self.delta,
                   norm=self.norm, method=self.line_search, tol=self.tol,
                   seconds_setup=time.perf_counter() - t_start, guard=guard,
                   guard_tol=self.guard_tol, patience=self.patience,
                   n_iter_no_change=self.n_iter_no_change, max_fits=self.max_fits)
        res, self.moved_ = settle_tuning(res, theta, w, guard, self.guard, self.confidence)
        self.start_lambda_ = np.exp(theta)
        self.theta_, self.w_, self.lambda_ = res.theta, res.w, np.exp(res.theta)
        self.history_, self.stop_reason_, self.problem_ = res.history, res.reason, problem
        self.n_iter_, self.n_fits_ = res.n_iter, problem.n_fits
        return self

    def _forward(self, X):
        X = check_predict_X(self, X, "w_")
        p = self.problem_
        with torch.no_grad():
            return p.forward(p.tensor(self.w_), p.tensor(X)).numpy()


class BilevelMLPRegressor(RegressorMixin, RegressionTarget, _BilevelMLP):
    """Small torch MLP regressor whose per-layer weight decays (λ = exp(θ), one per Linear
    layer) are fine-tuned jointly with the weights on the validation MSE, through the
    descent program with matrix-free Hessian-vector products (torch.func) on a
    block-Krylov basis. Parameters as ``BilevelRidge`` plus ``hidden_layer_sizes``,
    ``activation``, ``krylov_depth`` (Krylov blocks), ``fit_steps`` (L-BFGS iterations of
    the initial fit), ``refit_steps`` and ``refresh_factor`` (L-BFGS steps when the
    stationarity residual exceeds refresh_factor × its value after the initial fit);
    ``lam0`` is required (float or one per layer: the start a search chose). The
    safeguards are ``BilevelRidge``'s on one split: ``guard`` holds out ``guard_fraction``
    of the validation rows, scored with the search's own weights; ``confidence``,
    ``n_iter_no_change``, ``max_move``, ``max_fits`` as there. Attributes: ``lambda_``,
    ``start_lambda_``, ``moved_``, ``stop_reason_``, ``history_``, ``n_iter_``, ``n_fits_``."""

    def _targets(self, yt, yv):
        return 1, yt, yv, self._y_std ** 2

    def predict(self, X):
        """Predictions in y's units."""
        return self._forward(X)[:, 0] * self._y_std + self._y_mean


class BilevelMLPClassifier(ClassifierMixin, ClassTarget, _BilevelMLP):
    """Small torch MLP classifier (softmax cross-entropy) with per-layer weight decays
    fine-tuned jointly with the weights on the validation log-loss; see
    ``BilevelMLPRegressor`` for the method and parameters."""

    def _targets(self, yt, yv):
        return self.classes_.size, yt, yv, 1.0

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        Z = self._forward(X)
        return np.exp(Z - logsumexp(Z, axis=1, keepdims=True))

    def predict(self, X):
        """Most probable class."""
        Z = self._forward(X)
        return self.classes_[np.argmax(Z, axis=1)]
