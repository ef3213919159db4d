"""What every fine-tuning estimator shares: the parameter constraints, the train/validation
splits, the target encodings and the trust-region loop ``tune`` over (θ, w)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, check_cv, train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from bilevel_mp.algorithms.descent import RadiusRule, trust_region_step

__all__ = ["GUARD_CONSTRAINTS", "SHARED_CONSTRAINTS", "ClassTarget", "RegressionTarget", "TuneResult",
           "box_around", "check_lam_bounds", "check_predict_X", "check_safeguards",
           "held_out_evidence", "initial_lambda", "hold_out_rows", "keep_if_evident",
           "scale_columns", "settle_tuning", "splits", "tune"]

#: ``_parameter_constraints`` entries common to all estimators (scikit-learn's
#: declarative validation, enforced by ``self._validate_params()`` at fit)
SHARED_CONSTRAINTS = {
    "max_iter": [Interval(Integral, 0, None, closed="left")],
    "radius": [Interval(Real, 0, None, closed="neither")],
    "delta": [Interval(Real, 0, None, closed="left")],
    "norm": [StrOptions({"inf", "2"})],
    "line_search": [StrOptions({"backtracking", "golden"})],
    "tol": [Interval(Real, 0, None, closed="left")],
    "lam_bounds": ["array-like"],  # a pair 0 < low < high: check_lam_bounds
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "random_state": ["random_state"],
}

#: the safeguards' parameters (``tune``'s guard, early stopping, box, budget, evidence)
GUARD_CONSTRAINTS = {
    "guard": ["boolean"],
    "guard_fraction": [Interval(Real, 0, 1, closed="neither")],
    "guard_tol": [Interval(Real, 0, None, closed="left")],
    "patience": [Interval(Integral, 1, None, closed="left")],
    "confidence": [None, Interval(Real, 0, None, closed="left")],
    "n_iter_no_change": [None, Interval(Integral, 1, None, closed="left")],
    "max_move": [None, Interval(Real, 0, None, closed="neither")],
    "max_fits": [None, Interval(Integral, 0, None, closed="left")],
}


def check_lam_bounds(lam_bounds) -> tuple[float, float]:
    """(low, high) from ``lam_bounds``; ValueError unless it is a pair 0 < low < high."""
    try:
        lo, hi = (float(v) for v in np.asarray(lam_bounds, dtype=float).ravel())
    except (TypeError, ValueError):
        raise ValueError(f"lam_bounds must be a pair (low, high), got {lam_bounds!r}") from None
    if not 0 < lo < hi:
        raise ValueError(f"lam_bounds must satisfy 0 < low < high, got {lam_bounds!r}")
    return lo, hi


def scale_columns(V: np.ndarray, scale: float) -> np.ndarray:
    """Columns rescaled to ∞-norm ``scale`` (zero columns dropped), so that the box
    |dz| <= r of the program bounds each column's contribution to dw by scale·r."""
    norms = np.abs(V).max(axis=0) if V.size else np.zeros(0)
    keep = norms > 1e-14 * max(1.0, norms.max(initial=0.0))
    return V[:, keep] * (scale / norms[keep])


def initial_lambda(lam0, n_groups, lo, hi, what="group"):
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
    # a bound given back through another unit (RidgeCV's alpha / n) is still that bound
    lam = np.where(np.isclose(lam, lo, rtol=1e-9, atol=0), lo, lam)
    lam = np.where(np.isclose(lam, hi, rtol=1e-9, atol=0), hi, lam)
    if np.any(lam < lo) or np.any(lam > hi):
        raise ValueError(f"lam0 must lie within lam_bounds = ({lo:g}, {hi:g}), got {lam0!r}")
    return np.log(lam)


def splits(X, y, X_val, y_val, fraction, cv, random_state, stratify, encode_val):
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


def held_out_evidence(before, after, confidence):
    """Whether the held-out rows' losses fell from ``before`` to ``after`` (the same rows,
    paired) by more than ``confidence`` standard errors of the mean fall: (enough, gain,
    se, message). gain = mean(before − after); se = its standard error over the rows."""
    d = np.asarray(before, dtype=float) - np.asarray(after, dtype=float)
    gain = float(d.mean()) if d.size else 0.0
    se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.inf
    enough = gain > confidence * se
    verdict = "above" if enough else "not above"
    return enough, gain, se, (f"the held-out loss fell by {gain:.3g} per row, {verdict} "
                              f"{confidence:g} x its standard error {se:.3g}")


def keep_if_evident(res, theta0, w0, before, after, confidence):
    """``res`` when the held-out losses ``after`` beat ``before`` (at the start θ0, w0) by
    more than ``confidence`` standard errors (``held_out_evidence``); otherwise a result at
    the start whose reason says that fine-tuning declined, and why."""
    enough, _, _, why = held_out_evidence(before, after, confidence)
    if enough:
        return res
    h0, last = res.history[0], res.history[-1]
    row = dict(h0, iter=res.n_iter, step=0.0, radius=last["radius"], predicted=0.0, accepted=True,
               fits=last["fits"], seconds=0.0, declined=True)  # back at the start
    return TuneResult(theta0, w0, res.history + [row], f"declined: {why} (search: {res.reason})",
                      res.n_iter)


