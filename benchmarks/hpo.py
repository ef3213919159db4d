"""Hyperparameter fine-tuning (``nas_frontend.hpo``) as a step after a search (issue 18).

    nice -n 10 python benchmarks/hpo.py --seeds 50 51 52 53 54 55 56 57 58 59 --mlp  # the README's tables
    nice -n 10 python benchmarks/hpo.py --seeds 0 1 2 3 4 --max-move none  # settings chosen on 0-9, 30-49

Protocol, the same for every method. Seed s splits a data set into a development set D
(75%) and a test set (25%, stratified for classification) that no method sees; features
are standardised on D. Every method selects its penalty by the mean validation loss over
the *same* 5 folds of D (shuffled with seed s) and refits on all of D; "test" is the loss of
that model on the test set (MSE for regression, log-loss for classification).

Starts (one λ each, ``S`` configurations = S x 5 fits):
    grid     one λ per decade of the box [1e-5, 1e2] (S = 8)
    random   S = 8 λ drawn log-uniformly (seed s)
    *CV      RidgeCV / LogisticRegressionCV over 15 log-spaced λ (S = 15): the estimators'
             default start
    TPE      optuna's TPESampler, S = 8 trials (seed s); only where optuna is installed

Fine-tuning: ``BilevelRidge`` / ``BilevelLogisticRegression(cv=folds, lam0=start)`` with
their defaults: one λ, a box of ± 0.5 decade around the start (``max_move``), the
held-out-fold guard (steps computed on 3 folds, accepted only if the other 2 do not get
worse) and the evidence rule (the result is kept only if the held-out rows' loss fell from
the start by more than ``confidence`` = 1 standard error). The box was chosen on seeds 0-9
and 30-49 among 0.5, 1 decade and none, with one, two and three penalty groups and
confidence off, 0.5, 1, 1.5 and 2 (``--groups 2``: two groups, each fold ranking the
features by coefficient size at the start on its own training rows).
``max_fits`` = the rest of the budget. Budget: B = 30
configurations x 5 folds for every method; "search alone" is the same search given all of
B (30 grid values, 30 random draws, 30 TPE trials, RidgeCV/LRCV over 30 values), so a
start + fine-tuning never gets more fits than the search it is compared with (the final
refit on D, 1 fit, not counted). A fit = one solve of a training problem at one penalty.
"moved": seeds where fine-tuning moved λ at all (the rest: it declined; reasons in the
JSON). ``--mlp`` adds a torch MLP (16 tanh units, one weight decay per layer) on
breast_cancer and diabetes: the best single weight decay of a 6-value grid on one
train/validation split of D, fine-tuned per layer from it (its guard: part of the validation
rows), against the 12-value grid alone; seconds per fit reported. Data sets: diabetes,
breast_cancer, wine, digits (binary: odd vs even digit), and two generated locally (make_regression, make_classification; the seed fixes them).
Results: results/hpo.json (--json).
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
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, Ridge, RidgeCV  # noqa: E402
from sklearn.metrics import log_loss, mean_squared_error  # noqa: E402
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nas_frontend.hpo import BilevelLogisticRegression, BilevelRidge  # noqa: E402

try:
    import optuna  # optional: the TPE start
except ImportError:
    optuna = None

DATASETS = {"diabetes": "regression", "breast_cancer": "classification", "wine": "classification",
            "digits": "classification", "make_regression": "regression",
            "make_classification": "classification"}
LAM_BOUNDS = (1e-5, 1e2)
K = 5
BUDGET = 30  # configurations (x K fits) for every method
STARTS = {"grid": 8, "random": 8, "*CV": 15, "TPE": 8}
ROUND_OFF = 1e-9  # relative: a test-loss change below it is the solver's round-off, not a change


def load(name, seed):
    if name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        y = y % 2
    elif name == "make_regression":
        X, y = datasets.make_regression(n_samples=200, n_features=60, n_informative=10, noise=20.0,
                                        effective_rank=15, random_state=seed)
    elif name == "make_classification":
        X, y = datasets.make_classification(n_samples=300, n_features=40, n_informative=6,
                                            n_redundant=6, flip_y=0.05, random_state=seed)
    else:
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


def sklearn_cv(cls, Xd, yd, folds, lams, n_fold):
    """The λ (per-sample units) RidgeCV / LogisticRegressionCV pick among ``lams``."""
    lams = np.asarray(lams, dtype=float)
    if cls:
        est = LogisticRegressionCV(Cs=1.0 / (n_fold * lams), cv=folds, scoring="neg_log_loss",
                                   max_iter=5000, tol=1e-8, l1_ratios=(0.0,), refit=False,
                                   use_legacy_attributes=False).fit(Xd, yd)
        return 1.0 / (n_fold * float(np.ravel(est.C_)[0]))
    est = RidgeCV(alphas=n_fold * lams, cv=folds, scoring="neg_mean_squared_error").fit(Xd, yd)
    return float(est.alpha_) / n_fold


def tpe(cls, Xd, yd, folds, n_trials, n_fold, seed):
    """Optuna TPE over log λ; objective = mean fold loss of sklearn's Ridge / LogisticRegression."""
    def cv_loss(lam):
        losses = []
        for tr, va in folds:
            if cls:
                m = LogisticRegression(C=1.0 / (n_fold * lam), max_iter=5000, tol=1e-8).fit(Xd[tr], yd[tr])
                losses.append(log_loss(yd[va], m.predict_proba(Xd[va]), labels=m.classes_))
            else:
                m = Ridge(alpha=n_fold * lam).fit(Xd[tr], yd[tr])
                losses.append(mean_squared_error(yd[va], m.predict(Xd[va])))
        return float(np.mean(losses))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(lambda t: cv_loss(t.suggest_float("lam", *LAM_BOUNDS, log=True)), n_trials=n_trials)
    return float(study.best_params["lam"])


