"""The search space of a user's ``nn.Module`` with :class:`~models.choice.Choice`
points: the supernet the gradient methods search (:class:`ChoiceSupernet`) and the space
object every searcher reads (:class:`ModuleSpace`).

A genotype is a tuple of op names, one per Choice in the model's module order
(:meth:`ModuleSpace.as_dict` gives the ``{choice name: op name}`` form). Costs are exact and
additive: the derived model's parameter count (or multiply-accumulates per sample, counted
by ``torch.utils.flop_counter`` on the input shape the model sees, FLOPs / 2) is a constant
plus the cost of each chosen op, so the expected cost of the supernet's mixture is linear in
the choice probabilities, as the MP program's resource row needs. A user resource function
gets ``{choice: {op: probability}}`` and must be affine in those probabilities; it is
checked at random points and refused otherwise.
"""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bilevel_mp.errors import BilevelInputError

from models.choice import Choice
from .common import RESOURCE_KINDS, parse_resource

MAX_ENUMERATED = 200_000
"""Spaces up to this many architectures can be enumerated (random, evolution, grid search)."""


def find_choices(model: nn.Module) -> list[tuple[str, str, Choice]]:
    """``(path, name, choice)`` of every Choice in ``model``, in module order; the name is
    the Choice's ``name`` or its path. Choices sharing a name are one choice (tied: a cell
    repeated through the network takes one genotype; each copy keeps its own weights) and
    must have the same op names. BilevelInputError for no Choice, tied Choices with
    different ops, or a Choice inside another Choice's op."""
    found = [(path, m) for path, m in model.named_modules() if isinstance(m, Choice)]
    if not found:
        raise BilevelInputError(
            f"{type(model).__name__} has no nas_frontend.Choice: put at least one Choice of "
            "candidate ops in the model to search over")
    out = []
    for path, m in found:
        inner = [p for p, c in found if p != path and p.startswith(path + ".") if path]
        if inner or (path == "" and len(found) > 1):
            raise BilevelInputError(f"Choice {path or '(the model)'} holds another Choice in "
                                    "its ops; nested choices are not supported")
        out.append((path, m.label or path or "choice", m))
    ops_of: dict[str, list[str]] = {}
    for path, name, m in out:
        if ops_of.setdefault(name, m.op_names) != m.op_names:
            raise BilevelInputError(
                f"Choices named {name!r} are tied (one choice) but have different ops: "
                f"{ops_of[name]} and {m.op_names} at {path}; give them different names")
    return out


def choice_rows(found) -> tuple[list[str], list[list[str]], list[int]]:
    """(choice names in first-seen order, their op names, the row of each found Choice)."""
    names: list[str] = []
    ops: list[list[str]] = []
    rows = []
    for _, name, m in found:
        if name not in names:
            names.append(name)
            ops.append(m.op_names)
        rows.append(names.index(name))
    return names, ops, rows


def reset_parameters(model: nn.Module) -> nn.Module:
    """Re-initialise every submodule that has ``reset_parameters`` (under the caller's
    torch seed); returns ``model``."""
    for m in model.modules():
        if m is not model and callable(getattr(m, "reset_parameters", None)):
            m.reset_parameters()
    return model


def replace_choices(model: nn.Module, genotype) -> nn.Module:
    """A deep copy of ``model`` with each Choice replaced by its op named in ``genotype``
    (one op per choice name, in :func:`choice_rows` order; tied Choices take the same)."""
    net = copy.deepcopy(model)
    found = find_choices(net)
    _, _, rows = choice_rows(found)
    for (path, _, choice), row in zip(found, rows):
        chosen = choice.ops[genotype[row]]
        if path == "":
            return chosen
        parent, _, attr = path.rpartition(".")
        setattr(net.get_submodule(parent) if parent else net, attr, chosen)
    return net


