"""Architecture search with steps from the auxiliary math program (Shukla, Sinha & Hamid):
x = alpha (architecture logits, upper level: validation loss), y = w (weights,
lower level: training loss + weight decay).

One iteration (:meth:`MPSearch.step`):

1. Linearise (:mod:`nas_frontend.linearize`) on a training minibatch (gradient of the
   training loss = the stationarity residual r0, Hessian products) and a validation
   minibatch (gradients of the objective w.r.t. alpha and w).
2. Reduce w to a k-dimensional subspace V (``basis="krylov"``: Lanczos on H_ww from the
   training gradient; ``"gradients"``: the last k training gradients) and solve, through
   :func:`bilevel_mp.algorithms.descent.solve_direction`, the program in (dalpha, dz),
   dw = V dz::

       min   g_alpha . dalpha + g_w . dw                         (linearised val loss)
       s.t.  | V^T (r0 + H_ww dw + H_wa dalpha) | <= delta_abs     (stationarity band)
             -A - alpha <= dalpha <= A - alpha                     (bounded logits)
             E(alpha) + grad E . dalpha <= B                       (optional resource row)
             ||(dalpha, dz)||_inf <= radius                        (LP; norm="2": QP)

   The program gets the Galerkin-reduced blocks (V^T H_ww V, V^T H_wa, V^T g_w, V^T r0;
   :meth:`~nas_frontend.linearize.ReducedBasis.reduced`), i.e. the DescentProgram with
   ``basis=V, test=V`` without its m-sized products. delta_abs = ``delta`` *
   ||V^T r0||_inf, so ``delta=1`` says the projected residual may not grow (to first
   order). E is the expected parameter count or FLOPs of the derived
   architecture, const + sum(coef * softmax(alpha)), linearised in alpha. If the bound is
   violated at alpha, the row asks for at most half of the decrease reachable inside the
   region, so the program stays feasible while moving towards the bound.
   ``basis="cg"`` eliminates dw instead: CG on H_ww q = g_w (val) gives the implicit
   hypergradient h = g_alpha - H_aw q; the program is in dalpha alone (objective
   h . dalpha, same bounds and resource row), and dw solves H_ww dw = -H_wa dalpha (CG
   again), so the linearised stationarity is kept exactly (up to CG accuracy).
3. Step length by :func:`~bilevel_mp.algorithms.descent.line_search` (backtracking from
   t = 1) on the validation loss of the same validation minibatch at
   (alpha + t dalpha, w + t dw); a trial whose expected cost exceeds
   max(B (1 + ``resource_slack``), E(alpha)) is rejected. (E is nonlinear in alpha: with
   no slack, trials along a binding linearised row are rejected and the region
   collapses; the slack, 1 % by default, lets the iterates slide along the bound, and
   the next program's row pulls a small excess back.) The trust region doubles after a
   full step, shrinks to t * radius after a shorter one and to radius / 4 after none
   (within [min_radius, max_radius]).
4. When the stationarity residual ||grad_w L_train|| (minibatch) exceeds
   ``refresh_factor`` x the reference (the residual measured after warm-up or after the
   last refresh), w is refreshed by ``refresh_steps`` Adam steps on training minibatches
   before the linearisation is rebuilt.

Before the first iteration, ``warmup_epochs`` epochs of Adam on w (alpha uniform). A budget
in epochs that ends before the first iteration (within the warm-up plus the passes reserved
for the final selection) is refused before the search, since the search would return the
uniform supernet's argmax (the empty cell ``none|none|none``); a budget in seconds that runs
out before it raises the same error after the fact (:mod:`nas_frontend.checks`).
Budget (:class:`~nas_frontend.common.BudgetMeter`): every minibatch pass counts one batch
-- gradients, every Hessian product (HVP or mixed product), every forward-only
line-search trial, every warm-up/refresh step.

Selecting the architecture at the end (``select``: ``"argmax"``, ``"average"``,
``"oneshot"``, ``"auto"``): :mod:`nas_frontend.mp_selection`. Settings and their defaults:
:mod:`nas_frontend.mp_settings`. Why the defaults are what they are: docs/nas.md, "Design
notes".
"""

from __future__ import annotations

import math
import time
from numbers import Real

import numpy as np
import torch

from bilevel_mp.algorithms.descent import DescentProgram, RadiusRule, trust_region_step
from .checks import check_mp_budget, no_mp_iteration
from .common import (BudgetMeter, BudgetProgress, SearchResult, as_budget, check_resume_state,
                     expected_cost, load_checkpoint, save_checkpoint)
