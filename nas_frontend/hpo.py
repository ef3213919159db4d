"""Hyperparameter fine-tuning with the auxiliary descent program (issue 5, item 5).

Simultaneous hyperparameter and model fine-tuning, the "hyper local search" of Sinha &
Gunwal (2025, ORL 61:107287): the penalties λ are the leader's variables x, the model's
weights w the follower's variables y,

    min_{θ, w}  F(w)                         validation loss (MSE or log-loss)
    s.t.        w ∈ argmin  L(w) + ½ Σ_g exp(θ_g) ‖w_g‖²     training loss, λ = exp(θ)

and each iteration solves ``bilevel_mp.algorithms.descent.solve_direction`` for a joint
step (dθ, dw): the linearised validation loss is minimised subject to the linearised
training stationarity |H_ww dw + H_wθ dθ + r0| <= δ (r0 = the current gradient of the
training objective) inside a box trust region, with dθ kept inside ``lam_bounds``.
The step length comes from ``line_search`` on the *true* validation loss at
(θ + t·dθ, w re-fitted from w + t·dw): a few Newton steps for the linear models (one is
exact for ridge), a few L-BFGS steps for the MLPs, only when the training stationarity
residual has grown. So w stays (near-)optimal for the training loss at every accepted
iterate, and the validation loss decreases at every accepted iteration.

Estimators (scikit-learn API): ``BilevelRidge``, ``BilevelLogisticRegression`` (binary and
multinomial; numpy/scipy only) and ``BilevelMLPRegressor`` / ``BilevelMLPClassifier``
(small torch MLPs, weight decay per layer, matrix-free Hessian-vector products through
``torch.func`` and a block-Krylov basis of H_ww; torch is imported only there).
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy import linalg
from scipy.sparse.linalg import LinearOperator, cg, minres
from scipy.special import expit, logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import KFold, StratifiedKFold, check_cv, train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from bilevel_mp.algorithms.descent import DescentProgram, RadiusRule, trust_region_step

__all__ = ["BilevelRidge", "BilevelLogisticRegression", "BilevelMLPRegressor",
           "BilevelMLPClassifier", "LinearHPOProblem", "hypergradient", "krylov_basis"]


# -- helpers shared by all estimators ------------------------------------------------------

def hypergradient(prog: DescentProgram) -> np.ndarray:
    """dF/dx along the follower's implicit response, from the program's data:
    grad_x − H_yxᵀ H_yy⁻¹ grad_y (dense solve, or MINRES on ``hvp_yy`` when matrix-free).
    Exact where the follower is stationary (r0 = 0) and H_yy is nonsingular."""
    m = prog.m
    if prog.H_yy is not None:
        try:
            v = linalg.solve(prog.H_yy, prog.grad_y, assume_a="sym")
        except (linalg.LinAlgError, ValueError):
            v = np.linalg.lstsq(prog.H_yy, prog.grad_y, rcond=None)[0]
    else:
        op = LinearOperator((m, m), matvec=lambda u: np.asarray(prog.hvp_yy(u), float))
        v, _ = minres(op, prog.grad_y, rtol=1e-10, maxiter=10 * m)
    if prog.H_yx is not None:
        return prog.grad_x - prog.H_yx.T @ v
    if prog.mvp_xy is not None:
        return prog.grad_x - np.asarray(prog.mvp_xy(v), float)
    return prog.grad_x - np.array([np.asarray(prog.mvp_yx(e), float) @ v for e in np.eye(prog.n)])


def krylov_basis(hvp, start: np.ndarray, depth: int, rtol: float = 1e-8) -> np.ndarray:
    """Orthonormal basis of the block Krylov space span{S, HS, …, H^depth S} of the
    symmetric operator ``hvp`` from the start block S (m×b); numerically dependent
    directions are dropped. Used as ``basis=`` (and ``test=``) of the descent program."""
    def orth(Z, ref):
        if Z.shape[1] == 0:
            return Z
        U, s, _ = np.linalg.svd(Z, full_matrices=False)
        return U[:, s > rtol * max(ref, 1e-300)]

    S = np.asarray(start, float)
    S = S[:, np.linalg.norm(S, axis=0) > 0]
    Q = orth(S, np.linalg.norm(S, 2) if S.size else 0.0)
    basis = [Q]
    for _ in range(depth):
        if Q.shape[1] == 0:
            break
        Z = np.column_stack([np.asarray(hvp(Q[:, j]), float) for j in range(Q.shape[1])])
        ref = np.linalg.norm(Z, 2)
        V = np.hstack(basis)
        for _ in range(2):  # re-orthogonalise
            Z = Z - V @ (V.T @ Z)
        Q = orth(Z, ref)
        basis.append(Q)
    return np.hstack(basis)


def _scale_columns(V: np.ndarray, scale: float) -> np.ndarray:
    """Columns rescaled to ∞-norm ``scale`` (zero columns dropped), so that the box
    |dz| <= r of the program bounds each column's contribution to dw by scale·r."""
    norms = np.abs(V).max(axis=0) if V.size else np.zeros(0)
    keep = norms > 1e-14 * max(1.0, norms.max(initial=0.0))
    return V[:, keep] * (scale / norms[keep])


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def _check_common(est):
    """Parameter checks shared by all estimators (run at fit, as scikit-learn does)."""
    _check_choice("norm", est.norm, ("inf", "2"))
    _check_choice("line_search", est.line_search, ("backtracking", "golden"))
    lo, hi = (float(v) for v in est.lam_bounds)
    if not 0 < lo < hi:
        raise ValueError(f"lam_bounds must satisfy 0 < low < high, got {est.lam_bounds!r}")
    if not (isinstance(est.max_iter, (int, np.integer)) and est.max_iter >= 0):
        raise ValueError(f"max_iter must be an integer >= 0, got {est.max_iter!r}")
    if not est.radius > 0:
        raise ValueError(f"radius must be > 0, got {est.radius!r}")
    if not 0 < est.validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {est.validation_fraction!r}")
    return lo, hi


