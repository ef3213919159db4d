"""The bilevel data of a linear model's penalty tuning: losses (squared, logistic) and
``LinearHPOProblem``, which holds one or more train/validation folds and builds the
auxiliary descent program at (θ, w) for ``nas_frontend.hpo.linear``'s estimators."""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg
from scipy.sparse.linalg import LinearOperator, cg
from scipy.special import expit, logsumexp

from bilevel_mp.algorithms.descent import DescentProgram

from .base import scale_columns

__all__ = ["LinearHPOProblem", "LogLoss", "SquaredLoss"]

class SquaredLoss:
    """factor · mean((X̃w − y)²), X̃ = [X, 1]."""

    def __init__(self, Xa, y, factor):
        self.Xa, self.y, self.factor = Xa, y, factor
        self.H = (2 * factor / Xa.shape[0]) * (Xa.T @ Xa)

    def value_grad(self, w):
        r = self.Xa @ w - self.y
        n = r.size
        return self.factor * float(r @ r) / n, (2 * self.factor / n) * (self.Xa.T @ r)

    def per_sample(self, w):
        """factor · (x̃_iᵀw − y_i)² for every row i (their mean is the loss)."""
        r = self.Xa @ w - self.y
        return self.factor * r * r

    def hvp(self, w, v):
        return self.H @ v

    def hessian(self, w):
        return self.H


class LogLoss:
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

    def per_sample(self, w):
        """The log-loss of every row (their mean is the loss)."""
        Z = self.Xa @ self._W(w)
        if self.K == 1:
            return np.logaddexp(0.0, Z[:, 0]) - self.y * Z[:, 0]
        return logsumexp(Z, axis=1) - (Z * self.Y).sum(axis=1)

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
    fold): lower level L_k(w_k) + ½ Σ_i (G_k λ + ε)_i w_ki² for every fold k, upper level
    the mean of the folds' validation losses. Builds the descent program at (θ, w), fits
    w at θ (Newton: dense Cholesky up to ``dense_max`` weights per block, CG beyond) and
    counts the fits (one per fold solve). ``G`` (m×n) maps group penalties to a block's
    weights, the same for every fold, or a list of one such matrix per fold (groups that
    each fold chose from its own training rows); ``eps`` is a fixed tiny penalty
    (multinomial intercepts, else unidentified)."""

    def __init__(self, folds, G, eps, theta_bounds, hessian="exact", basis="auto",
                 fit_tol=1e-7, refit_steps=5, dense_max=300):
        self.folds, self.eps = folds, eps
        self.Gs = [np.asarray(g, dtype=float) for g in G] if isinstance(G, (list, tuple)) else [G] * len(folds)
        if len(self.Gs) != len(folds):
            raise ValueError(f"G has {len(self.Gs)} matrices for {len(folds)} folds")
        self.theta_lo, self.theta_hi = theta_bounds
        self.hessian, self.fit_tol, self.refit_steps = hessian, fit_tol, refit_steps
        self.K = len(folds)
        self.mb, self.n = self.Gs[0].shape
        self.m = self.K * self.mb
        self.dense = self.mb <= dense_max
        self.basis = ("full" if self.m <= dense_max else "response") if basis == "auto" else basis
        self.n_fits = 0
        self._pairs = [[] for _ in folds]
        self._B = [None] * self.K  # SR1 approximations of ∇²L_k
        self._factors = [None] * self.K  # Cholesky factors of the last program's exact H_k

    # objective pieces
    def lam_w(self, theta):
        """Penalty of every weight, one row per block: G_k λ + ε."""
        lam = np.exp(theta)
        return np.stack([G @ lam for G in self.Gs]) + self.eps

    def blocks(self, w):
        """w as (folds, weights per fold)."""
        return np.asarray(w, dtype=float).reshape(self.K, self.mb)

    def _objective(self, k, lw, wk):
        L, gL = self.folds[k][0].value_grad(wk)
        return L + 0.5 * float(lw @ (wk * wk)), gL + lw * wk, gL

    def gradient(self, theta, w):
        """∇_w of the training objectives (all blocks): the program's r0."""
        lw = self.lam_w(theta)
        return np.concatenate([self._objective(k, lw[k], wk)[1] for k, wk in enumerate(self.blocks(w))])

    def stationarity(self, theta, w):
        """max |∇_w (L + penalty)| at (θ, w)."""
        return float(np.abs(self.gradient(theta, w)).max(initial=0.0))

    def val_loss(self, w):
        """Mean validation loss over the folds."""
        return float(np.mean([val.value_grad(wk)[0] for (_, val), wk in zip(self.folds, self.blocks(w))]))

    def sample_losses(self, w):
        """Every validation row's loss, the folds' rows concatenated (their plain mean
        weights rows equally; ``val_loss`` weights folds equally: the same up to the folds'
        size differences)."""
        return np.concatenate([val.per_sample(wk) for (_, val), wk in zip(self.folds, self.blocks(w))])

    # the follower's solver
    def fit_lower(self, theta, w0=None, max_steps=100, tol=None):
        """Minimise every fold's training objective at θ by damped Newton from w0
        (``K`` fits)."""
        self.n_fits += self.K
        lw = self.lam_w(theta)
        W0 = np.zeros((self.K, self.mb)) if w0 is None else self.blocks(w0)
        tol = self.fit_tol if tol is None else tol
        return np.concatenate([self._newton(k, lw[k], W0[k], max_steps, tol) for k in range(self.K)])

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
        lam, lw, Wb = np.exp(theta), self.lam_w(theta), self.blocks(w)
        r0 = self.gradient(theta, w)
        Hb = [(self._sr1_hessian(k) if self.hessian == "sr1" else self.folds[k][0].hessian(Wb[k]))
              + np.diag(lw[k]) for k in range(self.K)]
        H_wt = np.vstack([G * (lam[None, :] * wk[:, None]) for G, wk in zip(self.Gs, Wb)])
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
        V = scale_columns(np.hstack(cols), scale)

        def hvp(v):  # block diagonal, skipping blocks where v is zero
            out = np.zeros(self.m)
            for k, H in enumerate(Hb):
                vk = v[k * self.mb:(k + 1) * self.mb]
                if vk.any():
                    out[k * self.mb:(k + 1) * self.mb] = H @ vk
            return out

        return DescentProgram(hvp_yy=hvp, basis=V, test=V, **common)
