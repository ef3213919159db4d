"""Hyperparameter fine-tuning (``nas_frontend.hpo``) against single-λ CV, grid and random search.

    nice -n 10 python benchmarks/hpo.py                          # diabetes, breast_cancer, wine x 5 seeds
    nice -n 10 python benchmarks/hpo.py --datasets digits --json results/hpo_digits.json
                                                                 # digits too (about 12 min here)

Protocol, the same for every method. Seed s splits a scikit-learn dataset into a
development set D (75%) and a test set (25%, stratified for classification); features are
standardised on D. Every method selects its penalties by the mean validation loss over
the *same* 5 folds of D (shuffled with seed s) and refits the selected model on all of D;
"cv loss" is that 5-fold loss of the selected penalties, "test loss" the loss of the
refitted model on the test set (MSE for diabetes, log-loss for the classifiers).

    fine-tuner        BilevelRidge / BilevelLogisticRegression(cv=folds): per-feature λ,
                      the auxiliary-LP descent on the 5-fold loss (its start: the row below)
    start (1 λ, 7)    the fine-tuner's starting point: best single λ of 7 on its path
    RidgeCV / LRCV    scikit-learn's single-λ CV over 15 values spanning the same box
    grid (2 groups)   GridSearchCV, features split in two groups by univariate F score on D
                      (top half, rest), L x L penalty grid, L = floor(sqrt(budget))
    random (per-ft)   per-feature λ drawn log-uniformly, ``budget`` draws

All penalties lie in the fine-tuner's box lam_bounds = [1e-5, 1e2] (per-sample units:
λ = Ridge alpha / n = 1 / (C n)). Grid and random search run scikit-learn's Ridge /
LogisticRegression on features rescaled by 1/sqrt(n λ_j), which is exactly the
per-feature penalty ½ Σ λ_j w_j² on the mean loss.

Counting fits, the same for all: a fit = one solve of a training problem at one penalty
vector (cold or warm-started, whatever the solver). A 5-fold evaluation is 5 fits; the
final refit on D is 1. The fine-tuner's count is the 7-point start path (35), every
line-search trial (5: a few Newton steps from the program's predicted weights, per fold)
and the refit. Grid and random search get the fine-tuner's count of the same seed:
budget = (fits - 1) // 5 configurations. RidgeCV/LRCV: 15 x 5 + 1 = 76. Derivative and
LP work is not counted as fits but is in the wall time ("s"). Results: results/hpo.json.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.base import BaseEstimator, TransformerMixin  # noqa: E402
from sklearn.feature_selection import f_classif, f_regression  # noqa: E402
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, Ridge, RidgeCV  # noqa: E402
from sklearn.metrics import log_loss, mean_squared_error  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nas_frontend.hpo import BilevelLogisticRegression, BilevelRidge  # noqa: E402

DATASETS = {"diabetes": "regression", "breast_cancer": "classification", "wine": "classification",
            "digits": "classification"}
LAM_BOUNDS = (1e-5, 1e2)
K = 5
METHODS = ("fine-tuner", "start (1 λ, 7)", "RidgeCV / LRCV", "grid (2 groups)", "random (per-ft)")


class PenaltyScale(TransformerMixin, BaseEstimator):
    """X_j / sqrt(n λ_j) (n = rows seen in fit): then Ridge(alpha=1) or
    LogisticRegression(C=1) minimises (a multiple of) mean loss + ½ Σ λ_j w_j²."""

    def __init__(self, lam=1.0):
        self.lam = lam

    def fit(self, X, y=None):
        self.n_ = X.shape[0]
        return self

    def transform(self, X):
        return X / np.sqrt(self.n_ * np.asarray(self.lam, dtype=float))


def load(name, seed):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    cls = DATASETS[name] == "classification"
    Xd, Xt, yd, yt = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y if cls else None)
    sc = StandardScaler().fit(Xd)
    splitter = (StratifiedKFold if cls else KFold)(K, shuffle=True, random_state=seed)
    return cls, sc.transform(Xd), yd, sc.transform(Xt), yt, list(splitter.split(Xd, yd))


def test_loss(cls, model, X, y):
    if cls:
        return float(log_loss(y, model.predict_proba(X), labels=model.classes_))
    return float(mean_squared_error(y, model.predict(X)))


def run_seed(name, seed, max_iter):
    cls, Xd, yd, Xt, yt, folds = load(name, seed)
    p = Xd.shape[1]
    n_fold = np.mean([len(tr) for tr, _ in folds])
    Est = BilevelLogisticRegression if cls else BilevelRidge
    out = {}

    def record(method, model, cv_loss, fits, seconds):
        out[method] = dict(cv_loss=float(cv_loss), test_loss=test_loss(cls, model, Xt, yt),
                           fits=int(fits), seconds=float(seconds))

    for method, iters in (("fine-tuner", max_iter), ("start (1 λ, 7)", 0)):
        t0 = time.perf_counter()
        est = Est(cv=folds, max_iter=iters, lam_bounds=LAM_BOUNDS, random_state=seed).fit(Xd, yd)
        record(method, est, est.history_[-1]["val_loss"], est.n_fits_, time.perf_counter() - t0)
        if iters:
            out[method].update(stop=est.stop_reason_, iterations=est.n_iter_,
                               lambda_log10=np.round(np.log10(est.lambda_), 2).tolist())
    budget = max(1, (out["fine-tuner"]["fits"] - 1) // K)

    lam_grid = np.geomspace(*LAM_BOUNDS, 15)
    scoring = "neg_log_loss" if cls else "neg_mean_squared_error"
    t0 = time.perf_counter()
    if cls:
        base = LogisticRegressionCV(Cs=1.0 / (n_fold * lam_grid), cv=folds, scoring=scoring,
                                    max_iter=2000, l1_ratios=(0.0,), use_legacy_attributes=False)
        base.fit(Xd, yd)
        cv_loss = -float(np.max(np.mean(base.scores_, axis=0)))  # (folds, 1, Cs)
    else:
        base = RidgeCV(alphas=n_fold * lam_grid, cv=folds, scoring=scoring).fit(Xd, yd)
        cv_loss = -float(base.best_score_)
    record("RidgeCV / LRCV", base, cv_loss, lam_grid.size * K + 1, time.perf_counter() - t0)

    model = Pipeline([("scale", PenaltyScale()),
                      ("fit", LogisticRegression(C=1.0, max_iter=2000) if cls else Ridge(alpha=1.0))])
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")  # constant pixels in digits
        score = (f_classif if cls else f_regression)(Xd, yd)[0]
    top = np.argsort(-np.nan_to_num(score))[: math.ceil(p / 2)]
    L = max(1, math.isqrt(budget))
    levels = np.geomspace(*LAM_BOUNDS, L) if L > 1 else np.array([math.sqrt(LAM_BOUNDS[0] * LAM_BOUNDS[1])])
    rng = np.random.default_rng(seed)
    configs = {
        "grid (2 groups)": [np.where(np.isin(np.arange(p), top), a, b) for a in levels for b in levels],
        "random (per-ft)": [np.exp(rng.uniform(*np.log(LAM_BOUNDS), size=p)) for _ in range(budget)],
    }
    for method, lams in configs.items():
        t0 = time.perf_counter()
        gs = GridSearchCV(model, {"scale__lam": lams}, scoring=scoring, cv=folds, refit=True).fit(Xd, yd)
        record(method, gs, -gs.best_score_, len(lams) * K + 1, time.perf_counter() - t0)
    return out


def fmt(values, digits):
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["diabetes", "breast_cancer", "wine"],
                    choices=list(DATASETS))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--max-iter", type=int, default=15, help="fine-tuner iterations (default 15)")
    ap.add_argument("--json", default=str(ROOT / "results" / "hpo.json"))
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*(lbfgs failed to converge|max_iter).*")
    t_all = time.perf_counter()
    results, lines = {}, []
    lines.append("| dataset | method | cv loss | test loss | fits | s |")
    lines.append("|---|---|---|---|---|---|")
    for name in args.datasets:
        runs = []
        for seed in range(args.seeds):
            runs.append(run_seed(name, seed, args.max_iter))
            print(f"{name} seed {seed}: " + ", ".join(f"{m} {r['test_loss']:.4g}" for m, r in runs[-1].items()),
                  file=sys.stderr, flush=True)
        results[name] = runs
        digits = 1 if DATASETS[name] == "regression" else 4
        for m in METHODS:
            col = lambda key: [r[m][key] for r in runs]  # noqa: E731
            lines.append(f"| {name} | {m} | {fmt(col('cv_loss'), digits)} | {fmt(col('test_loss'), digits)} "
                         f"| {np.mean(col('fits')):.0f} | {fmt(col('seconds'), 2)} |")
    wins = {}
    for name, runs in results.items():
        wins[name] = sum(r["fine-tuner"]["test_loss"] < min(r[m]["test_loss"] for m in METHODS[2:])
                         for r in runs)
    table = "\n".join(lines)
    print(table)
    print("\nseeds where the fine-tuner's test loss beats the best of RidgeCV/LRCV, grid and random: "
          + ", ".join(f"{k} {v}/{args.seeds}" for k, v in wins.items()))
    wall = time.perf_counter() - t_all
    print(f"wall time {wall:.0f} s")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(dict(
        command="python benchmarks/hpo.py " + " ".join(sys.argv[1:] if argv is None else argv),
        machine=f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores",
        protocol=__doc__, max_iter=args.max_iter, lam_bounds=LAM_BOUNDS, folds=K,
        seeds=args.seeds, wall_seconds=wall, table=table, wins_vs_best_baseline=wins,
        results=results), indent=1))


if __name__ == "__main__":
    main()