def _initial_lambda(lam0, n_groups, lo, hi, what="group"):
    """θ0 = log λ0 from a scalar or one value per group; None -> None (caller scans)."""
    if lam0 is None:
        return None
    lam = np.asarray(lam0, dtype=float).ravel()
    if lam.size == 1:
        lam = np.full(n_groups, lam[0])
    if lam.size != n_groups:
        raise ValueError(f"lam0 has {lam.size} values, expected 1 or one per {what} ({n_groups})")
    if not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError(f"lam0 must be > 0 (penalties are parametrised as λ = exp(θ)), got {lam0!r}")
    if np.any(lam < lo) or np.any(lam > hi):
        raise ValueError(f"lam0 must lie within lam_bounds = ({lo:g}, {hi:g}), got {lam0!r}")
    return np.log(lam)


def _splits(X, y, X_val, y_val, fraction, cv, random_state, stratify, encode_val):
    """Train/validation pairs [(Xt, yt, Xv, yv)]: the given validation data (checked),
    ``cv`` folds, or one internal split of X, y."""
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is not None:
        if cv is not None:
            raise ValueError("give either validation data (X_val, y_val) or cv, not both")
        X_val = check_array(X_val, dtype=np.float64)
        y_val = np.asarray(y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = y_val.ravel()
        if X_val.shape[1] != X.shape[1]:
            raise ValueError(f"X_val has {X_val.shape[1]} features, but X has {X.shape[1]}")
        if y_val.ndim != 1 or y_val.shape[0] != X_val.shape[0]:
            raise ValueError(f"y_val has shape {np.shape(y_val)}, expected ({X_val.shape[0]},) "
                             "to match X_val")
        return [(X, y, X_val, encode_val(y_val))]
    counts = np.unique(y, return_counts=True)[1] if stratify else None
    if cv is not None:
        if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
            if not 2 <= cv <= X.shape[0]:
                raise ValueError(f"cv must be an integer in [2, n_samples], got {cv!r}")
            strat = stratify and counts.min() >= cv
            cv = (StratifiedKFold if strat else KFold)(int(cv), shuffle=True, random_state=random_state)
        folds = list(check_cv(cv, y, classifier=stratify).split(X, y))
        if len(folds) < 1:
            raise ValueError("cv gave no folds")
        return [(X[tr], y[tr], X[va], y[va]) for tr, va in folds]
    if X.shape[0] < 4:
        raise ValueError(f"need at least 4 samples for an internal train/validation split, "
                         f"got n_samples={X.shape[0]}; or pass X_val, y_val")
    strat = None
    if stratify:
        n_val = math.ceil(fraction * len(y))
        if counts.min() >= 2 and n_val >= counts.size and len(y) - n_val >= counts.size:
            strat = y
    Xt, Xv, yt, yv = train_test_split(X, y, test_size=fraction, random_state=random_state,
                                      stratify=strat)
    return [(Xt, yt, Xv, yv)]


# -- the trust-region loop, one for every model ------------------------------------------------

def _tune(problem, theta, w, *, max_iter, radius, delta, norm, method, tol, ls_evals=4,
          min_radius=1e-6, max_radius=8.0, seconds_setup=0.0):
    """Auxiliary-program descent on (θ, w) by ``bilevel_mp.algorithms.descent``'s
    trust-region step and radius rule. ``problem`` gives program(θ, w), refit(θ, w0),
    val_loss(w), stationarity(θ, w) and the fit counter ``n_fits``. Returns the final
    (θ, w), the per-iteration history and the reason for stopping."""
    F = problem.val_loss(w)
    history = [dict(iter=0, val_loss=F, stationarity=problem.stationarity(theta, w), step=0.0,
                    radius=radius, predicted=0.0, accepted=True, fits=problem.n_fits,
                    seconds=seconds_setup)]
    rule = RadiusRule(radius, min_radius, max_radius)
    reason = "max_iter"
    for k in range(1, max_iter + 1):
        t0 = time.perf_counter()
        prog = problem.program(theta, w)
        trial = {}

        def merit(t, d):
            th = theta + t * d.dx
            wt = problem.refit(th, w + t * d.dy)
            trial[t] = (th, wt)
            return problem.val_loss(wt)

        step = trust_region_step(prog, rule, delta, merit, F, norm, tol, method, max_evals=ls_evals)
        d = step.direction
        if d.status != "optimal":
            history.append(dict(iter=k, val_loss=F, stationarity=history[-1]["stationarity"],
                                step=0.0, radius=rule.radius, predicted=0.0, accepted=False,
                                fits=problem.n_fits, seconds=time.perf_counter() - t0))
            if step.collapsed:
                reason = f"auxiliary program {d.status}"
                break
            continue
        if step.stationary:
            reason = "no predicted decrease"
            break
        if step.t > 0:
            theta, w = trial[step.t]
            F = step.search.value
        history.append(dict(iter=k, val_loss=F, stationarity=problem.stationarity(theta, w),
                            step=step.t, radius=step.radius, predicted=d.predicted,
                            accepted=step.t > 0, fits=problem.n_fits,
                            seconds=time.perf_counter() - t0))
        if step.collapsed:
            reason = "trust region collapsed (no decrease)"
            break
    return theta, w, history, reason


class _RegressionTarget:
    """Real targets, standardised internally (mean and std of the y given to fit)."""

    _is_classifier = False

    def _encode_y(self, y):
        y = np.asarray(y, dtype=np.float64)
        self._y_mean, self._y_std = float(np.mean(y)), float(np.std(y)) or 1.0
        return (y - self._y_mean) / self._y_std

    def _encode_val(self, yv):
        return (np.asarray(yv, dtype=np.float64) - self._y_mean) / self._y_std


class _ClassTarget:
    """Class labels, encoded as indices into ``classes_``."""

    _is_classifier = True

    def _encode_y(self, y):
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; "
                             f"got 1 class: {self.classes_[0]!r}")
        return y_idx

    def _encode_val(self, yv):
        idx = np.clip(np.searchsorted(self.classes_, yv), 0, self.classes_.size - 1)
        if np.any(self.classes_[idx] != yv):
            bad = sorted(set(np.asarray(yv).tolist()) - set(self.classes_.tolist()))
            raise ValueError(f"y_val has classes {bad} that are not in y")
        return idx


