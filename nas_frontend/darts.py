"""DARTS (Liu, Simonyan & Yang, ICLR 2019), first and second order, on the supernets of
:mod:`models.spaces`, with the budget accounting of :mod:`nas_frontend.common`.

Each iteration takes one validation minibatch step on alpha and one training minibatch
step on the weights w (alternating, as in the paper's Algorithm 1):

* order 1: grad_alpha L_val(w, alpha);
* order 2: the unrolled gradient grad_alpha L_val(w', alpha) - xi * grad2_{alpha,w}
  L_train(w, alpha) . grad_w' L_val(w', alpha), with w' = w - xi * (momentum + grad_w
  L_train + wd * w) the virtual SGD step (xi = the current w learning rate) and the
  mixed product by central finite differences, eps = 0.01 / ||grad_w' L_val||
  (:func:`finite_difference_hvp`).

Budget: every forward/backward pass of a minibatch counts one batch: 2 per iteration for
order 1, 5 for order 2 (virtual step, validation gradient, two finite-difference
gradients, weight step).

Settings (:data:`DEFAULTS`). The paper's alpha optimiser is kept (Adam, betas (0.5,
0.999), weight decay 1e-3) but its learning rate is raised from 3e-4 to 3e-3: our
budgets are a few hundred iterations instead of the paper's ~20 000, and at 3e-4 alpha
would move by at most ~0.1. Weights: SGD momentum 0.9, weight decay 3e-4, gradient
clipping 5, lr 0.05 cosine-annealed to 0.001 over the budget (paper: 0.025 over 50
epochs of 390 steps; doubled for our shorter runs), batch 64 (paper 64).
The cosine schedule runs on the spent fraction of the budget (epochs or seconds, the
larger), so a run is deterministic when the budget is given in epochs only.

Resource budgets cannot be stated exactly in DARTS; as usual they become a penalty on the
expected cost, ``resource_weight * max(0, E[cost] / bound - 1)`` added to the alpha loss
(E[cost] is linear in the softmax probabilities, :meth:`expected_params`). Whether the
derived architecture meets the bound is reported in ``info["resource_ok"]``; a bound below
the cheapest architecture of the space is refused before the search, and so is a budget in
epochs below one iteration (:mod:`nas_frontend.checks`). A budget in seconds always gets one
iteration.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from .checks import check_budget_covers
from .common import (Budget, BudgetMeter, BudgetProgress, SearchResult, as_budget,
                     budget_fraction, check_resume_state, expected_cost, load_checkpoint,
                     save_checkpoint)
from .space import as_space, make_batches

DEFAULTS = dict(batch_size=64, w_lr=0.05, w_lr_min=0.001, w_momentum=0.9,
                w_weight_decay=3e-4, grad_clip=5.0, alpha_lr=3e-3, alpha_betas=(0.5, 0.999),
                alpha_weight_decay=1e-3, fd_r=0.01, resource_weight=1.0, checkpoint_every=25,
                log_every=1)
"""DARTS settings used here (see the module docstring for how they relate to the paper)."""


def finite_difference_hvp(loss_fn, weights, alpha, v, r: float = 0.01):
    """Mixed product grad2_{alpha,w} L . v by central differences (DARTS eq. 8):
    [grad_alpha L(w + eps v) - grad_alpha L(w - eps v)] / (2 eps), eps = r / ||v||.

    ``loss_fn()`` evaluates L at the current values of ``weights`` (a list of tensors that
    are modified in place and restored exactly); ``v`` matches ``weights``. Returns the
    product shaped like ``alpha``.
    """
    norm = torch.sqrt(sum((t.detach() ** 2).sum() for t in v))
    if norm == 0:
        return torch.zeros_like(alpha)
    eps = r / norm
    saved = [p.detach().clone() for p in weights]
    grads = []
    try:
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for p, p0, d in zip(weights, saved, v):
                    p.copy_(p0 + sign * eps * d)
            grads.append(torch.autograd.grad(loss_fn(), [alpha])[0])
    finally:
        with torch.no_grad():
            for p, p0 in zip(weights, saved):
                p.copy_(p0)
    return (grads[0] - grads[1]) / (2 * eps)


def darts_search(space, data: dict, budget: Budget, seed: int = 0, resource=None,
                 checkpoint=None, resume: bool = False, progress: bool = True, order: int = 2,
                 **kw) -> SearchResult:
    """DARTS on ``space`` with ``data`` (a :func:`models.data.load` dict) until ``budget``
    is spent; returns the derived (argmax) architecture.

    ``order``: 1 or 2. ``resource``: ``("params", bound)`` / ``"flops:N"`` -> penalty (see
    module docstring). ``checkpoint``: path written every ``checkpoint_every`` iterations
    and at the end; ``resume=True`` continues from it. Other keywords override
    :data:`DEFAULTS`.
    """
    sp = as_space(space, data)
    if order not in (1, 2):
        raise ValueError(f"DARTS order must be 1 or 2, got {order!r}")
    unknown = set(kw) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown DARTS settings {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    hp = {**DEFAULTS, **kw}
    budget = as_budget(budget)
    res = sp.check_resource(resource)
    method = f"darts{order}"
    loss_fn = data.get("loss") or F.cross_entropy

    torch.manual_seed(seed)
    net = sp.make_supernet()
    if data.get("device") is not None:            # a user's loaders on that device
        net.to(data["device"])
    alpha = net.arch_parameters()[0]
    weights = net.weight_parameters()
    w_opt = torch.optim.SGD(weights, lr=hp["w_lr"], momentum=hp["w_momentum"],
                            weight_decay=hp["w_weight_decay"])
    a_opt = torch.optim.Adam([alpha], lr=hp["alpha_lr"], betas=tuple(hp["alpha_betas"]),
                             weight_decay=hp["alpha_weight_decay"])
    train_b = make_batches(data, "train", hp["batch_size"], seed)
    val_b = make_batches(data, "val", hp["batch_size"], seed + 1)
    meter = BudgetMeter(budget, len(train_b))
    passes = {1: 2, 2: 5}[order]               # minibatch passes per iteration (docstring)
    check_budget_covers(method, budget, passes / len(train_b),
                        f"one {method} iteration: {passes} minibatch passes = "
                        f"{passes / len(train_b):.3g} epochs on {data['name']}")
    history: list[dict] = []
    it = 0
    ident = dict(method=method, space=sp.name, dataset=data["name"], seed=seed, resource=res,
                 settings={k: v for k, v in hp.items() if k not in ("checkpoint_every",
                                                                     "log_every")})

    def save():
        if checkpoint is not None:
            save_checkpoint(checkpoint, {
                **ident, "iter": it, "net": net.state_dict(), "w_opt": w_opt.state_dict(),
                "a_opt": a_opt.state_dict(), "train_b": train_b.state(),
                "val_b": val_b.state(), "meter": meter.state(), "history": history,
                "torch_rng": torch.get_rng_state()})

    state = load_checkpoint(checkpoint) if (resume and checkpoint is not None) else None
    if state is not None:
        check_resume_state(state, **ident)
        net.load_state_dict(state["net"])
        w_opt.load_state_dict(state["w_opt"])
        a_opt.load_state_dict(state["a_opt"])
        train_b.load_state(state["train_b"])
        val_b.load_state(state["val_b"])
        meter.load_state(state["meter"])
        history, it = state["history"], state["iter"]
        torch.set_rng_state(state["torch_rng"])

    def penalty():
        if res is None:
            return None
        cost = expected_cost(net, res[0], net.probabilities())
        return hp["resource_weight"] * torch.relu(cost / res[1] - 1.0)

    def set_lr():
        f = budget_fraction(meter)
        lr = hp["w_lr_min"] + 0.5 * (hp["w_lr"] - hp["w_lr_min"]) * (1 + math.cos(math.pi * f))
        for g in w_opt.param_groups:
            g["lr"] = lr
        return lr

    torch_seconds = 0.0
    with BudgetProgress(meter, method, progress) as bar:
        while it == 0 or not meter.exhausted():          # at least one iteration
            t0 = time.perf_counter()
            lr = set_lr()
            xt, yt = train_b.next()
            xv, yv = val_b.next()
            # --- architecture step -------------------------------------------------------
            if order == 1:
                val_loss = loss_fn(net(xv), yv)
                g_alpha = torch.autograd.grad(val_loss, [alpha])[0]
                meter.add_batches(1)
            else:
                val_loss, g_alpha = unrolled_alpha_grad(net, weights, alpha, w_opt, hp, lr,
                                                        xt, yt, xv, yv, loss_fn)
                meter.add_batches(4)
            pen = penalty()
            if pen is not None and pen.requires_grad and pen.item() > 0:
                g_alpha = g_alpha + torch.autograd.grad(pen, [alpha])[0]
            a_opt.zero_grad(set_to_none=True)
            alpha.grad = g_alpha.detach()
            a_opt.step()
            # --- weight step -------------------------------------------------------------
            train_loss = loss_fn(net(xt), yt)
            grads = torch.autograd.grad(train_loss, weights, allow_unused=True,
                                        materialize_grads=True)
            for p, g in zip(weights, grads):
                p.grad = g
            torch.nn.utils.clip_grad_norm_(weights, hp["grad_clip"])
            w_opt.step()
            meter.add_batches(1)
            it += 1
            torch_seconds += time.perf_counter() - t0
            if it % hp["log_every"] == 0:
                h = {"iter": it, "epochs": meter.epochs, "seconds": meter.seconds,
                     "train_loss": train_loss.item(), "val_loss": val_loss.item(), "lr": lr,
                     "probs": net.probabilities().detach().tolist()}
                if pen is not None:
                    h["penalty"] = pen.item()
                history.append(h)
            if it % hp["checkpoint_every"] == 0:
                save()
            bar.update(f"val loss {val_loss.item():.3f}  {'|'.join(net.derive())}")
    save()
    genotype = net.derive()
    info = {"order": order, "iterations": it, "settings": hp,
            "parameter_free": sp.is_parameter_free(genotype), **sp.report(genotype, res)}
    if res is not None:
        info["expected_cost"] = float(expected_cost(net, res[0], net.probabilities().detach()))
    return SearchResult(method=method, space=sp.name, dataset=data["name"], seed=seed,
                        genotype=tuple(genotype), epochs_used=meter.epochs,
                        seconds=meter.seconds, alpha=alpha.detach().tolist(),
                        history=history, torch_seconds=torch_seconds, info=info)


def unrolled_alpha_grad(net, weights, alpha, w_opt, hp, xi, xt, yt, xv, yv,
                        loss_fn=F.cross_entropy):
    """(L_val(w'), DARTS second-order alpha gradient) at the current w (restored on exit);
    ``xi``: the virtual step's learning rate, ``hp``: settings as :data:`DEFAULTS`,
    ``loss_fn(output, target)`` the training and validation loss."""
    # virtual step w' = w - xi * (momentum * buf + grad + wd * w), as in the DARTS code
    g = torch.autograd.grad(loss_fn(net(xt), yt), weights, allow_unused=True,
                            materialize_grads=True)
    saved = [p.detach().clone() for p in weights]
    with torch.no_grad():
        for p, gp in zip(weights, g):
            buf = w_opt.state.get(p, {}).get("momentum_buffer")
            step = gp + hp["w_weight_decay"] * p
            if buf is not None:
                step = step + hp["w_momentum"] * buf
            p.sub_(xi * step)
    try:
        val_loss = loss_fn(net(xv), yv)
        gv = torch.autograd.grad(val_loss, list(weights) + [alpha], allow_unused=True,
                                 materialize_grads=True)
    finally:
        with torch.no_grad():
            for p, p0 in zip(weights, saved):
                p.copy_(p0)
    gv_w, gv_alpha = gv[:-1], gv[-1]
    hvp = finite_difference_hvp(lambda: loss_fn(net(xt), yt), weights, alpha, gv_w,
                                hp["fd_r"])
    return val_loss.detach(), gv_alpha - xi * hvp
