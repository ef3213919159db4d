"""Choosing the architecture an MP search returns (``select``; the mixin
:class:`ArchitectureSelection` of :class:`~nas_frontend.mp_search.MPSearch`).

``"argmax"``: the argmax genotype; with a resource budget, if it does not meet the budget,
the most probable architecture that does and has no op on a dead path (exact counts; the
probability of a genotype is the product of its per-edge/slot probabilities, summed over
the slot patterns that give the same MLP), and ``info["resource_repair"]`` says so.
``"average"``: the argmax of the architecture probabilities averaged over all iterations
(Polyak-Ruppert averaging of the noisy MP iterates; the last iterate's argmax is
``info["argmax_genotype"]``). ``"oneshot"``: the ``select_k`` most probable architectures
that meet the budget are each evaluated with the supernet's weights (architecture logits
set one-hot) on the whole validation set, and the one with the lowest validation loss is
returned; these passes are charged to the budget and reserved before the search stops.
``"auto"`` (default): ``"oneshot"`` with a resource budget, ``"argmax"`` without. The
resource row bounds the *expected* cost of the mixture, so under a budget the
probabilities alone rank the feasible discrete architectures poorly; why these defaults:
docs/nas.md, "Design notes".
"""

from __future__ import annotations

import heapq
import itertools
import math

import numpy as np
import torch

from .common import BudgetMeter
from .module_space import MAX_ENUMERATED


def most_probable(P: np.ndarray, counts):
    """``(probability, choice)`` of a product distribution (row i: the first
    ``counts[i]`` entries of ``P[i]``), most probable first, generated lazily (best-first
    over the per-row ranks; each choice once)."""
    order = [np.argsort(-P[i, :n], kind="stable") for i, n in enumerate(counts)]
    logp = [np.log(np.maximum(P[i, order[i]], 1e-300)) for i in range(len(counts))]
    start = (0,) * len(counts)
    heap = [(-sum(lp[0] for lp in logp), start, 0)]
    while heap:
        neg, ranks, last = heapq.heappop(heap)
        yield math.exp(-neg), tuple(int(order[i][r]) for i, r in enumerate(ranks))
        for i in range(last, len(counts)):
            if ranks[i] + 1 < counts[i]:
                child = ranks[:i] + (ranks[i] + 1,) + ranks[i + 1:]
                heapq.heappush(heap, (neg + logp[i][ranks[i]] - logp[i][ranks[i] + 1], child, i))