def start_lambda(kind, S, cls, Xd, yd, folds, n_fold, seed):
    rng = np.random.default_rng(1000 + seed)
    if kind == "grid":
        return sklearn_cv(cls, Xd, yd, folds, np.geomspace(*LAM_BOUNDS, S), n_fold)
    if kind == "random":
        return sklearn_cv(cls, Xd, yd, folds, np.exp(rng.uniform(*np.log(LAM_BOUNDS), size=S)), n_fold)
    if kind == "*CV":
        return sklearn_cv(cls, Xd, yd, folds, np.geomspace(*LAM_BOUNDS, S), n_fold)
    return tpe(cls, Xd, yd, folds, S, n_fold, seed)


def run_seed(name, seed, settings, starts):
    cls, Xd, yd, Xt, yt, folds = load(name, seed)
    n_fold = float(np.mean([len(tr) for tr, _ in folds]))
    Est = BilevelLogisticRegression if cls else BilevelRidge
    out = {}
    for kind in starts:
        S = STARTS[kind]
        t0 = time.perf_counter()
        lam = start_lambda(kind, S, cls, Xd, yd, folds, n_fold, seed)
        t_start = time.perf_counter() - t0
        start = Est(cv=folds, lam0=lam, max_iter=0, lam_bounds=LAM_BOUNDS).fit(Xd, yd)
        t0 = time.perf_counter()
        ft = Est(cv=folds, lam0=lam, lam_bounds=LAM_BOUNDS, max_fits=(BUDGET - S) * K,
                 **settings).fit(Xd, yd)
        t_ft = time.perf_counter() - t0
        lam_full = start_lambda(kind, BUDGET, cls, Xd, yd, folds, n_fold, seed)
        alone = Est(cv=folds, lam0=lam_full, max_iter=0, lam_bounds=LAM_BOUNDS).fit(Xd, yd)
        out[kind] = dict(start=test_loss(cls, start, Xt, yt), finetuned=test_loss(cls, ft, Xt, yt),
                         alone=test_loss(cls, alone, Xt, yt), moved=ft.moved_,
                         stop=ft.stop_reason_, lam_start=lam, lam_finetuned=ft.lambda_.tolist(),
                         fits_start=S * K, fits_finetune=ft.n_fits_ - K - 1,
                         seconds_start=t_start, seconds_finetune=t_ft)
        if kind == "*CV":
            pf = Est(cv=folds, lam0=lam, lam_bounds=LAM_BOUNDS, max_fits=(BUDGET - S) * K,
                     **{**settings, "groups": "feature"}).fit(Xd, yd)
            out["*CV per-feature"] = dict(start=out[kind]["start"], finetuned=test_loss(cls, pf, Xt, yt),
                                          alone=out[kind]["alone"], moved=pf.moved_,
                                          stop=pf.stop_reason_, fits_finetune=pf.n_fits_ - K - 1)
    return out


