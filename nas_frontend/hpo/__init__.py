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

Issue 18: fine-tuning is a step *after* a search, as in its published use. The linear
estimators start by default from the single λ scikit-learn's ``RidgeCV`` /
``LogisticRegressionCV`` pick on the same folds (or from a given ``lam0``: a grid, random or
Optuna search's best), fine-tune one λ (``groups=None``; ``groups=2``: the features with
the larger and the smaller coefficients at the start apart, each CV fold ranking them on its
own training rows; per group or ``groups="feature"`` on request), and guard against
overfitting the validation folds: steps are computed on part of the folds and accepted only
if the held-out folds do not get worse (``guard``), a box of ± 0.5 decade around the start
(``max_move``), the result kept only if the held-out rows' loss fell by more than
``confidence`` (1) standard errors, optional early stopping on the held-out loss
(``n_iter_no_change``), a fit budget (``max_fits``); ``moved_`` and ``stop_reason_`` say
whether and why fine-tuning moved. ``base.tune`` holds these safeguards (off for the MLPs).

Estimators (scikit-learn API): ``BilevelRidge``, ``BilevelLogisticRegression`` (binary and
multinomial; numpy/scipy only) and ``BilevelMLPRegressor`` / ``BilevelMLPClassifier``
(small torch MLPs, weight decay per layer, matrix-free Hessian-vector products through
``torch.func`` and a block-Krylov basis of H_ww; torch is imported only there).

Modules: ``base`` (parameter constraints, splits, targets, the trust-region loop ``tune``),
``linear`` (ridge, logistic), ``linear_problem`` (``LinearHPOProblem``: folds, losses, the program), ``mlp`` (torch; loaded on first use of
``BilevelMLPRegressor``, ``BilevelMLPClassifier`` or ``MLPHPOProblem``, so importing this
package imports no torch; without torch they raise ``MissingExtraError`` naming the extra, as
the package does without scikit-learn). ``hypergradient`` and ``krylov_basis`` live in
``bilevel_mp.algorithms.krylov`` and are re-exported here.
"""

from __future__ import annotations

from bilevel_mp.algorithms.krylov import hypergradient, krylov_basis
from bilevel_mp.errors import MissingExtraError

try:
    import sklearn  # noqa: F401  (the estimators are scikit-learn estimators)
except ImportError:
    raise MissingExtraError("nas_frontend.hpo needs scikit-learn (not installed): "
                            "pip install 'bilevel-mp[nas]'") from None

from .linear import BilevelLogisticRegression, BilevelRidge, LinearHPOProblem  # noqa: E402

_TORCH_NAMES = ("BilevelMLPRegressor", "BilevelMLPClassifier", "MLPHPOProblem")

__all__ = ["BilevelRidge", "BilevelLogisticRegression", "BilevelMLPRegressor",
           "BilevelMLPClassifier", "LinearHPOProblem", "MLPHPOProblem", "hypergradient",
           "krylov_basis"]


def __getattr__(name):
    if name in _TORCH_NAMES:
        from . import mlp  # torch: optional

        return getattr(mlp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