class ArchitectureSelection:
    """The end-of-search selection of :class:`~nas_frontend.mp_search.MPSearch`. The host
    class provides ``sp`` (the space object, :mod:`nas_frontend.space`), ``data``, ``res``
    (``(kind, bound)`` or None), ``select``,
    ``select_k``, ``model`` (the supernet), ``lin`` (its
    :class:`~nas_frontend.linearize.Linearizer`), ``val_b`` (validation
    :class:`~nas_frontend.common.Batches`) and the methods ``alpha_tensor``,
    ``probabilities``, ``derive`` and ``derive_average``."""

    def ranked(self, k: int | None = None, feasible_only: bool = True) -> list[tuple]:
        """The ``k`` most probable genotypes (all if None) meeting the resource budget (all
        genotypes without one, or with ``feasible_only=False``), as ``(probability,
        genotype, choice)``, most probable first; ``choice`` is the op index per
        edge/slot of the genotype's most probable pattern. Under a budget, cells with an
        op on a dead path (one leaving a node that only ``none`` edges reach) are left
        out: the same function is had for less, so they waste budget (the supernet cannot
        see this: its convolutions end in BatchNorm, which undoes the down-scaling a
        likely ``none`` applies to their input)."""
        P = self.probabilities().cpu().double().numpy()
        if getattr(self.sp, "size", 0) > MAX_ENUMERATED:
            return self._ranked_best_first(P, k, feasible_only)
        prob: dict[tuple, list] = {}
        for choice in itertools.product(range(P.shape[1]), repeat=P.shape[0]):
            p = float(np.prod(P[np.arange(P.shape[0]), choice]))
            if p > 0:
                geno = self.sp.from_choice(choice)
                entry = prob.setdefault(geno, [0.0, p, choice])
                entry[0] += p
                if p > entry[1]:
                    entry[1:] = [p, choice]
        out = [(p, geno, choice) for geno, (p, _, choice) in prob.items()
               if not feasible_only or self.res is None
               or self.sp.cost(geno, self.res[0]) <= self.res[1]]
        out.sort(key=lambda t: (-t[0], t[1]))
        if feasible_only and self.res is not None:
            live = self._live(out, k)
            out = live or out      # ops on dead paths spend budget on nothing: dominated
        return out if k is None else out[:k]

    def _live(self, ranked: list[tuple], k: int | None) -> list[tuple]:
        """The first ``k`` (all if None) entries of ``ranked`` with no op on a dead path
        (the space's ``effective`` genotype is the genotype itself)."""
        live = []
        for t in ranked:
            if self.sp.effective(t[1]) == t[1]:
                live.append(t)
                if k is not None and len(live) >= k:
                    break
        return live

    def _ranked_best_first(self, P, k, feasible_only) -> list[tuple]:
        """:meth:`ranked` on a space too large to enumerate (a user's model): genotypes in
        decreasing probability (:func:`most_probable`), the first ``k`` that meet the budget,
        looking at no more than :data:`MAX_ENUMERATED`."""
        if k is None:
            raise ValueError(f"ranking every genotype of a space of {self.sp.size} is not done")
        out = []
        for visited, (p, choice) in enumerate(most_probable(P, self.sp.op_counts), 1):
            geno = self.sp.from_choice(choice)
            if not feasible_only or self.res is None or (
                    self.sp.cost(geno, self.res[0]) <= self.res[1]
                    and self.sp.effective(geno) == geno):
                out.append((p, geno, choice))
            if len(out) >= k or visited >= MAX_ENUMERATED:
                break
        if not out and self.res is not None:      # the cheapest one always meets the budget
            _, geno = self.sp.cheapest(self.res[0])
            choice = tuple(ops.index(op) for ops, op in zip(self.sp.op_names, geno))
            out.append((float(np.prod(P[np.arange(len(choice)), choice])), geno, choice))
        return out

    def _val_chunks(self):
        return self.val_b.chunks()

    def selection_batches(self) -> int:
        """Minibatch passes that ``select="oneshot"`` spends (reserved from the budget)."""
        return self.select_k * len(self.val_b) if self.select == "oneshot" else 0

    def oneshot_loss(self, choice, meter: BudgetMeter | None = None) -> float:
        """Validation loss (whole validation set) of the supernet with its logits set
        one-hot to ``choice`` (op index per edge/slot) and its current weights."""
        A = torch.full_like(self.alpha_tensor(), -30.0)
        A[torch.arange(A.shape[0]), torch.as_tensor(choice)] = 30.0
        flat = self.lin.a_layout.flatten({self.lin.a_layout.names[0]: A})
        chunks = self._val_chunks()
        total = sum(self.lin.value(b, "val", self.lin.w, flat) * len(b[1]) for b in chunks)
        if meter is not None:
            meter.add_batches(len(chunks))
        return total / sum(len(b[1]) for b in chunks)

    def final_genotype(self, meter: BudgetMeter | None = None) -> tuple[tuple, dict]:
        """The architecture returned and its ``info`` entries (see the module docstring)."""
        g = self.derive()
        info = {"argmax_genotype": list(g), "resource_repair": None, "select": self.select}
        if self.select == "average":
            return self.derive_average(), info
        if self.select == "oneshot":
            cands = self.ranked(self.select_k)
            losses = ([math.nan] if len(cands) == 1 else
                      [self.oneshot_loss(choice, meter) for _, _, choice in cands])
            i = 0 if len(cands) == 1 else int(np.argmin(losses))
            info["oneshot"] = [{"genotype": "|".join(geno), "probability": p, "val_loss": v}
                               for (p, geno, _), v in zip(cands, losses)]
            return cands[i][1], info
        if self.res is None:
            return g, info
        kind, bound = self.res
        cost = self.sp.cost(g, kind)
        if cost <= bound:
            return g, info
        p_best, best, _ = self.ranked(1)[0]
        info["resource_repair"] = (
            f"argmax {'|'.join(g)} has {cost} {kind} > {bound:g}; returned the most probable "
            f"feasible architecture {'|'.join(best)} (probability {p_best:.3g}, "
            f"{self.sp.cost(best, kind)} {kind})")
        return best, info