MLP_DATASETS = ("breast_cancer", "diabetes")
MLP_GRID = (6, 12)  # start: the best of 6 weight decays; search alone: of 12


def run_mlp_seed(name, seed, settings):
    """A torch MLP (one hidden layer of 16 tanh units): the best single weight decay of a
    grid on one train/validation split of D, then per-layer weight decays fine-tuned from
    it on the same split (its guard holds out part of the validation rows). Budget in fits:
    the grid's 6 + fine-tuning's refits (each ≤ ``fit_steps`` L-BFGS steps) ≤ 12 = the
    12-value grid alone."""
    from nas_frontend.hpo import BilevelMLPClassifier, BilevelMLPRegressor

    cls, Xd, yd, Xt, yt, _ = load(name, seed)
    Xtr, Xva, ytr, yva = train_test_split(Xd, yd, test_size=0.25, random_state=seed,
                                          stratify=yd if cls else None)
    Est = BilevelMLPClassifier if cls else BilevelMLPRegressor
    common = dict(hidden_layer_sizes=(16,), lam_bounds=(1e-5, 1.0), random_state=seed)

    def grid(S):
        t0 = time.perf_counter()
        fits = [Est(lam0=lam, max_iter=0, **common).fit(Xtr, ytr, Xva, yva)
                for lam in np.geomspace(1e-5, 1.0, S)]
        vals = [test_loss(cls, f, Xva, yva) for f in fits]
        return fits[int(np.argmin(vals))], (time.perf_counter() - t0) / S

    start, sec_fit = grid(MLP_GRID[0])
    t0 = time.perf_counter()
    ft = Est(lam0=float(start.lambda_[0]), max_fits=MLP_GRID[1] - MLP_GRID[0] - 1, **common,
             **{k: v for k, v in settings.items() if k not in ("radius", "groups")}).fit(Xtr, ytr, Xva, yva)
    t_ft = time.perf_counter() - t0
    alone, _ = grid(MLP_GRID[1])
    return dict(start=test_loss(cls, start, Xt, yt), finetuned=test_loss(cls, ft, Xt, yt),
                alone=test_loss(cls, alone, Xt, yt), moved=ft.moved_, stop=ft.stop_reason_,
                lam_start=float(start.lambda_[0]), lam_finetuned=ft.lambda_.tolist(),
                fits_finetune=ft.n_fits_ - 1, seconds_per_fit=sec_fit, seconds_finetune=t_ft)