def _check_predict_X(est, X, attr):
    check_is_fitted(est, attr)
    X = check_array(X, dtype=np.float64)
    if X.shape[1] != est.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(est).__name__} is "
                         f"expecting {est.n_features_in_} features as input")
    return X


# -- linear models ---------------------------------------------------------------------------

class _SquaredLoss:
    """factor · mean((X̃w − y)²), X̃ = [X, 1]."""

    def __init__(self, Xa, y, factor):
        self.Xa, self.y, self.factor = Xa, y, factor
        self.H = (2 * factor / Xa.shape[0]) * (Xa.T @ Xa)

    def value_grad(self, w):
        r = self.Xa @ w - self.y
        n = r.size
        return self.factor * float(r @ r) / n, (2 * self.factor / n) * (self.Xa.T @ r)

    def hvp(self, w, v):
        return self.H @ v

    def hessian(self, w):
        return self.H


class _LogLoss:
    """Mean log-loss of a linear model with K = 1 (binary, sigmoid) or K >= 3 (softmax)
    outputs; w is the flattened (p+1)×K matrix [coef; intercept]."""

    def __init__(self, Xa, y_idx, K):
        self.Xa, self.K, self.n = Xa, K, Xa.shape[0]
        self.y = y_idx.astype(float) if K == 1 else None
        self.Y = None if K == 1 else np.eye(K)[y_idx]
        self._cache = (None, None)

    def _W(self, w):
        return w.reshape(self.Xa.shape[1], self.K)

    def probs(self, w):
        cw, P = self._cache
        if cw is not None and np.array_equal(cw, w):
            return P
        Z = self.Xa @ self._W(w)
        P = expit(Z) if self.K == 1 else np.exp(Z - logsumexp(Z, axis=1, keepdims=True))
        self._cache = (w.copy(), P)
        return P

    def value_grad(self, w):
        Z = self.Xa @ self._W(w)
        if self.K == 1:
            z = Z[:, 0]
            val = float(np.mean(np.logaddexp(0.0, z) - self.y * z))
            R = (expit(z) - self.y)[:, None]
        else:
            lse = logsumexp(Z, axis=1, keepdims=True)
            val = float(np.mean(lse[:, 0] - (Z * self.Y).sum(axis=1)))
            R = np.exp(Z - lse) - self.Y
        return val, (self.Xa.T @ R).ravel() / self.n

    def hvp(self, w, v):
        P = self.probs(w)
        U = self.Xa @ self._W(v)
        R = P * (1 - P) * U if self.K == 1 else P * U - P * (P * U).sum(axis=1, keepdims=True)
        return (self.Xa.T @ R).ravel() / self.n

    def hessian(self, w):
        P, Xa, K, n = self.probs(w), self.Xa, self.K, self.n
        d = Xa.shape[1]
        if K == 1:
            return (Xa.T * (P[:, 0] * (1 - P[:, 0]))) @ Xa / n
        H = np.zeros((d, K, d, K))
        for k in range(K):  # Σ_i p_ik x_i x_iᵀ on the class-k diagonal block
            H[:, k, :, k] = (Xa.T * P[:, k]) @ Xa
        U = (Xa[:, :, None] * P[:, None, :]).reshape(n, d * K)
        return H.reshape(d * K, d * K) / n - (U.T @ U) / n