from .linearize import Linearizer, cg_solve, gradient_basis, krylov_basis
from .mp_selection import ArchitectureSelection
from .mp_settings import DEFAULTS, check_settings, mp_resource
from .space import as_space, make_batches


class MPSearch(ArchitectureSelection):
    """State of an MP search and its iteration :meth:`step` (driven by :func:`mp_search`;
    ``benchmarks/nas_step_cost.py`` times single steps). Arguments as in mp_search."""

    def __init__(self, space, data: dict, seed: int = 0, resource=None, device=None,
                 **settings):
        self.sp = as_space(space, data)
        self.settings = c = check_settings(**settings)
        self.space, self.data, self.seed = self.sp.name, data, seed
        self.res = self.sp.check_resource(mp_resource(resource))
        self.rule = RadiusRule(c["radius"], c["min_radius"], c["max_radius"], floor=True)
        self.delta, self.basis, self.k = c["delta"], c["basis"], c["k"]
        self.refresh_steps, self.norm = c["refresh_steps"], c["norm"]
        self.alpha_bound, self.refresh_factor = c["alpha_bound"], c["refresh_factor"]
        self.cg_iters, self.damping, self.ls_evals = (c["cg_iters"], c["damping"],
                                                      c["line_search_evals"])
        self.resource_slack = c["resource_slack"]
        self.select = c["select"]
        if self.select == "auto":
            self.select = "argmax" if self.res is None else "oneshot"
        if self.select == "average" and self.res is not None:
            raise ValueError('mp_search: select="average" is for searches without a resource '
                             'budget; use "oneshot" or "argmax" with one')
        self.select_k = c["select_k"]
        torch.manual_seed(seed)
        self.model = self.sp.make_supernet()
        if len(self.model.arch_parameters()) != 1:
            raise ValueError("mp_search expects a supernet with one architecture tensor")
        self.lin = Linearizer(self.model, c["weight_decay"], device, c["hvp_mode"],
                              data.get("loss"))
        self.device = self.lin.device
        self.wp = torch.nn.Parameter(self.lin.w.clone())
        self.lin.w = self.wp.detach()             # shares storage: optimizer steps move it
        self.opt = torch.optim.Adam([self.wp], lr=c["lr"])
        to = self.lin.to_device
        self.train_b = make_batches(data, "train", c["batch_size"], seed, to)
        self.val_b = make_batches(data, "val", c["batch_size"], seed + 1, to)
        self.ref_residual: float | None = None
        self.memory: list = []                    # recent training gradients ("gradients")
        self.iteration = 0
        self.prob_sum = None                      # sum of the probabilities over iterations
        self.torch_seconds = self.solver_seconds = 0.0

    # -- architecture helpers ---------------------------------------------------------------
    def alpha_tensor(self, alpha=None):
        """The supernet's architecture tensor (edges/slots x ops) of flat ``alpha`` (default
        the current one), a view."""
        a = self.lin.alpha if alpha is None else alpha
        return next(iter(self.lin.a_layout.unflatten(a).values()))

    @property
    def radius(self) -> float:
        """The trust radius (``self.rule``, the radius rule shared with the bilevel methods)."""
        return self.rule.radius

    @radius.setter
    def radius(self, value: float) -> None:
        self.rule.radius = value

    def probabilities(self, alpha=None):
        return self.model.probabilities(self.alpha_tensor(alpha)).detach()

    def derive(self) -> tuple:
        return tuple(self.model.derive(self.alpha_tensor()))

    def derive_average(self) -> tuple:
        """Argmax of the probabilities averaged over the iterations so far (the last
        iterate's argmax before the first)."""
        if self.prob_sum is None:
            return self.derive()
        return tuple(self.model.derive(self.prob_sum.clamp_min(1e-30).log()))

    def incumbent(self) -> tuple:
        """What the search would return now, without the end-of-search selection passes."""
        return self.derive_average() if self.select == "average" else self.derive()

    def expected_cost(self, alpha=None, with_grad: bool = False):
        """E(alpha) of the resource (and its gradient w.r.t. flat alpha, on the CPU)."""
        kind = self.res[0]

        def E(a):
            probs = self.model.probabilities(self.alpha_tensor(a)).to(torch.float64)
            return expected_cost(self.model, kind, probs)

        a = (self.lin.alpha if alpha is None else alpha).detach().cpu()  # coefs are on CPU
        if not with_grad:
            with torch.no_grad():
                return float(E(a))
        g, val = torch.func.grad_and_value(E)(a)
        return float(val), g

    # -- weights -----------------------------------------------------------------------------
    def train_step(self, meter: BudgetMeter, grad=None) -> float:
        """One Adam step on w (alpha fixed); ``grad``: a training gradient at the current
        point (then no new pass is made). Returns the training loss (nan if given)."""
        loss = math.nan
        if grad is None:
            loss, grad, _ = self.lin.grads(self.train_b.next(), "train")
            meter.add_batches(1)
        self.wp.grad = grad
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return loss

    # -- one iteration -------------------------------------------------------------------------
    def step(self, meter: BudgetMeter) -> dict:
        """One MP iteration; returns its log entry (see :func:`mp_search`)."""
        t_start = time.perf_counter()
        lin = self.lin
        tb = self.train_b.next()
        curv = lin.curvature(tb)
        meter.add_batches(1)
        residual = float(curv.g_w.norm())
        refreshed = False
        if self.ref_residual is None:
            self.ref_residual = residual
        elif residual > self.refresh_factor * self.ref_residual and self.refresh_steps > 0:
            self.train_step(meter, curv.g_w)
            for _ in range(self.refresh_steps - 1):
                self.train_step(meter)
            curv = lin.curvature(self.train_b.next())
            meter.add_batches(1)
            residual = self.ref_residual = float(curv.g_w.norm())
            refreshed = True
        vb = self.val_b.next()
        val_loss, gv_w, gv_a = lin.grads(vb, "val")
        meter.add_batches(1)
        t_lin = time.perf_counter()

        alpha = lin.alpha
        lb = (-self.alpha_bound - alpha).cpu().double().numpy()
        ub = (self.alpha_bound - alpha).cpu().double().numpy()
        C_x = c = None
        E0 = None
        if self.res is not None:
            E0, gE = self.expected_cost(with_grad=True)
            gE = gE.cpu().numpy()
            box_lo, box_hi = np.maximum(lb, -self.radius), np.minimum(ub, self.radius)
            reachable = float(np.maximum(-gE * box_lo, -gE * box_hi).sum())
            C_x, c = gE[None, :], np.array([max(self.res[1] - E0, -0.5 * reachable)])
        np_ = lambda t: t.detach().cpu().double().numpy()  # noqa: E731
        cg_info = None
        if self.basis == "cg":
            q, info1 = cg_solve(curv, gv_w, self.cg_iters, self.damping)
            cg_info = {"adjoint": info1, "forward": None}
            h = gv_a - curv.apply(q)[1]
            prog = DescentProgram(grad_x=np_(h), grad_y=np.zeros(0), H_yy=np.zeros((0, 0)),
                                  H_yx=np.zeros((0, lin.n)), dx_lb=lb, dx_ub=ub, C_x=C_x, c=c)
            delta_abs = 0.0
        else:
            if self.basis == "krylov":
                B = krylov_basis(curv, self.k)
            else:
                self.memory = (self.memory + [curv.g_w.clone()])[-self.k:]
                B = gradient_basis(curv, self.memory)
            red = B.reduced(gv_w, curv.g_w)
            delta_abs = self.delta * max(float(np.abs(red["r0"]).max()), 1e-12)
            prog = DescentProgram(grad_x=np_(gv_a), **red, dx_lb=lb, dx_ub=ub, C_x=C_x, c=c)
        t_basis = time.perf_counter()
        bound = None if E0 is None else max(self.res[1] * (1 + self.resource_slack), E0)
        dw_of = {}

        def merit(t, d):
            if id(d) not in dw_of:
                da = torch.as_tensor(d.dx, dtype=alpha.dtype, device=self.device)
                if self.basis == "cg":
                    u = curv.apply(u=da)[0]
                    dw, cg_info["forward"] = cg_solve(curv, -u, self.cg_iters, self.damping)
                else:
                    dw = B.V @ torch.as_tensor(d.dy, dtype=lin.w.dtype, device=self.device)
                dw_of[id(d)] = (da, dw)
            da, dw = dw_of[id(d)]
            a_t = alpha + t * da
            if bound is not None and self.expected_cost(a_t) > bound:
                return math.inf
            meter.add_batches(1)
            return lin.value(vb, "val", lin.w + t * dw, a_t)

        step = trust_region_step(prog, self.rule, delta_abs, merit, val_loss, self.norm,
                                 max_evals=self.ls_evals)
        d = step.direction
        t_solved = t_basis + d.seconds_solver + d.seconds_products
        radius_used = step.radius
        t_step, new_val = step.t, val_loss
        n_trials = 0 if step.search is None else step.search.evaluations
        if t_step > 0:
            da, dw = dw_of[id(d)]
            new_val = step.search.value
            with torch.no_grad():
                self.wp.add_(t_step * dw)
            lin.alpha = (alpha + t_step * da).detach()
        meter.add_batches(curv.n_products)
        seconds = time.perf_counter() - t_start
        t_solver = d.seconds_solver
        self.torch_seconds += seconds - t_solver
        self.solver_seconds += t_solver
        self.iteration += 1
        probs = self.probabilities()
        self.prob_sum = probs.clone() if self.prob_sum is None else self.prob_sum + probs
        entry = {
            "iter": self.iteration, "epochs": meter.epochs, "seconds": meter.seconds,
            "train_loss": curv.loss, "val_loss": val_loss, "val_loss_after": new_val,
            "residual": residual, "refreshed": refreshed,
            "status": d.status, "elastic": d.elastic, "delta": delta_abs,
            "residual_linearised": d.residual, "radius": radius_used, "step": t_step,
            "predicted": t_step * d.predicted, "actual": new_val - val_loss,
            "products": curv.n_products, "line_search_trials": n_trials,
            "seconds_iteration": seconds,
            "seconds_torch": seconds - t_solver - d.seconds_products,
            "seconds_linearise": t_lin - t_start, "seconds_basis": t_basis - t_lin,
            "seconds_line_search": time.perf_counter() - t_solved,
            "seconds_program": d.seconds_products, "seconds_solver": t_solver,
            "genotype": list(self.derive()), "incumbent": list(self.incumbent()),
            "probs": probs.cpu().tolist(),
        }
        if cg_info is not None:
            entry["cg"] = cg_info
        if self.res is not None:
            entry["expected_cost"] = self.expected_cost()
        return entry

    # -- checkpoints -------------------------------------------------------------------------------
    def state(self) -> dict:
        self.lin.write_back()
        return {"w": self.wp.detach().cpu(), "alpha": self.lin.alpha.cpu(),
                "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "train_b": self.train_b.state(), "val_b": self.val_b.state(),
                "radius": self.radius, "ref_residual": self.ref_residual,
                "memory": [m.cpu() for m in self.memory], "iteration": self.iteration,
                "prob_sum": None if self.prob_sum is None else self.prob_sum.cpu(),
                "torch_seconds": self.torch_seconds, "solver_seconds": self.solver_seconds,
                "torch_rng": torch.get_rng_state()}

    def load_state(self, s: dict) -> None:
        with torch.no_grad():
            self.wp.copy_(s["w"].to(self.device))
        self.lin.alpha = s["alpha"].to(self.device)
        self.opt.load_state_dict(s["optimizer"])
        self.train_b.load_state(s["train_b"])
        self.val_b.load_state(s["val_b"])
        self.radius, self.ref_residual = s["radius"], s["ref_residual"]
        self.memory = [m.to(self.device) for m in s["memory"]]
        self.iteration = s["iteration"]
        self.prob_sum = None if s["prob_sum"] is None else s["prob_sum"].to(self.device)
        self.torch_seconds, self.solver_seconds = s["torch_seconds"], s["solver_seconds"]
        torch.set_rng_state(s["torch_rng"])


