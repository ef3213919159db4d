"""Summarise NAS ground-truth tables written by build.py.

    python benchmarks/nas_truth/summarize.py [CSV ...] [--top 10]

(default: the tables shipped in nas_frontend/tables/).

Per table: best / median / worst architecture (mean test accuracy over seeds), the
architecture a validation-based search picks, the collapse trap (parameter-free and dead
cells), Spearman rank correlation val-vs-test and seed-vs-seed, the seed spread of the
top 10 (by mean val accuracy), and the mean-over-seeds ranking.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nas_frontend.truth import TABLE_DIR, load_table  # noqa: E402


def _mean(a, key):
    return float(np.mean([s[key] for s in a["seeds"].values()]))


def summarize(path: Path, top: int = 10) -> str:
    archs = load_table(path)
    if not archs:
        return f"{path}: empty\n"
    any_a = next(iter(archs.values()))
    space = any_a["space"]
    seeds = sorted({s for a in archs.values() for s in a["seeds"]})
    full = {g: a for g, a in archs.items() if len(a["seeds"]) == len(seeds)}
    n_space = None
    try:
        from models import spaces  # torch: optional
        n_space = len(spaces.all_genotypes(space))
    except Exception:  # pragma: no cover - models not importable
        pass
    secs = [s["seconds"] for a in archs.values() for s in a["seeds"].values()]
    out = [f"== {path.name}: space {space}, dataset {any_a['dataset']}, {any_a['epochs']} "
           f"epochs, seeds {seeds}",
           f"   {len(archs)} architectures seen"
           + (f" of {n_space}" if n_space else "") + f", {len(full)} with every seed; "
           f"{sum(len(a['seeds']) for a in archs.values())} runs, "
           f"{np.mean(secs):.1f} s/run mean ({np.sum(secs) / 3600:.2f} process-hours)"]
    if not full:
        return "\n".join(out) + "\n"
    g_list = sorted(full)
    val = np.array([_mean(full[g], "val_acc") for g in g_list])
    test = np.array([_mean(full[g], "test_acc") for g in g_list])
    order = np.argsort(-test, kind="stable")
    med = order[len(order) // 2]

    def line(label, i):
        a = full[g_list[i]]
        per = " ".join(f"{a['seeds'][s]['test_acc']:.3f}" for s in seeds)
        return (f"   {label:<22s} {g_list[i]:<36s} params {a['params']:>6d}  "
                f"val {val[i]:.3f}  test {test[i]:.3f}  (per seed {per})")

    out += ["   -- mean test accuracy over seeds --",
            line("best", order[0]), line("median", med), line("worst", order[-1])]
    pick = int(np.argmax(val))
    out.append(line("picked by mean val", pick)
               + f"  -> regret {test[order[0]] - test[pick]:.3f}")
    if space.startswith("cell"):
        from models.cell import effective_genotype, is_dead, is_parameter_free  # torch: optional
        dead = [i for i, g in enumerate(g_list) if is_dead(g, space)]
        pf_eff = [i for i, g in enumerate(g_list)
                  if is_parameter_free(effective_genotype(g, space))]
        alive_pf = [i for i in pf_eff if i not in dead]
        conv = [i for i in range(len(g_list)) if i not in pf_eff]
        n_lit = sum(full[g]["param_free"] for g in g_list)
        out.append(f"   -- collapse trap: no convolution on a live path ({len(pf_eff)} archs; "
                   f"{n_lit} with no convolution at all) --")
        if alive_pf:
            b = max(alive_pf, key=lambda i: test[i])
            out.append(f"   parameter-free, not dead: {len(alive_pf)} archs, test "
                       f"{test[alive_pf].min():.3f}-{test[alive_pf].max():.3f} "
                       f"(mean {test[alive_pf].mean():.3f}); best {g_list[b]}")
        if dead:
            out.append(f"   dead (cell output identically 0): {len(dead)} archs, test "
                       f"{test[dead].min():.3f}-{test[dead].max():.3f}")
        if conv:
            out.append(f"   with a live convolution: {len(conv)} archs, test "
                       f"{test[conv].min():.3f}-{test[conv].max():.3f} "
                       f"(median {np.median(test[conv]):.3f})")
    rho = spearmanr(val, test)[0]
    out += ["   -- rank agreement (Spearman) --",
            f"   val vs test, mean over seeds: {rho:.3f}"]
    if space.startswith("cell"):
        conv_idx = [i for i, g in enumerate(g_list) if not full[g]["param_free"]]
        if len(conv_idx) > 2:
            out.append(f"   val vs test, conv archs only: "
                       f"{spearmanr(val[conv_idx], test[conv_idx])[0]:.3f}")
    if len(seeds) >= 2:
        for key in ("val_acc", "test_acc"):
            a0 = [full[g]["seeds"][seeds[0]][key] for g in g_list]
            a1 = [full[g]["seeds"][seeds[1]][key] for g in g_list]
            out.append(f"   seed {seeds[0]} vs seed {seeds[1]} ({key}): "
                       f"{spearmanr(a0, a1)[0]:.3f}; mean |diff| "
                       f"{np.mean(np.abs(np.subtract(a0, a1))):.4f}")
    vorder = np.argsort(-val, kind="stable")[:top]
    spreads = [np.ptp([full[g_list[i]]["seeds"][s]["test_acc"] for s in seeds]) for i in vorder]
    out += [f"   -- top {len(vorder)} by mean val: seed spread (max-min test acc over seeds) --",
            f"   mean {np.mean(spreads):.4f}, max {np.max(spreads):.4f}; test accuracies of the "
            f"top {len(vorder)} span {test[vorder].min():.3f}-{test[vorder].max():.3f}",
            f"   -- ranking by mean val accuracy over seeds (top {len(vorder)}) --"]
    for r, i in enumerate(vorder, 1):
        a = full[g_list[i]]
        per = " ".join(f"{a['seeds'][s]['test_acc']:.3f}" for s in seeds)
        out.append(f"   {r:>3d}. {g_list[i]:<36s} params {a['params']:>6d}  val {val[i]:.4f}  "
                   f"test {test[i]:.4f}  test rank {int(np.where(order == i)[0][0]) + 1:>3d}  "
                   f"(seeds {per})")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", nargs="*", type=Path,
                    default=[TABLE_DIR / "cell3.csv", TABLE_DIR / "mlp.csv",
                             TABLE_DIR / "cell4.csv"])
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args(argv)
    for p in args.csv:
        if not p.exists():
            print(f"== {p.name}: not built yet\n")
            continue
        print(summarize(p, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