def check_safeguards(est) -> None:
    """ValueError when early stopping is asked for without the guard it watches."""
    if est.n_iter_no_change is not None and not est.guard:
        raise ValueError("n_iter_no_change (early stopping) watches the held-out data: "
                         "it needs guard=True")


def box_around(problem, theta, lo, hi, max_move) -> None:
    """Give ``problem`` the θ box of ± ``max_move`` decades around ``theta`` within
    [log lo, log hi] (None: the problem keeps its box)."""
    if max_move is None:
        return
    move = max_move * math.log(10.0)
    problem.theta_lo = np.maximum(math.log(lo), theta - move)
    problem.theta_hi = np.minimum(math.log(hi), theta + move)


def settle_tuning(res, theta0, w0, guard, guard_asked, confidence):
    """After ``tune`` from (θ0, w0): when it moved, ``keep_if_evident`` on the guard's
    held-out losses at its start and at its end (``guard.losses``, ``guard.start``);
    a note when the guard was asked for but could hold no rows out. Returns (result,
    whether it moved)."""
    moved = bool(np.any(np.abs(res.theta - theta0) > 1e-12))
    if moved and guard is not None and confidence is not None:
        res = keep_if_evident(res, theta0, w0, guard.losses(guard.start), guard.losses(guard.state),
                              confidence)
        moved = bool(np.any(np.abs(res.theta - theta0) > 1e-12))
    if guard_asked and guard is None:
        res.reason += " (no guard: too few validation rows to hold any out)"
    return res, moved


def hold_out_rows(pair, fraction, random_state):
    """One (Xt, yt, Xv, yv) split into (search pair, guard pair): ``fraction`` of the
    validation rows held out (same training rows); (pair, None) when either part would
    have fewer than 2 rows."""
    Xt, yt, Xv, yv = pair
    n_g = int(round(fraction * len(yv)))
    if n_g < 2 or len(yv) - n_g < 2:
        return pair, None
    perm = np.random.default_rng(
        random_state if isinstance(random_state, (int, np.integer)) else 0).permutation(len(yv))
    gi, si = np.sort(perm[:n_g]), np.sort(perm[n_g:])
    return (Xt, yt, Xv[si], yv[si]), (Xt, yt, Xv[gi], yv[gi])


# -- the trust-region loop, one for every model ------------------------------------------------

@dataclass
class TuneResult:
    """The end of ``tune``: the final (θ, w), one history row per iteration that took a
    step or failed (plus the start), why it stopped, and ``n_iter`` = iterations run
    (auxiliary programs solved, the last one included when it predicted no decrease)."""

    theta: np.ndarray
    w: np.ndarray
    history: list
    reason: str
    n_iter: int

    def __repr__(self) -> str:
        """One line: iterations, stop reason, final validation loss, λ = exp(θ) (at most
        six shown) and the size of w; the history and w themselves are not printed."""
        theta = np.asarray(self.theta, float).ravel()
        lam = ", ".join(f"{v:.3g}" for v in np.exp(theta[:6])) + (", ..." if theta.size > 6 else "")
        last = self.history[-1].get("val_loss") if self.history else None
        val = "" if last is None else f", val_loss={float(last):.4g}"
        return (f"TuneResult(n_iter={self.n_iter}, reason={self.reason!r}{val}, lambda=[{lam}], "
                f"w_size={np.size(self.w)}, history={len(self.history)} rows)")


