"""Cost of one MP iteration (torch part vs solver part) beside one DARTS second-order
iteration, on the same supernet, batch size and minibatch streams.

    python benchmarks/nas_step_cost.py                      # cell3, mlp, nb201 on CPU (+ GPU)
    python benchmarks/nas_step_cost.py --spaces cell3 --iters 12 --json step_cost.json

``nb201`` is the NAS-Bench-201-style space of :mod:`models.nb201`, written with the
search-space API (a user model with Choices, searched as ``nas_frontend.search`` does).

DARTS-2nd iteration: :func:`nas_frontend.darts.unrolled_alpha_grad` (virtual SGD step,
validation gradient at w', mixed product by central finite differences), the Adam step
on alpha and one SGD step on w -- what an iteration of ``darts_search(order=2)`` does.
MP iteration: :meth:`nas_frontend.mp_search.MPSearch.step` (linearisation, basis,
auxiliary LP through HiGHS, line search, w refresh when triggered), split into torch
(everything but the program), program assembly (numpy) and solver (HiGHS).

Both start from the same initial supernet (seed 0), draw their minibatches from streams
with the same seeds, and run alternately one iteration each, so that load on a shared
machine hits both alike; the first iteration of each is discarded; medians are
reported. One torch thread. CPU always, CUDA too when available (``--devices``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from models.data import load  # noqa: E402
from models.nb201 import NB201Net  # noqa: E402
from nas_frontend.common import Batches, Budget, BudgetMeter, one_thread  # noqa: E402
from nas_frontend.darts import DEFAULTS, unrolled_alpha_grad  # noqa: E402
from nas_frontend.module_space import ModuleSpace  # noqa: E402
from nas_frontend.mp_search import MPSearch  # noqa: E402
from nas_frontend.space import as_space  # noqa: E402


def space_of(name: str, data: dict):
    """The space object of a built-in name, or of ``nb201`` (a model with Choices)."""
    if name == "nb201":
        return ModuleSpace(NB201Net(num_classes=data["n_classes"]), data["x_train"][:2])
    return as_space(name, data)


def darts2_stepper(space, data: dict, device, seed: int = 0):
    """A closure doing one DARTS-2nd iteration (darts.DEFAULTS settings) per call."""
    hp = dict(DEFAULTS)
    torch.manual_seed(seed)
    net = space.make_supernet().to(device)
    alpha, weights = net.arch_parameters()[0], net.weight_parameters()
    w_opt = torch.optim.SGD(weights, lr=hp["w_lr"], momentum=hp["w_momentum"],
                            weight_decay=hp["w_weight_decay"])
    a_opt = torch.optim.Adam([alpha], lr=hp["alpha_lr"], betas=tuple(hp["alpha_betas"]),
                             weight_decay=hp["alpha_weight_decay"])
    mv = lambda *t: [u.to(device) for u in t]  # noqa: E731
    train_b = Batches(*mv(data["x_train"], data["y_train"]), hp["batch_size"], seed)
    val_b = Batches(*mv(data["x_val"], data["y_val"]), hp["batch_size"], seed + 1)

    def step() -> float:
        t0 = time.perf_counter()
        xt, yt = train_b.next()
        xv, yv = val_b.next()
        _, g_alpha = unrolled_alpha_grad(net, weights, alpha, w_opt, hp, hp["w_lr"],
                                         xt, yt, xv, yv)
        a_opt.zero_grad(set_to_none=True)
        alpha.grad = g_alpha.detach()
        a_opt.step()
        grads = torch.autograd.grad(F.cross_entropy(net(xt), yt), weights)
        for p, g in zip(weights, grads):
            p.grad = g
        torch.nn.utils.clip_grad_norm_(weights, hp["grad_clip"])
        w_opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    return step, hp["batch_size"]


def mp_stepper(space: str, data: dict, device, batch_size: int, seed: int = 0, **kw):
    """A closure doing one MP iteration per call; returns its log entry."""
    s = MPSearch(space, data, seed, None, device=device, **{**kw, "batch_size": batch_size})
    meter = BudgetMeter(Budget(epochs=1e9), len(s.train_b))

    def step() -> dict:
        entry = s.step(meter)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return entry

    return step


def measure(name: str, data: dict, device, iters: int, variants: list[dict]) -> list[dict]:
    space = space_of(name, data)
    darts, bs = darts2_stepper(space, data, device)
    mps = [mp_stepper(space, data, device, bs, **v) for v in variants]
    t_d, t_mp = [], [[] for _ in variants]
    for i in range(iters + 1):
        td = darts()
        entries = [f() for f in mps]
        if i == 0:
            continue
        t_d.append(td)
        for lst, e in zip(t_mp, entries):
            lst.append(e)
    med = statistics.median
    d2 = med(t_d)
    space = name
    rows = [{"space": space, "device": str(device), "method": "darts2", "seconds": d2,
             "torch": d2, "program": 0.0, "solver": 0.0, "ratio": 1.0, "products": 0}]
    for v, es in zip(variants, t_mp):
        tot = med([e["seconds_iteration"] for e in es])
        rows.append({
            "space": space, "device": str(device),
            "method": "mp " + " ".join(f"{k}={val}" for k, val in v.items()),
            "seconds": tot, "torch": med([e["seconds_torch"] for e in es]),
            "program": med([e["seconds_program"] for e in es]),
            "solver": med([e["seconds_solver"] for e in es]), "ratio": tot / d2,
            "products": med([e["products"] for e in es]),
            "mean_seconds": statistics.fmean([e["seconds_iteration"] for e in es]),
            "refreshes": sum(e["refreshed"] for e in es)})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spaces", nargs="+", default=["cell3", "mlp", "nb201"])
    ap.add_argument("--dataset", default="mnist1d")
    ap.add_argument("--iters", type=int, default=10, help="timed iterations per method")
    ap.add_argument("--devices", nargs="+", default=None,
                    help="default: cpu, and cuda when available")
    ap.add_argument("--k", type=int, nargs="+", default=[3, 6],
                    help="Krylov basis sizes (the default of mp_search is 3)")
    ap.add_argument("--hvp-modes", nargs="+", default=["rev-rev", "fwd-rev", "fd"])
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    args = ap.parse_args(argv)

    one_thread()
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    data = load(args.dataset, 0)
    variants = [{"basis": "krylov", "k": k, "hvp_mode": m}
                for m in args.hvp_modes for k in args.k]
    variants += [{"basis": "gradients", "k": args.k[0], "hvp_mode": args.hvp_modes[0]},
                 {"basis": "cg", "hvp_mode": args.hvp_modes[0]}]
    rows = []
    for dev in devices:
        for space in args.spaces:
            rows += measure(space, data, torch.device(dev), args.iters, variants)
    head = (f"{'space':6} {'device':6} {'method':40} {'s/iter':>7} {'torch':>7} "
            f"{'program':>8} {'solver':>7} {'HVPs':>5} {'x darts2':>8}")
    print(f"median seconds per iteration, {args.iters} iterations each, batch 64, "
          f"{args.dataset}, torch {torch.__version__}, 1 thread")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['space']:6} {r['device']:6} {r['method']:40} {r['seconds']:7.3f} "
              f"{r['torch']:7.3f} {r['program']:8.4f} {r['solver']:7.4f} "
              f"{r['products']:5.0f} {r['ratio']:8.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