class LinearHPOProblem:
    """The bilevel data of a linear model with group penalties, over one or more
    train/validation folds (``folds`` = [(train_loss, val_loss)], one weight block per
    fold): lower level L_k(w_k) + ½ Σ_i (Gλ + ε)_i w_ki² for every fold k, upper level
    the mean of the folds' validation losses. Builds the descent program at (θ, w), fits
    w at θ (Newton: dense Cholesky up to ``dense_max`` weights per block, CG beyond) and
    counts the fits (one per fold solve). ``G`` (m×n) maps group penalties to a block's
    weights; ``eps`` is a fixed tiny penalty (multinomial intercepts, else unidentified)."""

    def __init__(self, folds, G, eps, theta_bounds, hessian="exact", basis="auto",
                 fit_tol=1e-7, refit_steps=5, dense_max=300):
        self.folds, self.G, self.eps = folds, G, eps
        self.theta_lo, self.theta_hi = theta_bounds
        self.hessian, self.fit_tol, self.refit_steps = hessian, fit_tol, refit_steps
        self.K = len(folds)
        self.mb, self.n = G.shape
        self.m = self.K * self.mb
        self.dense = self.mb <= dense_max
        self.basis = ("full" if self.m <= dense_max else "response") if basis == "auto" else basis
        self.n_fits = 0
        self._pairs = [[] for _ in folds]
        self._B = [None] * self.K  # SR1 approximations of ∇²L_k
        self._factors = [None] * self.K  # Cholesky factors of the last program's exact H_k

    # objective pieces
    def lam_w(self, theta):
        """Penalty of every weight of one block: Gλ + ε."""
        return self.G @ np.exp(theta) + self.eps

    def _blocks(self, w):
        return np.asarray(w, dtype=float).reshape(self.K, self.mb)

    def _objective(self, k, lw, wk):
        L, gL = self.folds[k][0].value_grad(wk)
        return L + 0.5 * float(lw @ (wk * wk)), gL + lw * wk, gL

    def gradient(self, theta, w):
        """∇_w of the training objectives (all blocks): the program's r0."""
        lw = self.lam_w(theta)
        return np.concatenate([self._objective(k, lw, wk)[1] for k, wk in enumerate(self._blocks(w))])

    def stationarity(self, theta, w):
        """max |∇_w (L + penalty)| at (θ, w)."""
        return float(np.abs(self.gradient(theta, w)).max(initial=0.0))

    def val_loss(self, w):
        """Mean validation loss over the folds."""
        return float(np.mean([val.value_grad(wk)[0] for (_, val), wk in zip(self.folds, self._blocks(w))]))

    # the follower's solver
    def fit_lower(self, theta, w0=None, max_steps=100, tol=None):
        """Minimise every fold's training objective at θ by damped Newton from w0
        (``K`` fits)."""
        self.n_fits += self.K
        lw = self.lam_w(theta)
        W0 = np.zeros((self.K, self.mb)) if w0 is None else self._blocks(w0)
        tol = self.fit_tol if tol is None else tol
        return np.concatenate([self._newton(k, lw, W0[k], max_steps, tol) for k in range(self.K)])

    def _newton(self, k, lw, w, max_steps, tol):
        train = self.folds[k][0]
        w = np.array(w, dtype=float)
        f, g, gL = self._objective(k, lw, w)
        for _ in range(max_steps):
            if np.abs(g).max(initial=0.0) <= tol:
                break
            if self.dense:
                H = train.hessian(w) + np.diag(lw)
                try:
                    step = -linalg.cho_solve(linalg.cho_factor(H), g)
                except linalg.LinAlgError:
                    step = -np.linalg.lstsq(H, g, rcond=None)[0]
            else:
                op = LinearOperator((self.mb, self.mb), matvec=lambda v, w=w: train.hvp(w, v) + lw * v)
                fac = self._factors[k]  # the last program's Hessian factor, as preconditioner
                pre = None if fac is None else LinearOperator(
                    (self.mb, self.mb), matvec=lambda v, fac=fac: linalg.cho_solve(fac, v))
                step, _ = cg(op, -g, rtol=min(0.5, math.sqrt(float(np.linalg.norm(g)))), maxiter=200,
                             M=pre)
            slope = float(g @ step)
            if slope >= 0:  # not a descent direction (inexact CG): steepest descent
                step, slope = -g, -float(g @ g)
            t = 1.0
            for _ in range(40):
                f_new, g_new, gL_new = self._objective(k, lw, w + t * step)
                if f_new <= f + 1e-4 * t * slope:
                    break
                # at round-off level f cannot decide: accept a step that lowers the gradient
                if abs(f_new - f) <= 1e-14 * max(1.0, abs(f)) and np.abs(g_new).max() < np.abs(g).max():
                    break
                t *= 0.5
            else:
                break
            if self.hessian == "sr1":
                self._pairs[k].append((t * step, gL_new - gL))
            w, f, g, gL = w + t * step, f_new, g_new, gL_new
        return w

    def refit(self, theta, w0):
        """A few Newton steps from the program's predicted w0 (one is exact for ridge)."""
        return self.fit_lower(theta, w0, max_steps=self.refit_steps)

    # the auxiliary program
    def _sr1_hessian(self, k):
        B = self._B[k]
        for s, y in self._pairs[k]:
            if B is None:
                sy = float(s @ y)
                B = (float(y @ y) / sy if sy > 1e-12 * float(s @ s) else 1.0) * np.eye(self.mb)
            r = y - B @ s
            rs = float(r @ s)
            if abs(rs) > 1e-8 * np.linalg.norm(r) * np.linalg.norm(s):  # the usual SR1 skip rule
                B = B + np.outer(r, r) / rs
        self._pairs[k].clear()
        self._B[k] = np.eye(self.mb) if B is None else B
        return self._B[k]

    def program(self, theta, w) -> DescentProgram:
        """The auxiliary program at (θ, w): x = θ, y = w (all folds), H_ww exact (or its
        SR1 approximation; block diagonal over folds), H_wθ[i, g] = G_ig λ_g w_i,
        r0 = ∇_w(training objective), ∇F = the mean validation loss's gradient.
        basis "full": dw free (box scale·r); "response": dw in the span of the exact
        response directions −H⁻¹H_wθ e_g, −H⁻¹r0 of each fold, Galerkin test."""
        lam, lw, Wb = np.exp(theta), self.lam_w(theta), self._blocks(w)
        r0 = self.gradient(theta, w)
        Hb = [(self._sr1_hessian(k) if self.hessian == "sr1" else self.folds[k][0].hessian(Wb[k]))
              + np.diag(lw) for k in range(self.K)]
        H_wt = np.vstack([self.G * (lam[None, :] * wk[:, None]) for wk in Wb])
        gF = np.concatenate([val.value_grad(wk)[1] for (_, val), wk in zip(self.folds, Wb)]) / self.K
        scale = max(1.0, float(np.abs(w).max(initial=0.0)))
        common = dict(grad_x=np.zeros(self.n), grad_y=gF, H_yx=H_wt, r0=r0,
                      dx_lb=self.theta_lo - theta, dx_ub=self.theta_hi - theta)
        if self.basis == "full":
            return DescentProgram(H_yy=linalg.block_diag(*Hb), basis=scale * np.eye(self.m), **common)
        cols = []
        for k, H in enumerate(Hb):
            sl = slice(k * self.mb, (k + 1) * self.mb)
            rhs = np.column_stack([H_wt[sl], r0[sl]])
            try:
                if self.hessian == "sr1":  # SR1 may be indefinite
                    R = linalg.solve(H, rhs, assume_a="sym")
                else:
                    self._factors[k] = linalg.cho_factor(H)
                    R = linalg.cho_solve(self._factors[k], rhs)
            except (linalg.LinAlgError, ValueError):
                R = np.linalg.lstsq(H, rhs, rcond=None)[0]
            Vk = np.zeros((self.m, rhs.shape[1]))
            Vk[sl] = R
            cols.append(Vk)
        V = _scale_columns(np.hstack(cols), scale)

        def hvp(v):  # block diagonal, skipping blocks where v is zero
            out = np.zeros(self.m)
            for k, H in enumerate(Hb):
                vk = v[k * self.mb:(k + 1) * self.mb]
                if vk.any():
                    out[k * self.mb:(k + 1) * self.mb] = H @ vk
            return out

        return DescentProgram(hvp_yy=hvp, basis=V, test=V, **common)