def _unique_params(modules) -> int:
    seen = {}
    for m in modules:
        for p in m.parameters():
            if p.requires_grad:
                seen[id(p)] = p.numel()
    return sum(seen.values())


def _macs(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops()) // 2


class ChoiceSupernet(nn.Module):
    """The softmax relaxation of a model with Choices: one architecture tensor ``alpha``
    (choices x the most ops; entries past a choice's op count are masked out), the
    interface of the built-in supernets (``arch_parameters``, ``weight_parameters``,
    ``probabilities``, ``derive``, ``extract``, ``expected_cost``). Its forward sets each
    Choice's mixture from ``probabilities()`` for the length of one call, so
    ``torch.func.functional_call`` with another ``alpha`` works."""

    def __init__(self, model: nn.Module, space: "ModuleSpace", alpha_init_std: float = 1e-3):
        super().__init__()
        self.net = model
        self.space = space
        found = find_choices(model)
        self._choices = list(zip(choice_rows(found)[2], [c for _, _, c in found]))
        n, K = space.shape
        valid = torch.zeros(n, K, dtype=torch.bool)
        for i, ops in enumerate(space.op_names):
            valid[i, :len(ops)] = True
        self.register_buffer("valid", valid, persistent=False)
        self.alpha = nn.Parameter(alpha_init_std * torch.randn(n, K))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha]

    def named_weight_parameters(self):
        return [(k, p) for k, p in self.named_parameters() if p is not self.alpha]

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for _, p in self.named_weight_parameters()]

    def probabilities(self, alpha: torch.Tensor | None = None) -> torch.Tensor:
        a = self.alpha if alpha is None else alpha
        return torch.softmax(a.masked_fill(~self.valid.to(a.device), -math.inf), dim=-1)

    def forward(self, *args, **kwargs):
        P = self.probabilities()
        try:
            for i, c in self._choices:
                c.mixture = P[i, :len(c.ops)]
            return self.net(*args, **kwargs)
        finally:
            for _, c in self._choices:
                c.mixture = None

    def derive(self, alpha: torch.Tensor | None = None) -> tuple[str, ...]:
        P = self.probabilities(alpha).detach()
        return tuple(ops[int(P[i].argmax())] for i, ops in enumerate(self.space.op_names))

    def extract(self, genotype=None) -> nn.Module:
        """The derived model (a copy, with the supernet's current weights)."""
        return replace_choices(self.net, self.derive() if genotype is None else genotype)

    def expected_cost(self, kind: str, probs: torch.Tensor) -> torch.Tensor:
        const, coef = self.space.coefficients(kind)
        return const + (torch.as_tensor(coef, dtype=probs.dtype, device=probs.device)
                        * probs).sum()

    def expected_params(self, probs):
        return self.expected_cost("params", probs)

    def expected_flops(self, probs):
        return self.expected_cost("flops", probs)