def tune(problem, theta, w, *, max_iter, radius, delta, norm, method, tol, ls_evals=4,
         min_radius=1e-6, max_radius=8.0, seconds_setup=0.0, guard=None, guard_tol=0.0,
         patience=2, n_iter_no_change=None, max_fits=None) -> TuneResult:
    """Auxiliary-program descent on (θ, w) by ``bilevel_mp.algorithms.descent``'s
    trust-region step and radius rule. ``problem`` gives program(θ, w), refit(θ, w0),
    val_loss(w), stationarity(θ, w) and the fit counter ``n_fits``.

    Safeguards against overfitting the validation data the steps are computed on (all off
    by default here; the estimators turn the guard on and add ``keep_if_evident``):

    guard
        An object with ``value`` (its loss at the current θ) and ``trial(θ, w) -> (loss,
        state)`` / ``commit(state)`` (w: the search's weights at θ): the loss of data the step never saw (held-out folds).
        A step the line search accepted is *rejected* when it raises the guard's loss above
        ``value·(1 + guard_tol)``; the radius is then divided by 4, and the search stops after
        ``patience`` rejections in a row.
    n_iter_no_change
        Early stopping on the guard: stop after that many accepted steps without a new best
        guard loss and return the iterate with the best guard loss (needs a guard).
    max_fits
        Stop once the problem (and guard) have done this many fits since the start; a
        line-search trial past the budget is not fitted (it counts as no decrease).
    """
    F = problem.val_loss(w)
    fits0 = problem.n_fits + (guard.n_fits if guard is not None else 0)

    def fits():
        return problem.n_fits + (guard.n_fits if guard is not None else 0)

    G = guard.value if guard is not None else None
    history = [dict(iter=0, val_loss=F, stationarity=problem.stationarity(theta, w), step=0.0,
                    radius=radius, predicted=0.0, accepted=True, fits=fits(),
                    seconds=seconds_setup, guard_loss=G)]
    rule = RadiusRule(radius, min_radius, max_radius)
    best = (G, theta, w, F, guard.state if guard is not None else None)
    reason, n_iter, rejected, stale = "max_iter", 0, 0, 0
    for k in range(1, max_iter + 1):
        if max_fits is not None and fits() - fits0 >= max_fits:
            reason = "fit budget spent"
            break
        n_iter = k
        t0 = time.perf_counter()
        prog = problem.program(theta, w)
        trial = {}

        def merit(t, d):
            if max_fits is not None and fits() - fits0 >= max_fits:
                return math.inf  # the budget is spent: no more fits
            th = theta + t * d.dx
            wt = problem.refit(th, w + t * d.dy)
            trial[t] = (th, wt)
            return problem.val_loss(wt)

        step = trust_region_step(prog, rule, delta, merit, F, norm, tol, method, max_evals=ls_evals)
        d = step.direction
        if d.status != "optimal":
            history.append(dict(iter=k, val_loss=F, stationarity=history[-1]["stationarity"],
                                step=0.0, radius=rule.radius, predicted=0.0, accepted=False,
                                fits=fits(), seconds=time.perf_counter() - t0, guard_loss=G))
            if step.collapsed:
                reason = f"auxiliary program {d.status}"
                break
            continue
        if step.stationary:
            reason = "no predicted decrease"
            break
        accepted, t_used = step.t > 0, step.t
        if accepted and guard is not None:
            th_new, w_new = trial[step.t]
            G_new, g_state = guard.trial(th_new, w_new)
            if G_new > G * (1.0 + guard_tol):  # the held-out part got worse: reject
                accepted, t_used = False, 0.0
                rejected += 1
                rule.radius = max(rule.radius / 4, min_radius)
                history.append(dict(iter=k, val_loss=F, stationarity=history[-1]["stationarity"],
                                    step=0.0, radius=step.radius, predicted=d.predicted,
                                    accepted=False, fits=fits(), seconds=time.perf_counter() - t0,
                                    guard_loss=G, rejected_guard_loss=G_new))
                if rejected >= patience:
                    reason = (f"held-out validation loss would rise ({G:.6g} -> {G_new:.6g}) "
                              f"in {rejected} steps in a row")
                    break
                continue
            rejected = 0
            guard.commit(g_state)
            G = G_new
        if accepted:
            theta, w = trial[step.t]
            F = step.search.value
        history.append(dict(iter=k, val_loss=F, stationarity=problem.stationarity(theta, w),
                            step=t_used, radius=step.radius, predicted=d.predicted,
                            accepted=accepted, fits=fits(),
                            seconds=time.perf_counter() - t0, guard_loss=G))
        if accepted and guard is not None and n_iter_no_change is not None:
            if G < best[0]:
                best, stale = (G, theta, w, F, guard.state), 0
            else:
                stale += 1
                if stale >= n_iter_no_change:
                    reason = f"early stopping (no better held-out loss in {stale} steps)"
                    break
        if step.collapsed:
            reason = "trust region collapsed (no decrease)"
            break
    if n_iter_no_change is not None and guard is not None and G > best[0]:
        _, theta, w, F, g_state = best  # back to the iterate with the best held-out loss
        guard.commit(g_state)
        history.append(dict(iter=n_iter, val_loss=F, stationarity=problem.stationarity(theta, w),
                            step=0.0, radius=rule.radius, predicted=0.0, accepted=True,
                            fits=fits(), seconds=0.0, guard_loss=best[0], restored=True))
    return TuneResult(theta, w, history, reason, n_iter)


# -- targets -----------------------------------------------------------------------------------

class RegressionTarget:
    """Real targets, standardised internally (mean and std of the y given to fit)."""

    _is_classifier = False

    def _encode_y(self, y):
        y = np.asarray(y, dtype=np.float64)
        self._y_mean, self._y_std = float(np.mean(y)), float(np.std(y)) or 1.0
        return (y - self._y_mean) / self._y_std

    def _encode_val(self, yv):
        return (np.asarray(yv, dtype=np.float64) - self._y_mean) / self._y_std


class ClassTarget:
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


def check_predict_X(est, X, attr):
    """X for predict: ``est`` fitted (``attr`` set), same features as in fit."""
    check_is_fitted(est, attr)
    return validate_data(est, X, dtype=np.float64, reset=False)
