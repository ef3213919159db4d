"""Fine-tuning after an Optuna search (nas_frontend.hpo, issue 18). Needs optuna
(``pip install optuna``); writes nothing (in-memory study).

Optuna's TPE picks one ridge penalty on 5 folds of the development data; BilevelRidge then
starts from the study's best trial (``lam0``) and fine-tunes that λ together with the
weights on the same folds, within half a decade of it, a step accepted only when the two
held-out folds do not get worse. ``moved_`` / ``stop_reason_`` say whether and why it moved.
"""

import sys

import numpy as np

try:
    import optuna
except ImportError:  # an optional extra: say so and stop (nothing to show without it)
    print("examples/hpo_optuna.py needs optuna: pip install optuna")
    sys.exit(0)
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import KFold, train_test_split
from sklearn.preprocessing import StandardScaler

from nas_frontend.hpo import BilevelRidge

X, y = load_diabetes(return_X_y=True)
X_dev, X_test, y_dev, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_dev)
X_dev, X_test = scaler.transform(X_dev), scaler.transform(X_test)
folds = list(KFold(5, shuffle=True, random_state=0).split(X_dev))
n_train = np.mean([len(tr) for tr, _ in folds])


def cv_mse(trial):
    lam = trial.suggest_float("lam", 1e-5, 1e2, log=True)  # per-sample: Ridge alpha / n_train
    return np.mean([mean_squared_error(y_dev[va], Ridge(alpha=n_train * lam).fit(X_dev[tr], y_dev[tr])
                                       .predict(X_dev[va])) for tr, va in folds])


optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(cv_mse, n_trials=12)
lam0 = study.best_params["lam"]
print(f"Optuna TPE: best λ {lam0:.4g} (5-fold MSE {study.best_value:.1f}) after 12 trials")

start = BilevelRidge(cv=folds, lam0=lam0, max_iter=0).fit(X_dev, y_dev)
est = BilevelRidge(cv=folds, lam0=lam0, max_iter=20).fit(X_dev, y_dev)
print(f"fine-tuned λ {est.lambda_[0]:.4g}: moved={est.moved_}, stop: {est.stop_reason_}")
for name, model in (("start (Optuna's λ)", start), ("fine-tuned", est)):
    print(f"test MSE {name}: {mean_squared_error(y_test, model.predict(X_test)):.1f}")