def mp_search(space: str, data: dict, budget, seed: int = 0, resource=None,
              radius: float = DEFAULTS["radius"], delta: float = DEFAULTS["delta"],
              basis: str = DEFAULTS["basis"], k: int = DEFAULTS["k"],
              refresh_steps: int = DEFAULTS["refresh_steps"], checkpoint=None,
              resume: bool = False, progress: bool = True, *, warmup_epochs: float = 2.0,
              device=None, **settings) -> SearchResult:
    """Architecture search on ``space`` (cell3, cell4, mlp) with ``data`` (a
    :func:`models.data.load` dict) until ``budget`` (a :class:`Budget`, a number of
    epochs, or a dict) is spent; see the module docstring for the iteration.

    ``resource``: ``{"kind": "params"|"flops", "max": B}`` (or ``("params", B)``,
    ``"params:B"``): a linearised constraint on the expected cost in every program, and
    the returned genotype meets it exactly. ``radius``: initial trust region (LP box on
    (dalpha, dz)); ``delta``: stationarity band relative to ||V^T grad_w L_train||_inf;
    ``basis``: ``"krylov"`` | ``"gradients"`` (k columns) | ``"cg"`` (implicit
    elimination of dw by CG); ``refresh_steps`` Adam steps on w when the training-gradient
    norm exceeds ``refresh_factor`` x its reference. ``warmup_epochs`` of weight
    training first (counted). ``device``: default CUDA when available, else CPU.

    Further settings (keywords, :data:`DEFAULTS`): ``batch_size``, ``norm`` ("inf": LP
    box region; "2": proximal QP), ``alpha_bound``, ``weight_decay`` (in the training
    loss), ``lr`` (Adam on w), ``refresh_factor``, ``min_radius``/``max_radius``,
    ``cg_iters``, ``damping``, ``hvp_mode``, ``line_search_evals`` (trials per search),
    ``resource_slack``, ``select`` ("auto" | "argmax" | "average" | "oneshot") and
    ``select_k`` (candidates of the one-shot selection; see
    :mod:`nas_frontend.mp_selection`).

    ``checkpoint``: path written after the warm-up, after every iteration and at the end
    (model, optimizer, minibatch RNG states, meter, history); ``resume=True`` continues
    from it identically (same trajectory; the budget may be larger).

    Returns a :class:`SearchResult` (method "mp"); ``history`` has one dict per
    iteration: train_loss, val_loss (before) and val_loss_after (validation minibatch),
    residual (||grad_w L_train||), residual_linearised (``max |V^T(...)|`` at the direction)
    and delta, step, radius, predicted and actual change of the validation loss,
    elastic, refreshed, products, seconds_torch / seconds_program / seconds_solver,
    genotype, probs (and expected_cost with a resource).
    """
    budget = as_budget(budget)
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, Real) \
            or not 0 <= warmup_epochs < math.inf:
        raise ValueError(f"mp_search: bad warmup_epochs = {warmup_epochs!r}")
    settings = check_settings(radius=radius, delta=delta, basis=basis, k=k,
                              refresh_steps=refresh_steps, **settings)
    s = MPSearch(space, data, seed, resource, device=device, **settings)
    res = s.res
    meter = BudgetMeter(budget, len(s.train_b))
    ident = dict(method="mp", space=s.space, dataset=data["name"], seed=seed,
                 resource=None if res is None else list(res),
                 settings={**settings, "warmup_epochs": warmup_epochs})
    history: list[dict] = []
    warmup_batches = int(round(warmup_epochs * len(s.train_b)))
    check_mp_budget(budget, warmup_epochs, warmup_batches, s.selection_batches(),
                    len(s.train_b))
    warmup_done = 0

    def save():
        if checkpoint is not None:
            save_checkpoint(checkpoint, {**ident, **s.state(), "meter": meter.state(),
                                         "history": history, "warmup_done": warmup_done})

    state = load_checkpoint(checkpoint) if (resume and checkpoint is not None) else None
    if state is not None:
        check_resume_state(state, **ident)
        s.load_state(state)
        meter.load_state(state["meter"])
        history, warmup_done = state["history"], state["warmup_done"]
    with BudgetProgress(meter, "mp", progress) as bar:
        t0 = time.perf_counter()
        while warmup_done < warmup_batches and not meter.exhausted():
            s.train_step(meter)
            warmup_done += 1
            if warmup_done % len(s.train_b) == 0 or warmup_done == warmup_batches:
                s.torch_seconds += time.perf_counter() - t0
                t0 = time.perf_counter()
                save()
                bar.update("warm-up")
        if warmup_done < warmup_batches:       # budget spent during the warm-up
            s.torch_seconds += time.perf_counter() - t0
        reserve = s.selection_batches()

        def search_exhausted():
            """Budget spent, counting the selection's passes as spent already (in seconds:
            at the mean seconds per pass so far)."""
            if meter.exhausted():
                return True
            if budget.epochs is not None and \
                    meter.epochs + reserve / meter.batches_per_epoch >= budget.epochs:
                return True
            return (budget.seconds is not None and meter.batches > 0
                    and meter.seconds * (1 + reserve / meter.batches) >= budget.seconds)

        while warmup_done >= warmup_batches and not search_exhausted():
            entry = s.step(meter)
            history.append(entry)
            save()
            bar.update(f"val {entry['val_loss']:.3f} step {entry['step']:.2g}  "
                       f"{'|'.join(entry['genotype'])}")
    save()
    if s.iteration == 0:                   # the seconds ran out first (epochs: refused above)
        raise no_mp_iteration(budget, meter, warmup_epochs, checkpoint)
    genotype, info = s.final_genotype(meter)
    info.update(iterations=s.iteration, settings=ident["settings"],
                **s.sp.report(genotype, res))
    if res is not None:
        info["expected_cost"] = s.expected_cost()
    return SearchResult(method="mp", space=s.space, dataset=data["name"], seed=seed,
                        genotype=tuple(genotype), epochs_used=meter.epochs,
                        seconds=meter.seconds, alpha=s.alpha_tensor().cpu().tolist(),
                        history=history, torch_seconds=s.torch_seconds,
                        solver_seconds=s.solver_seconds, info=info)
