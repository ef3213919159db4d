"""Plots of a search (matplotlib, Agg backend): losses and accuracies over the search,
architecture probabilities per edge/slot over the search, and decision boundaries of
networks on 2-D data.

History entries are dicts; the x axis is ``epochs`` (budget spent) when present, else the
entry index. Recognised keys: ``train_loss``, ``val_loss``, ``val_loss_after``, ``loss``,
``penalty`` (left panel), ``val_acc``, ``best_val_acc``, ``train_acc`` (right panel),
``probs`` (edges x ops probabilities) or ``alpha`` (logits, softmax-ed here).

Importing this module needs neither torch nor matplotlib; row and column labels fall back
to ``row i`` / ``op j`` when :mod:`models` (torch) cannot be imported.
"""

from __future__ import annotations

import math

LOSS_KEYS = ("train_loss", "val_loss", "val_loss_after", "loss", "penalty")
ACC_KEYS = ("val_acc", "best_val_acc", "train_acc")


def pyplot():
    """``matplotlib.pyplot`` with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def alpha_labels(space: str, n_rows: int, n_cols: int) -> tuple[list[str], list[str]]:
    """Row (edge / slot) and column (op) names of a space's alpha matrix."""
    try:
        if space == "mlp":
            from models.mlp import SLOT_OPS  # torch: optional

            rows, cols = [f"slot {s}" for s in range(n_rows)], list(SLOT_OPS)
        elif space == "nb201":
            from models.nb201 import NB201_EDGES, NB201_OPS  # torch: optional

            rows, cols = [f"{i}->{j}" for i, j in NB201_EDGES], list(NB201_OPS)
        else:
            from models.cell import CELL_SPACES  # torch: optional

            sp = CELL_SPACES[space]
            rows, cols = [sp.edge_label(e) for e in range(sp.n_edges)], list(sp.ops)
        if len(rows) == n_rows and len(cols) == n_cols:
            return rows, cols
    except (ImportError, KeyError):
        pass
    return [f"row {i}" for i in range(n_rows)], [f"op {j}" for j in range(n_cols)]


def _x(history):
    if history and all("epochs" in h for h in history):
        return [h["epochs"] for h in history], "budget epochs spent"
    return list(range(len(history))), "iteration"


def plot_losses(history: list[dict], path, title: str = "") -> None:
    """Losses (left) and accuracies (right) over the search."""
    plt = pyplot()
    x, xlabel = _x(history)
    groups = [(k, [k2 for k2 in keys if any(k2 in h for h in history)])
              for k, keys in (("loss", LOSS_KEYS), ("accuracy", ACC_KEYS))]
    groups = [(k, keys) for k, keys in groups if keys] or [("loss", [])]
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 3.8), squeeze=False)
    for ax, (ylabel, keys) in zip(axes[0], groups):
        for k in keys:
            pts = [(xi, h[k]) for xi, h in zip(x, history)
                   if isinstance(h.get(k), (int, float)) and math.isfinite(h[k])]
            if len(pts) > 50:      # noisy minibatch values: faint raw, bold moving average
                xs, ys = zip(*pts)
                w = max(5, len(ys) // 25)
                line, = ax.plot(xs, ys, "-", lw=0.6, alpha=0.35)
                avg = [sum(ys[max(0, i - w + 1):i + 1]) / len(ys[max(0, i - w + 1):i + 1])
                       for i in range(len(ys))]
                ax.plot(xs, avg, "-", lw=1.5, color=line.get_color(), label=f"{k} (avg {w})")
            elif pts:
                ax.plot(*zip(*pts), ".-", label=k, lw=1)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if keys:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _probs(h):
    import numpy as np

    if "probs" in h:
        return np.asarray(h["probs"], dtype=float)
    a = np.asarray(h["alpha"], dtype=float)
    a = a - a.max(axis=-1, keepdims=True)   # -inf logits (masked choices) give 0
    e = np.exp(a)
    return e / e.sum(axis=-1, keepdims=True)


def plot_alpha(history: list[dict], space: str, path, title: str = "") -> None:
    """One panel per edge/slot: the probability of every op over the search."""
    import numpy as np

    plt = pyplot()
    hs = [h for h in history if "probs" in h or "alpha" in h]
    if not hs:
        raise ValueError("no 'probs' or 'alpha' entries in the history")
    x, xlabel = _x(hs)
    P = np.stack([_probs(h) for h in hs])           # (T, rows, ops)
    rows, cols = alpha_labels(space, P.shape[1], P.shape[2])
    ncol = min(3, P.shape[1])
    nrow = (P.shape[1] + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= P.shape[1]:
            ax.axis("off")
            continue
        for j, name in enumerate(cols):
            ax.plot(x, P[:, i, j], label=name, lw=1.2)
        ax.set_title(rows[i], fontsize=9)
        ax.set_ylim(0, 1)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_decision_boundaries(panels: list[tuple[str, object]], data: dict, path,
                             resolution: int = 200) -> None:
    """Decision regions of trained 2-D classifiers ``[(title, net), ...]`` with the test
    points on top (one panel each)."""
    import numpy as np
    import torch

    plt = pyplot()
    if data["n_features"] != 2:
        raise ValueError(f"decision boundaries need 2-D inputs, data has {data['n_features']}")
    x, y = data["x_test"].numpy(), data["y_test"].numpy()
    lo, hi = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = torch.as_tensor(np.c_[g0.ravel(), g1.ravel()], dtype=torch.float32)
    n = len(panels)
    ncol = min(4, n)
    nrow = (n + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.8 * ncol, 3.4 * nrow), squeeze=False)
    for ax, (name, net) in zip(axes.flat, panels):
        was = net.training
        net.eval()
        with torch.no_grad():
            pred = net(grid).argmax(dim=1).numpy().reshape(g0.shape)
        net.train(was)
        ax.contourf(g0, g1, pred, levels=np.arange(data["n_classes"] + 1) - 0.5,
                    cmap="coolwarm", alpha=0.35)
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=6, edgecolors="none")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def incumbents(history: list[dict], space: str) -> list[tuple[float, float, str, list | None]]:
    """The architecture a search would return at each logged point, as
    ``(epochs, seconds, "op|op|...", probs or None)``: the ``best_genotype`` of sampling
    searches, the ``incumbent`` (else ``genotype``) of MP entries, else the argmax of
    ``probs``/``alpha`` (DARTS). MP's incumbent is what it returns without a resource
    budget (its one-shot selection and budget repair happen only at the end). Used for
    regret-versus-budget curves."""
    import numpy as np

    from models.spaces import validate  # torch: optional

    out = []
    for i, h in enumerate(history):
        probs = None
        P = _probs(h) if ("probs" in h or "alpha" in h) else None
        if "best_genotype" in h:
            g = h["best_genotype"]
        elif "incumbent" in h:
            g = "|".join(h["incumbent"])
        elif "genotype" in h and not isinstance(h["genotype"], str):
            g = "|".join(h["genotype"])
        elif P is not None:
            _, cols = alpha_labels(space, P.shape[0], P.shape[1])
            g = "|".join(validate(space, [cols[j] for j in P.argmax(axis=1)]))
        else:
            continue
        if P is not None:
            probs = np.round(P, 4).tolist()
        out.append((float(h.get("epochs", i)), float(h.get("seconds", i)), g, probs))
    return out