_LINEAR_DOC_PARAMS = """
    Parameters
    ----------
    lam0 : None, float or array, default None
        Starting penalties (one per group, or one for all). None: the best single λ of
        ``n_init`` values spread log-uniformly over ``lam_bounds`` (a warm-started path:
        ``n_init`` fits per fold), a cheap default.
    groups : array of length n_features or None
        Group label of every feature; one penalty per group. None: one per feature.
    cv : None, int, a CV splitter or an iterable of (train, val) index arrays
        None: one train/validation pair (``X_val, y_val`` given to fit, or an internal
        split by ``validation_fraction``); the fine-tuned w is the model. Otherwise K
        folds of X, y (an int: shuffled, stratified for classifiers), one weight vector
        per fold, the upper objective is the mean validation loss over the folds (less
        noisy than one split); the model is then refitted on all of X, y at the tuned λ.
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
    validation_fraction, random_state
        Internal split (or fold shuffling) when ``fit`` gets no X_val, y_val.

    Attributes
    ----------
    coef_, intercept_, lambda_ (one per group), groups_ (group labels), history_ (per
    iteration: val_loss, stationarity, step, radius, predicted, accepted, fits, seconds),
    n_iter_, n_fits_ (training-problem solves, the initial and final ones included),
    stop_reason_, problem_ (the ``LinearHPOProblem``, holding the fold data), theta_ and
    w_ (log λ and the stacked fold weights at the end of the search).
"""