def fmt(v, digits):
    return f"{np.mean(v):.{digits}f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[50, 51, 52, 53, 54, 55, 56, 57, 58, 59])
    ap.add_argument("--radius", type=float, default=1.0)
    ap.add_argument("--guard-tol", type=float, default=0.0)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--confidence", default=None,
                    help="keep the fine-tuned λ only if the held-out loss fell by more than this "
                         "many standard errors (default: the estimators' own, 1; 'off': off)")
    ap.add_argument("--max-move", default=None,
                    help="decades around the start (default: the estimators' own, 0.5 for the "
                         "linear models and none for the MLPs; 'none': no box)")
    ap.add_argument("--groups", default=None,
                    help="penalty groups of the linear models (default: the estimators' own, one "
                         "λ; an int k: k groups ranked by coefficient size; 'one': one λ)")
    ap.add_argument("--no-guard", action="store_true")
    ap.add_argument("--early-stopping", type=int, default=None, help="n_iter_no_change")
    ap.add_argument("--mlp", action="store_true", help="also the torch MLP rows (per-layer weight decay)")
    ap.add_argument("--json", default=str(ROOT / "results" / "hpo.json"))
    args = ap.parse_args(argv)
    settings = dict(radius=args.radius, guard=not args.no_guard, guard_tol=args.guard_tol,
                    patience=args.patience)
    if args.confidence is not None or args.no_guard:
        settings["confidence"] = (None if args.no_guard or args.confidence == "off"
                                  else float(args.confidence))
    if args.early_stopping is not None and not args.no_guard:
        settings["n_iter_no_change"] = args.early_stopping
    if args.max_move is not None:
        settings["max_move"] = None if args.max_move == "none" else float(args.max_move)
    if args.groups is not None:
        settings["groups"] = None if args.groups == "one" else int(args.groups)
    starts = [k for k in STARTS if k != "TPE" or optuna is not None]
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*(lbfgs failed to converge|max_iter).*")
    t_all = time.perf_counter()
    results = {}
    rows = ["| data set | start | start's test | fine-tuned test | moved | search alone (B) |",
            "|---|---|---|---|---|---|"]
    verdict = {}
    for name in args.datasets:
        runs = []
        for seed in args.seeds:
            runs.append(run_seed(name, seed, settings, starts))
            print(f"{name} seed {seed}: " + ", ".join(
                f"{k} {r['start']:.4g}->{r['finetuned']:.4g}" for k, r in runs[-1].items()),
                file=sys.stderr, flush=True)
        results[name] = runs
        digits = 1 if DATASETS[name] == "regression" else 4
        for kind in list(starts) + ["*CV per-feature"]:
            col = lambda key: [r[kind][key] for r in runs]  # noqa: E731
            rows.append(f"| {name} | {kind} | {fmt(col('start'), digits)} | {fmt(col('finetuned'), digits)} "
                        f"| {sum(col('moved'))}/{len(runs)} | {fmt(col('alone'), digits)} |")
        for kind in starts:
            verdict.setdefault(kind, {})[name] = [float(np.mean([r[kind][key] for r in runs]))
                                                   for key in ("start", "finetuned")]
    mlp_rows = ["| data set | grid start (6) | fine-tuned per layer | moved | grid alone (12) "
                "| s per fit | s fine-tuning |", "|---|---|---|---|---|---|---|"]
    for name in MLP_DATASETS if args.mlp else ():
        import torch

        torch.set_num_threads(1)
        runs = []
        for seed in args.seeds:
            runs.append(run_mlp_seed(name, seed, settings))
            print(f"mlp {name} seed {seed}: {runs[-1]['start']:.4g}->{runs[-1]['finetuned']:.4g}",
                  file=sys.stderr, flush=True)
        results[f"mlp {name}"] = runs
        digits = 1 if DATASETS[name] == "regression" else 4
        col = lambda key: [r[key] for r in runs]  # noqa: E731
        mlp_rows.append(f"| {name} | {fmt(col('start'), digits)} | {fmt(col('finetuned'), digits)} "
                        f"| {sum(col('moved'))}/{len(runs)} | {fmt(col('alone'), digits)} "
                        f"| {fmt(col('seconds_per_fit'), 2)} | {fmt(col('seconds_finetune'), 1)} |")
        verdict.setdefault("MLP grid", {})[name] = [float(np.mean(col(key))) for key in ("start", "finetuned")]
    table = "\n".join(rows + ([""] + mlp_rows if args.mlp else []))
    print(table)
    print("\nacceptance (test loss, means over seeds; start -> fine-tuned):")
    for kind, sets in verdict.items():
        worse = [k for k, (a, b) in sets.items() if b > a + ROUND_OFF * abs(a)]
        lower = [k for k, (a, b) in sets.items() if b < a - ROUND_OFF * abs(a)]
        print(f"  from {kind}: never worse on {len(sets) - len(worse)} of {len(sets)} data sets"
              f" ({'worse on ' + ', '.join(worse) if worse else 'no exception'}); strictly lower on "
              f"{len(lower)}: {', '.join(lower) or '-'}")
    wall = time.perf_counter() - t_all
    print(f"seeds {args.seeds}, settings {settings}, optuna {'yes' if optuna else 'no'}, "
          f"wall time {wall:.0f} s")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(dict(
        command="python benchmarks/hpo.py " + " ".join(sys.argv[1:] if argv is None else argv),
        machine=f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores",
        protocol=__doc__, settings=settings, lam_bounds=LAM_BOUNDS, folds=K, budget=BUDGET,
        starts=STARTS, seeds=args.seeds, wall_seconds=wall, table=table, verdict=verdict,
        results=results), indent=1, default=str))


if __name__ == "__main__":
    main()