class ModuleSpace:
    """The search space of ``model`` (an ``nn.Module`` with Choices) for inputs like
    ``example`` (one batch of inputs, for the FLOP count and the shape check)."""

    def __init__(self, model: nn.Module, example: torch.Tensor, name: str | None = None):
        if not isinstance(model, nn.Module):
            raise BilevelInputError(f"search needs a torch nn.Module, got {type(model).__name__}")
        self.model = model
        self.name = name or type(model).__name__
        self.choice_names, self.op_names, _ = choice_rows(find_choices(model))
        self.example = example.detach().cpu()
        self._coef: dict[str, tuple[float, np.ndarray]] = {}
        self._effective: dict[tuple, tuple] = {}
        self._custom = None

    # -- genotypes ---------------------------------------------------------------------------
    @property
    def op_counts(self) -> list[int]:
        return [len(o) for o in self.op_names]

    @property
    def shape(self) -> tuple[int, int]:
        """(choices, the most ops of one choice): the architecture tensor's shape."""
        return len(self.op_names), max(self.op_counts)

    @property
    def size(self) -> int:
        return math.prod(self.op_counts)

    def validate(self, genotype) -> tuple[str, ...]:
        """Canonical tuple form of a genotype (tuple/list, ``"a|b"`` or a dict by choice
        name); ValueError naming what is wrong."""
        if isinstance(genotype, dict):
            missing = [n for n in self.choice_names if n not in genotype]
            extra = [k for k in genotype if k not in self.choice_names]
            if missing or extra:
                raise ValueError(f"genotype dict: missing choices {missing}, unknown {extra}")
            genotype = [genotype[n] for n in self.choice_names]
        g = tuple(genotype.split("|")) if isinstance(genotype, str) else tuple(genotype)
        if len(g) != len(self.op_names):
            raise ValueError(f"genotype has {len(g)} ops; the model has {len(self.op_names)} "
                             "choices")
        for name, op, ops in zip(self.choice_names, g, self.op_names):
            if op not in ops:
                raise ValueError(f"choice {name}: no op {op!r}; its ops are {ops}")
        return g

    def as_dict(self, genotype) -> dict[str, str]:
        return dict(zip(self.choice_names, self.validate(genotype)))

    def all_genotypes(self) -> list[tuple[str, ...]]:
        if self.size > MAX_ENUMERATED:
            raise BilevelInputError(
                f"the model's space has {self.size} architectures; random, evolution and grid "
                f"search enumerate at most {MAX_ENUMERATED}: use mp, darts1 or darts2")
        return [tuple(g) for g in itertools.product(*self.op_names)]

    def from_choice(self, choice) -> tuple[str, ...]:
        return tuple(ops[c] for ops, c in zip(self.op_names, choice))

    def columns(self) -> list[str]:
        return [f"op{j}" for j in range(self.shape[1])]

    def neighbours(self, genotype) -> list[tuple[str, ...]]:
        g = self.validate(genotype)
        return [g[:i] + (op,) + g[i + 1:] for i, ops in enumerate(self.op_names)
                for op in ops if op != g[i]]

    def effective(self, genotype) -> tuple[str, ...]:
        """``genotype`` with the op of every choice whose input is identically zero (on the
        example batch, in every copy and call: an op on a dead path, e.g. after ``none``
        edges) replaced by its cheapest op (fewest parameters, then FLOPs) that also gives
        zeros there: the same function for less. Equal to ``genotype`` when nothing is dead."""
        g = self.validate(genotype)
        if g not in self._effective:
            self._effective[g] = self._dead_ops_removed(g)
        return self._effective[g]

    def _dead_ops_removed(self, g: tuple) -> tuple:
        found = find_choices(self.model)
        _, _, rows = choice_rows(found)
        zero_in: dict[int, list[bool]] = {}
        zero_out: dict[int, list[list[bool]]] = {}

        def hook(k, row):
            def record(mod, args, kw):
                xs = [a for a in args if isinstance(a, torch.Tensor)]
                dead = bool(xs) and all(not a.any() for a in xs)
                zero_in.setdefault(row, []).append(dead)
                if dead:
                    zero_out.setdefault(row, []).append(
                        [not torch.as_tensor(op(*args, **kw)).any() for op in mod.ops.values()])
            return record

        hooks = [c.register_forward_pre_hook(hook(k, row), with_kwargs=True)
                 for k, (row, (_, _, c)) in enumerate(zip(rows, found))]
        mix = [c.mixture for _, _, c in found]
        was = self.model.training
        self.model.eval()
        try:
            for row, (_, _, c) in zip(rows, found):
                c.mixture = torch.zeros(len(c.ops))
                c.mixture[self.op_names[row].index(g[row])] = 1.0
            with torch.no_grad():
                self.model(self.example)
        finally:
            for h in hooks:
                h.remove()
            for (_, _, c), m in zip(found, mix):
                c.mixture = m
            self.model.train(was)
        out = list(g)
        _, pc = self.coefficients("params")
        _, fc = self.coefficients("flops")
        for row, deads in zero_in.items():
            if not (deads and all(deads)):
                continue
            ops = self.op_names[row]
            zeros = [all(calls[j] for calls in zero_out[row]) for j in range(len(ops))]
            if not zeros[ops.index(g[row])]:
                continue                        # the op makes something of zeros: not dead
            cands = [j for j in range(len(ops)) if zeros[j]]
            out[row] = ops[min(cands, key=lambda j: (pc[row, j], fc[row, j], j))]
        return tuple(out)

    def is_parameter_free(self, genotype) -> bool:
        """No chosen op has parameters (the DARTS collapse: only skip/pool/none)."""
        g = self.validate(genotype)
        _, coef = self.coefficients("params")
        return all(coef[i, ops.index(op)] == 0 for i, (op, ops) in
                   enumerate(zip(g, self.op_names)))

    # -- networks ----------------------------------------------------------------------------
    def make_supernet(self) -> ChoiceSupernet:
        """A fresh supernet (weights re-initialised under the caller's torch seed)."""
        return ChoiceSupernet(reset_parameters(copy.deepcopy(self.model)), self)

    def make_net(self, genotype) -> nn.Module:
        """The derived model of ``genotype``, freshly initialised (caller's torch seed)."""
        return reset_parameters(replace_choices(self.model, self.validate(genotype)))

    # -- costs -------------------------------------------------------------------------------
    def coefficients(self, kind: str) -> tuple[float, np.ndarray]:
        """(const, coef[choice, op]) with cost(genotype) = const + sum of its ops' coef."""
        if kind not in self._coef:
            self._coef[kind] = self._custom_coefficients() if kind == "custom" else \
                self._measure(kind)
        return self._coef[kind]

    def _measure(self, kind: str):
        """(const, coef) of params or FLOPs: coef[row, op] sums the op over the Choices of
        the row (tied copies) and over every call of each in one forward pass."""
        n, K = self.shape
        coef = np.zeros((n, K))
        found = find_choices(self.model)
        _, _, rows = choice_rows(found)
        if kind == "params":
            inside = {id(p) for _, _, c in found for p in c.parameters()}
            outside = {id(p): p.numel() for p in self.model.parameters()
                       if p.requires_grad and id(p) not in inside}
            for row, (_, _, c) in zip(rows, found):
                for j, op in enumerate(c.ops.values()):
                    coef[row, j] += _unique_params([op])
            return float(sum(outside.values())), coef
        calls: dict[int, list] = {}
        hooks = [c.register_forward_pre_hook(
            lambda mod, args, kw, k=k: calls.setdefault(k, []).append((args, kw)),
            with_kwargs=True) for k, (_, _, c) in enumerate(found)]
        was = self.model.training
        self.model.eval()
        x = self.example
        try:
            with torch.no_grad():
                self.model(x)
                for k, (row, (_, _, c)) in enumerate(zip(rows, found)):
                    for a, kw in calls.get(k, []):
                        for j, op in enumerate(c.ops.values()):
                            coef[row, j] += _macs(lambda: op(*a, **kw)) / len(x)
                g0 = tuple(o[0] for o in self.op_names)
                total = _macs(lambda: replace_choices(self.model, g0).eval()(x)) / len(x)
        finally:
            for h in hooks:
                h.remove()
            self.model.train(was)
        return total - float(coef[:, 0].sum()), coef

    def set_custom(self, fn) -> None:
        self._custom, self._coef = fn, {k: v for k, v in self._coef.items() if k != "custom"}

    def _custom_coefficients(self):
        """Coefficients of the user's resource function, checked to be affine."""
        fn = self._custom
        n, K = self.shape

        def call(P):
            d = {c: {op: P[i, j] for j, op in enumerate(ops)}
                 for i, (c, ops) in enumerate(zip(self.choice_names, self.op_names))}
            return torch.as_tensor(fn(d), dtype=torch.float64)

        def random_probs(gen):
            P = torch.zeros(n, K, dtype=torch.float64)
            for i, ops in enumerate(self.op_names):
                e = -torch.rand(len(ops), generator=gen, dtype=torch.float64).log()
                P[i, :len(ops)] = e / e.sum()       # uniform on the simplex
            return P

        P = torch.zeros(n, K, dtype=torch.float64)
        for i, ops in enumerate(self.op_names):
            P[i, :len(ops)] = 1.0 / len(ops)
        P.requires_grad_(True)
        try:
            val = call(P)
            (grad,) = torch.autograd.grad(val, [P], allow_unused=True, materialize_grads=True)
        except Exception as exc:
            raise BilevelInputError(f"the resource function failed on the choice probabilities "
                                    f"({type(exc).__name__}: {exc}); it gets "
                                    "{choice: {op: probability tensor}}") from None
        coef = grad.detach().numpy()
        const = float(val.detach()) - float((grad * P.detach()).sum())
        gen = torch.Generator().manual_seed(0)
        for _ in range(3):
            Q = random_probs(gen)
            got = float(call(Q))
            want = const + float((torch.as_tensor(coef) * Q).sum())
            if not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
                raise BilevelInputError(
                    f"the resource function is not linear in the choice probabilities "
                    f"({got:.6g} where the linear model gives {want:.6g}); MP's resource row "
                    "needs const + sum of per-op costs")
        return const, coef

    def cost(self, genotype, kind: str) -> float:
        g = self.validate(genotype)
        const, coef = self.coefficients(kind)
        value = const + sum(coef[i, ops.index(op)] for i, (op, ops) in
                            enumerate(zip(g, self.op_names)))
        return int(round(value)) if kind != "custom" else float(value)

    def cheapest(self, kind: str) -> tuple[float, tuple]:
        const, coef = self.coefficients(kind)
        g = tuple(ops[int(np.argmin(coef[i, :len(ops)]))] for i, ops in enumerate(self.op_names))
        return self.cost(g, kind), g

    def check_resource(self, resource):
        """``(kind, bound)`` of ``resource`` (``{"params": B}``, ``{"flops": B}``,
        ``(fn, B)`` for a user function, or None); BilevelInputError when no architecture
        meets the bound."""
        if resource is None:
            return None
        if isinstance(resource, (tuple, list)) and len(resource) == 2 and callable(resource[0]):
            bound = float(resource[1])
            if not math.isfinite(bound):
                raise BilevelInputError(f"resource bound must be finite, got {resource[1]!r}")
            self.set_custom(resource[0])
            res = ("custom", bound)
        elif isinstance(resource, tuple) and len(resource) == 2 and resource[0] == "custom":
            if self._custom is None:
                raise BilevelInputError("resource kind 'custom' needs (function, bound)")
            res = ("custom", float(resource[1]))
        else:
            try:
                res = parse_resource(resource)
            except ValueError as exc:
                raise BilevelInputError(f"{exc} (or (function, bound) for your own linear "
                                        f"cost; kinds: {', '.join(RESOURCE_KINDS)})") from None
        cost, g = self.cheapest(res[0])
        if cost > res[1] + 1e-9 * max(1.0, abs(res[1])):
            raise BilevelInputError(
                f"resource bound {res[0]} <= {res[1]:g} is below the cheapest architecture of "
                f"{self.name}: {cost:g} ({'|'.join(g)}); raise the bound to at least {cost:g}")
        return res

    def report(self, genotype, res) -> dict:
        out = {"params": self.cost(genotype, "params"), "flops": self.cost(genotype, "flops")}
        if res is not None:
            c = self.cost(genotype, res[0])
            out.update(resource=list(res), cost=c, resource_ok=c <= res[1] + 1e-9 * abs(res[1]))
        return out