class _BilevelLinear(BaseEstimator):
    def __init__(self, lam0=None, groups=None, cv=None, hessian="exact", basis="auto",
                 max_iter=30, radius=1.0, delta=1e-6, norm="inf", line_search="backtracking",
                 tol=1e-5, refit_steps=5, lam_bounds=(1e-5, 1e2), n_init=7,
                 validation_fraction=0.25, random_state=None):
        self.lam0 = lam0
        self.groups = groups
        self.cv = cv
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

    def fit(self, X, y, X_val=None, y_val=None):
        """Fit w at the starting λ on the training part(s), then fine-tune (λ, w) jointly
        on the validation loss (X_val, y_val; ``cv`` folds; or an internal split)."""
        t_start = time.perf_counter()
        lo, hi = _check_common(self)
        _check_choice("hessian", self.hessian, ("exact", "sr1"))
        _check_choice("basis", self.basis, ("auto", "full", "response"))
        X, y = check_X_y(X, y, dtype=np.float64, y_numeric=not self._is_classifier)
        self.n_features_in_ = p = X.shape[1]
        y = self._encode_y(y)
        splits = _splits(X, y, X_val, y_val, self.validation_fraction, self.cv,
                         self.random_state, self._is_classifier, self._encode_val)
        if self.groups is None:
            labels, gidx = np.arange(p), np.arange(p)
        else:
            g = np.asarray(self.groups).ravel()
            if g.size != p:
                raise ValueError(f"groups has {g.size} labels, expected one per feature ({p})")
            labels, gidx = np.unique(g, return_inverse=True)
        self.groups_ = labels
        n = labels.size
        theta = _initial_lambda(self.lam0, n, lo, hi)
        K, eps_int = self._outputs()
        Gf = np.zeros((p + 1, n))
        Gf[np.arange(p), gidx] = 1.0
        G = np.repeat(Gf, K, axis=0)  # weight (feature j, output k) at row j*K + k
        eps = np.zeros((p + 1) * K)
        eps[p * K:] = eps_int
        folds = [(self._loss(Xt, yt, False), self._loss(Xv, yv, True)) for Xt, yt, Xv, yv in splits]
        problem = LinearHPOProblem(folds, G, eps, (math.log(lo), math.log(hi)), hessian=self.hessian,
                                   basis=self.basis, refit_steps=self.refit_steps)
        if theta is None:  # cheap default: the best single λ on a warm-started path
            best, w = None, None
            for lam in np.geomspace(hi, lo, max(1, int(self.n_init))):
                th = np.full(n, math.log(lam))
                w = problem.fit_lower(th, w)
                F = problem.val_loss(w)
                if best is None or F < best[0]:
                    best = (F, th, w)
            _, theta, w = best
        else:
            w = problem.fit_lower(theta)
        theta, w, hist, reason = _tune(
            problem, theta, w, max_iter=self.max_iter, radius=self.radius, delta=self.delta,
            norm=self.norm, method=self.line_search, tol=self.tol,
            seconds_setup=time.perf_counter() - t_start)
        n_fits = problem.n_fits
        if self.cv is None:
            final = w
        else:  # refit on all the data at the tuned λ, from the mean of the fold models
            whole = LinearHPOProblem([(self._loss(X, y, False), None)], G, eps,
                                         (math.log(lo), math.log(hi)))
            final = whole.fit_lower(theta, problem._blocks(w).mean(axis=0))
            n_fits += whole.n_fits
        self.theta_, self.w_, self.lambda_ = theta, w, np.exp(theta)
        self._set_coef(final.reshape(p + 1, K))
        self.history_, self.stop_reason_, self.problem_ = hist, reason, problem
        self.n_iter_, self.n_fits_ = len(hist) - 1, n_fits
        return self

    def _check_X(self, X):
        return _check_predict_X(self, X, "coef_")


