"""Per-feature ridge penalties fine-tuned with the auxiliary descent LP (nas_frontend.hpo).

The diabetes data (10 features) plus 5 features of pure noise. With ``groups="feature"``
(one penalty per feature, on request) and the held-out guard off
(``guard=False``), the fine-tuner starts from RidgeCV's choice and moves all 15 penalties
and the weights (one weight vector per CV fold) together, lowering the 5-fold validation
MSE at every accepted step; the noise features end with large penalties. Better
validation loss need not mean better test loss: compare with RidgeCV at the end (this is
what the defaults are for: one group, within half a decade of RidgeCV's λ, and the
held-out guard). At the end, ``groups=2`` on request: the features with the larger and the
smaller coefficients at RidgeCV's λ get a penalty each.
"""

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from nas_frontend.hpo import BilevelRidge

X, y = load_diabetes(return_X_y=True)
rng = np.random.default_rng(0)
X = np.hstack([X, rng.normal(size=(X.shape[0], 5))])  # features 10-14 are noise
names = list(load_diabetes().feature_names) + [f"noise{i}" for i in range(5)]
X_dev, X_test, y_dev, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_dev)
X_dev, X_test = scaler.transform(X_dev), scaler.transform(X_test)

# upper level: mean validation MSE over 5 folds of the development data (cv=None would use
# one internal train/validation split instead); the model is refitted on all of X_dev
est = BilevelRidge(max_iter=30, cv=5, groups="feature", guard=False, max_move=None,
                   random_state=0).fit(X_dev, y_dev)
h = est.history_
print(f"validation MSE: start {h[0]['val_loss']:.1f} -> {h[-1]['val_loss']:.1f} "
      f"after {est.n_iter_} iterations ({est.stop_reason_}), {est.n_fits_} fits")
print("accepted steps lowered it every time:",
      all(b["val_loss"] < a["val_loss"] for a, b in zip(h, h[1:]) if b["accepted"]))
print("log10 λ per feature:")
for name, lam in zip(names, est.lambda_):
    print(f"  {name:8s} {np.log10(lam):6.2f}")
noise = est.lambda_[10:].min() > np.median(est.lambda_[:10])
print("every noise feature penalised more than the median real one:", noise)

ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(X_dev, y_dev)
print(f"test MSE: fine-tuned {mean_squared_error(y_test, est.predict(X_test)):.1f}, "
      f"RidgeCV (one λ) {mean_squared_error(y_test, ridge.predict(X_test)):.1f}")

# two groups ranked by coefficient size at RidgeCV's λ (each fold ranks on its own rows),
# guarded, within ± 0.5 decade
two = BilevelRidge(cv=5, groups=2, random_state=0).fit(X_dev, y_dev)
weak = [names[j] for j in np.flatnonzero(two.feature_group_ == 1)]
print(f"groups=2: groups of {np.bincount(two.feature_group_).tolist()} features, λ "
      f"{two.start_lambda_[0]:.3g} -> {', '.join(f'{v:.3g}' for v in two.lambda_)}, "
      f"moved={two.moved_} ({two.stop_reason_})")
print("weak group:", ", ".join(weak))
print(f"noise features in the weak group: {sum(f'noise{i}' in weak for i in range(5))} of 5 "
      f"(the weak group holds {len(weak)} of {len(names)} features)")
print(f"test MSE groups=2: {mean_squared_error(y_test, two.predict(X_test)):.1f}")