class BilevelRidge(RegressorMixin, _RegressionTarget, _BilevelLinear):
    __doc__ = ("""Linear regression with per-feature (or per-group) L2 penalties fine-tuned
    jointly with the weights on a validation MSE; the intercept is not penalised.
    Training objective: ½·mean((Xw + b − y)²)/σ_y² + ½ Σ_g λ_g ‖w_g‖² (y standardised
    internally, so λ = sklearn Ridge's alpha / n_train); val_loss in ``history_`` is
    the validation MSE in y's units.
""" + _LINEAR_DOC_PARAMS)

    def _outputs(self):
        return 1, 0.0

    def _loss(self, X, y, val):
        return _SquaredLoss(np.column_stack([X, np.ones(len(X))]), y, self._y_std ** 2 if val else 0.5)

    def _set_coef(self, W):
        self.coef_ = W[:-1, 0] * self._y_std
        self.intercept_ = float(W[-1, 0] * self._y_std + self._y_mean)

    def predict(self, X):
        """Predictions X·coef_ + intercept_."""
        return self._check_X(X) @ self.coef_ + self.intercept_


class BilevelLogisticRegression(ClassifierMixin, _ClassTarget, _BilevelLinear):
    __doc__ = ("""Logistic regression (binary, or multinomial for 3+ classes) with
    per-feature (or per-group) L2 penalties fine-tuned jointly with the weights on the
    validation log-loss. Training objective: mean log-loss + ½ Σ_g λ_g Σ_{j∈g} ‖W_j‖²
    (W_j: feature j's weights over the classes; λ = 1/(C·n_train) in sklearn's terms);
    intercepts unpenalised (multinomial: a fixed 1e-8 to identify them).
""" + _LINEAR_DOC_PARAMS)

    def _outputs(self):
        return (1, 0.0) if self.classes_.size == 2 else (self.classes_.size, 1e-8)

    def _loss(self, X, y, val):
        return _LogLoss(np.column_stack([X, np.ones(len(X))]), y, self._outputs()[0])

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


# -- torch MLPs --------------------------------------------------------------------------------

class _MLPProblem:
    """A small torch MLP's bilevel data: weights w (flat, float64), θ = log of one weight
    decay per Linear layer (biases unpenalised); matrix-free H_ww v, H_wθ u, H_wθᵀ v by
    torch.func; block-Krylov basis; L-BFGS for the (re)fits. Same interface as
    ``LinearHPOProblem``."""

    def __init__(self, n_in, n_out, hidden, activation, Xt, yt, Xv, yv, classify, val_factor,
                 theta_bounds, seed, krylov_depth, refit_steps, refresh_factor):
        import torch
        from torch import nn

        acts = {"tanh": nn.Tanh, "relu": nn.ReLU, "softplus": nn.Softplus}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            layers, d = [], n_in
            for h in hidden:
                layers += [nn.Linear(d, int(h)), acts[activation]()]
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
        import torch

        return {n: p.view(s) for n, p, s in zip(self.names, torch.split(w, self.sizes), self.shapes)}

    def forward(self, w, X):
        import torch

        return torch.func.functional_call(self.model, self._params(w), (X,))

    def _data_loss(self, w, X, y, val=False):
        import torch

        out = self.forward(w, X)
        if self.classify:
            return torch.nn.functional.cross_entropy(out, y)
        r = out[:, 0] - y
        return (self.val_factor if val else 0.5) * (r * r).mean()

    def _objective(self, w, theta):
        import torch

        return self._data_loss(w, self.Xt, self.yt) + 0.5 * ((self.G @ torch.exp(theta)) * w * w).sum()

    def _grad_w(self, w, theta):
        import torch

        return torch.func.grad(self._objective, argnums=0)(w, theta)

    def _val_grad(self, w):
        import torch

        return torch.func.grad(lambda w_: self._data_loss(w_, self.Xv, self.yv, val=True))(w)

    @staticmethod
    def _t(a):
        import torch

        return torch.as_tensor(np.asarray(a, dtype=np.float64))

    # interface
    def val_loss(self, w):
        import torch

        with torch.no_grad():
            return float(self._data_loss(self._t(w), self.Xv, self.yv, val=True))

    def stationarity(self, theta, w):
        return float(self._grad_w(self._t(w), self._t(theta)).abs().max())

    def fit_lower(self, theta, w0=None, steps=200):
        """Full-batch L-BFGS on the training objective at θ (one fit)."""
        import torch

        self.n_fits += 1
        w = self._t(self.w_init if w0 is None else w0).clone().requires_grad_(True)
        th = self._t(theta)
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
        import torch

        func = torch.func
        wt, tht = self._t(w), self._t(theta)
        gw = lambda w_, th_: self._grad_w(w_, th_)  # noqa: E731

        def hvp(v):
            return func.jvp(lambda w_: gw(w_, tht), (wt,), (self._t(v),))[1].numpy()

        def mvp_yx(u):
            return func.jvp(lambda th_: gw(wt, th_), (tht,), (self._t(u),))[1].numpy()

        _, vjp_fn = func.vjp(lambda th_: gw(wt, th_), tht)

        def mvp_xy(v):
            return vjp_fn(self._t(v))[0].numpy()

        with torch.no_grad():
            r0 = gw(wt, tht).numpy()
            gF = self._val_grad(wt).numpy()
        start = np.column_stack([mvp_yx(e) for e in np.eye(self.n)] + [r0, gF])
        V = _scale_columns(krylov_basis(hvp, start, self.krylov_depth), 1.0)
        return DescentProgram(grad_x=np.zeros(self.n), grad_y=gF, hvp_yy=hvp, mvp_yx=mvp_yx,
                              mvp_xy=mvp_xy, r0=r0, dx_lb=self.theta_lo - theta,
                              dx_ub=self.theta_hi - theta, basis=V, test=V)


class _BilevelMLP(BaseEstimator):
    def __init__(self, hidden_layer_sizes=(32,), activation="tanh", lam0=1e-3, hessian="exact",
                 max_iter=10, radius=0.5, delta=1e-6, norm="inf", line_search="backtracking",
                 tol=1e-6, krylov_depth=3, fit_steps=200, refit_steps=10, refresh_factor=2.0,
                 lam_bounds=(1e-6, 10.0), validation_fraction=0.25, random_state=None):
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
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def fit(self, X, y, X_val=None, y_val=None):
        """Train the MLP at λ0 (``fit_steps`` L-BFGS iterations), then fine-tune the
        per-layer weight decays and the weights jointly on the validation loss."""
        t_start = time.perf_counter()
        lo, hi = _check_common(self)
        if self.hessian != "exact":
            raise ValueError(f"hessian must be 'exact' for the MLP estimators (matrix-free "
                             f"Hessian-vector products), got {self.hessian!r}")
        _check_choice("activation", self.activation, ("tanh", "relu", "softplus"))
        hidden = tuple(int(h) for h in np.atleast_1d(self.hidden_layer_sizes))
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        X, y = check_X_y(X, y, dtype=np.float64, y_numeric=not self._is_classifier)
        self.n_features_in_ = X.shape[1]
        y = self._encode_y(y)
        [(Xt, yt, Xv, yv)] = _splits(X, y, X_val, y_val, self.validation_fraction, None,
                                     self.random_state, self._is_classifier, self._encode_val)
        theta = _initial_lambda(self.lam0, len(hidden) + 1, lo, hi, what="layer")
        if theta is None:
            raise ValueError("lam0 must be given for the MLP estimators (a float or one per layer)")
        n_out, yt, yv, vf = self._targets(yt, yv)
        seed = np.random.RandomState(self.random_state).randint(2**31 - 1)
        problem = _MLPProblem(X.shape[1], n_out, hidden, self.activation, Xt, yt, Xv, yv,
                              self._is_classifier, vf, (math.log(lo), math.log(hi)), seed,
                              self.krylov_depth, self.refit_steps, self.refresh_factor)
        w = problem.fit_lower(theta, steps=self.fit_steps)
        problem.res_ref = max(problem.stationarity(theta, w), 1e-8)
        theta, w, hist, reason = _tune(
            problem, theta, w, max_iter=self.max_iter, radius=self.radius, delta=self.delta,
            norm=self.norm, method=self.line_search, tol=self.tol,
            seconds_setup=time.perf_counter() - t_start)
        self.theta_, self.w_, self.lambda_ = theta, w, np.exp(theta)
        self.history_, self.stop_reason_, self.problem_ = hist, reason, problem
        self.n_iter_, self.n_fits_ = len(hist) - 1, problem.n_fits
        return self

    def _forward(self, X):
        import torch

        X = _check_predict_X(self, X, "w_")
        p = self.problem_
        with torch.no_grad():
            return p.forward(p._t(self.w_), p._t(X)).numpy()


class BilevelMLPRegressor(RegressorMixin, _RegressionTarget, _BilevelMLP):
    """Small torch MLP regressor whose per-layer weight decays (λ = exp(θ), one per Linear
    layer) are fine-tuned jointly with the weights on the validation MSE, through the
    descent program with matrix-free Hessian-vector products (torch.func) on a
    block-Krylov basis. Parameters as ``BilevelRidge`` plus ``hidden_layer_sizes``,
    ``activation``, ``krylov_depth`` (Krylov blocks), ``fit_steps`` (L-BFGS iterations of
    the initial fit), ``refit_steps`` and ``refresh_factor`` (L-BFGS steps when the
    stationarity residual exceeds refresh_factor × its value after the initial fit);
    ``lam0`` is required (float or one per layer)."""

    def _targets(self, yt, yv):
        return 1, yt, yv, self._y_std ** 2

    def predict(self, X):
        """Predictions in y's units."""
        return self._forward(X)[:, 0] * self._y_std + self._y_mean


class BilevelMLPClassifier(ClassifierMixin, _ClassTarget, _BilevelMLP):
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
