"""First- and second-order information of the NAS bilevel problem (``torch.func`` / autograd).

x = alpha (architecture logits, upper level: validation loss), y = w (weights, lower
level: training loss + weight_decay/2 ||w||^2). Everything is a function of two *flat*
vectors ``w`` (m) and ``alpha`` (n) (:class:`FlatLayout` maps them to the supernet's
parameter dicts for ``functional_call``), so gradients and products come out flat.

* :meth:`Linearizer.grads` -- loss and both gradients on a minibatch (one reverse pass).
* :meth:`Linearizer.curvature` -- a :class:`Curvature`: the training gradient at a point
  and matrix-free products with the whole training Hessian,
  ``apply(v, u) = (H_ww v + H_wa u, H_aw v + H_aa u)``; so ``apply(v)`` gives the HVP
  H_ww v and the mixed product H_aw v = H_wa^T v in one go, ``apply(u=u)`` gives H_wa u.
  Three ways to differentiate the gradient again (``hvp_mode``):

  - ``"rev-rev"`` (default): reverse-over-reverse. The gradient is taken once per point
    and batch with its graph kept (``create_graph``); each product is then one backward
    pass through that graph (the vjp of the gradient; the Hessian is symmetric, so it is
    the HVP). Columns are batched (``is_grads_batched``, i.e. vmap).
  - ``"fwd-rev"``: forward-over-reverse, ``torch.func.jvp`` of ``torch.func.grad`` per
    vector (recomputes forward and backward for every product; less memory), columns
    batched with ``torch.func.vmap``.
  - ``"fd"``: one-sided finite differences of the full gradient,
    (grad L(w + eps v, alpha + eps u) - grad L(w, alpha)) / eps with eps = 0.01 / ||(v, u)||
    (DARTS' step size): one plain gradient per product, O(eps) error -- the cheap
    approximation DARTS itself uses, offered for speed; not exact.

  The first two are exact (``benchmarks/nas_step_cost.py`` times all three).
  The network is always evaluated by ``torch.func.functional_call`` on views of the flat
  vectors; plain first-order gradients use ``torch.autograd.grad`` on that call.
  Why these defaults: docs/nas.md, "Design notes".
* Reduced bases for w (:class:`ReducedBasis`) so that the auxiliary program has k + n
  variables whatever m is: :func:`krylov_basis` (Lanczos on H_ww started from the
  training gradient, k products, full reorthogonalisation) and :func:`gradient_basis`
  (span of recent training gradients, orthonormalised by QR, k products in one batch).
  The basis keeps H_ww V and H_aw V; :meth:`ReducedBasis.reduced` gives the program's
  k x k and k x n blocks from them.
* :func:`cg_solve` -- (damped, truncated) conjugate gradients on H_ww, the implicit
  elimination of dw.

The device is chosen once (:func:`default_device`: CUDA when available, else CPU); the
model is moved there and callers move their batches with :meth:`Linearizer.to_device`.
The supernet's forward must not mutate state (the supernets here use batch statistics).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, jvp, vmap

HVP_MODES = ("rev-rev", "fwd-rev", "fd")


def default_device(device=None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class FlatLayout:
    """Maps a ``{name: tensor}`` dict to one flat vector and back (views, no copies)."""

    def __init__(self, params: dict):
        self.names = list(params)
        self.shapes = [tuple(params[k].shape) for k in self.names]
        self.numels = [int(params[k].numel()) for k in self.names]
        self.size = sum(self.numels)

    def flatten(self, params: dict) -> torch.Tensor:
        """Concatenate the tensors of ``params`` (in this layout's order) into a vector."""
        return torch.cat([params[k].reshape(-1) for k in self.names])

    def unflatten(self, vec: torch.Tensor) -> dict:
        """``{name: view of vec}`` with this layout's shapes."""
        if vec.shape != (self.size,):
            raise ValueError(f"flat vector has shape {tuple(vec.shape)}, expected ({self.size},)")
        return {k: t.view(s) for k, t, s in zip(self.names, vec.split(self.numels), self.shapes)}


def flatten(params: dict) -> torch.Tensor:
    """Flat vector of a parameter dict (see :class:`FlatLayout`)."""
    return FlatLayout(params).flatten(params)


def unflatten(vec: torch.Tensor, like: dict) -> dict:
    """Parameter dict shaped like ``like`` from a flat vector (see :class:`FlatLayout`)."""
    return FlatLayout(like).unflatten(vec)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


class Linearizer:
    """Losses and derivatives of a supernet as functions of flat (w, alpha).

    ``model`` exposes ``arch_parameters()`` (alpha) and ``named_parameters()``; every other
    parameter is a weight. ``weight_decay`` adds weight_decay/2 ||w||^2 to the training
    loss (the lower-level objective), so it is in every gradient and HVP of it.
    ``self.w`` / ``self.alpha`` hold the current point (detached flat tensors on
    ``self.device``); :meth:`write_back` copies them into the model's parameters.
    """

    def __init__(self, model: torch.nn.Module, weight_decay: float = 0.0, device=None,
                 hvp_mode: str = "rev-rev", loss_fn=None):
        if hvp_mode not in HVP_MODES:
            raise ValueError(f"hvp_mode must be one of {HVP_MODES}, got {hvp_mode!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.device = default_device(device)
        self.model = model.to(self.device)
        self.weight_decay = float(weight_decay)
        self.hvp_mode = hvp_mode
        self.loss_fn = F.cross_entropy if loss_fn is None else loss_fn
        arch_ids = {id(p) for p in model.arch_parameters()}
        named = dict(model.named_parameters())
        self.w_layout = FlatLayout({k: p for k, p in named.items() if id(p) not in arch_ids})
        self.a_layout = FlatLayout({k: p for k, p in named.items() if id(p) in arch_ids})
        self.w = self.w_layout.flatten(named).detach().clone()
        self.alpha = self.a_layout.flatten(named).detach().clone()

    @property
    def m(self) -> int:
        return self.w_layout.size

    @property
    def n(self) -> int:
        return self.a_layout.size

    def to_device(self, *tensors):
        """The tensors moved to this linearizer's device."""
        out = tuple(t.to(self.device) for t in tensors)
        return out if len(out) > 1 else out[0]

    def write_back(self) -> None:
        """Copy ``self.w`` and ``self.alpha`` into the model's parameters."""
        named = dict(self.model.named_parameters())
        with torch.no_grad():
            for layout, vec in ((self.w_layout, self.w), (self.a_layout, self.alpha)):
                for k, t in layout.unflatten(vec).items():
                    named[k].copy_(t)

    # -- losses ---------------------------------------------------------------------------
    def logits(self, w, alpha, x):
        params = {**self.w_layout.unflatten(w), **self.a_layout.unflatten(alpha)}
        return functional_call(self.model, params, (x,))

    def train_loss(self, w, alpha, x, y):
        """Lower-level objective: the loss (default cross-entropy) + weight_decay/2 ||w||^2."""
        loss = self.loss_fn(self.logits(w, alpha, x), y)
        return loss + 0.5 * self.weight_decay * (w * w).sum() if self.weight_decay else loss

    def val_loss(self, w, alpha, x, y):
        """Upper-level objective: the loss (default cross-entropy)."""
        return self.loss_fn(self.logits(w, alpha, x), y)

    def _loss(self, which):
        if which not in ("train", "val"):
            raise ValueError(f"which must be 'train' or 'val', got {which!r}")
        return self.train_loss if which == "train" else self.val_loss

    def value(self, batch, which: str = "val", w=None, alpha=None) -> float:
        """Loss at (w, alpha) (default: the current point), forward only."""
        w = self.w if w is None else w
        alpha = self.alpha if alpha is None else alpha
        with torch.no_grad():
            return float(self._loss(which)(w, alpha, *batch))

    def grads(self, batch, which: str = "train", w=None, alpha=None):
        """(loss, grad_w, grad_alpha) of the ``which`` loss on ``batch``, one reverse pass."""
        w_ = (self.w if w is None else w).detach().requires_grad_()
        a_ = (self.alpha if alpha is None else alpha).detach().requires_grad_()
        loss = self._loss(which)(w_, a_, *batch)
        gw, ga = torch.autograd.grad(loss, (w_, a_), materialize_grads=True)
        return float(loss.detach()), gw, ga

    def curvature(self, batch, w=None, alpha=None) -> "Curvature":
        """Training-loss gradient and Hessian products at (w, alpha) on ``batch``."""
        return Curvature(self, batch, self.w if w is None else w,
                         self.alpha if alpha is None else alpha)

    # -- single products (conveniences over Curvature) -------------------------------------
    def hvp(self, v, batch):
        """H_ww v of the training loss."""
        return self.curvature(batch).apply(v)[0]

    def mvp_xy(self, v, batch):
        """H_aw v = H_wa^T v (an n-vector)."""
        return self.curvature(batch).apply(v)[1]

    def mvp_yx(self, u, batch):
        """H_wa u (an m-vector)."""
        return self.curvature(batch).apply(u=u)[0]


class Curvature:
    """The training loss at one point and batch: ``loss``, ``g_w``, ``g_alpha`` and
    :meth:`apply`; ``n_products`` counts the Hessian products made (for the budget)."""

    def __init__(self, lin: Linearizer, batch, w, alpha):
        self.lin, self.batch = lin, batch
        self.n_products = 0
        self.w = w.detach().clone().requires_grad_()
        self.alpha = alpha.detach().clone().requires_grad_()
        if lin.hvp_mode == "rev-rev":   # keep the gradient's graph for every product
            loss = lin.train_loss(self.w, self.alpha, *batch)
            self._g = torch.autograd.grad(loss, (self.w, self.alpha), create_graph=True,
                                          materialize_grads=True)
            gw, ga = self._g
            loss = float(loss.detach())
        else:
            loss, gw, ga = lin.grads(batch, "train", self.w, self.alpha)
            self._grad = torch.func.grad(lin.train_loss, argnums=(0, 1))
            self._g = (gw, ga)
        self.loss = loss
        self.g_w, self.g_alpha = gw.detach(), ga.detach()

    def _products(self, v, u, batched):
        mode = self.lin.hvp_mode
        if mode == "rev-rev":
            return torch.autograd.grad(self._g, (self.w, self.alpha), grad_outputs=(v, u),
                                       retain_graph=True, is_grads_batched=batched,
                                       materialize_grads=True)
        w0, a0 = self.w.detach(), self.alpha.detach()
        if mode == "fd":
            if batched:
                out = [self._products(vi, ui, False) for vi, ui in zip(v, u)]
                return torch.stack([o[0] for o in out]), torch.stack([o[1] for o in out])
            norm = float(torch.sqrt(v @ v + u @ u))
            if norm == 0.0:
                return torch.zeros_like(v), torch.zeros_like(u)
            eps = 0.01 / norm
            _, gw, ga = self.lin.grads(self.batch, "train", w0 + eps * v, a0 + eps * u)
            return (gw - self._g[0].detach()) / eps, (ga - self._g[1].detach()) / eps

        def one(v_, u_):
            return jvp(lambda w_, a_: self._grad(w_, a_, *self.batch), (w0, a0), (v_, u_))[1]

        return vmap(one)(v, u) if batched else one(v, u)

    def apply(self, v=None, u=None):
        """(H_ww v + H_wa u, H_aw v + H_aa u) of the training loss. ``v``: (m,) or (m, k),
        ``u``: (n,) or (n, k) (None = 0); with k columns the results have k columns
        (the products are batched)."""
        lin = self.lin
        cols = next((t.dim() == 2 for t in (v, u) if t is not None), False)
        k = next((t.shape[1] for t in (v, u) if t is not None and t.dim() == 2), 1)
        z = self.w.new_zeros
        if v is None:
            v = z((lin.m, k)) if cols else z(lin.m)
        if u is None:
            u = z((lin.n, k)) if cols else z(lin.n)
        v, u = v.detach().to(self.w), u.detach().to(self.w)
        self.n_products += k
        if not cols:
            hw, ha = self._products(v, u, False)
            return hw.detach(), ha.detach()
        hw, ha = self._products(v.T.contiguous(), u.T.contiguous(), True)
        return hw.T.detach(), ha.T.detach()


@dataclass
class ReducedBasis:
    """Orthonormal columns V (m x k) of a subspace of w, with the products H_ww V (m x k)
    and H_aw V (n x k) at the curvature point (``curvature``)."""

    V: torch.Tensor
    HV: torch.Tensor
    AV: torch.Tensor
    curvature: Curvature

    @property
    def k(self) -> int:
        return self.V.shape[1]

    def reduced(self, grad_w: torch.Tensor, r0: torch.Tensor) -> dict:
        """The Galerkin-reduced program data in dz (dw = V dz) as float64 arrays:
        ``grad_y`` = V^T grad_w, ``H_yy`` = V^T H_ww V (symmetrised), ``H_yx`` = V^T H_wa
        = (H_aw V)^T, ``r0`` = V^T r0. Handing these to ``DescentProgram`` (identity basis
        and test) is the program with ``basis=V, test=V``, without m-sized work."""
        T = self.V.T @ self.HV
        return {"grad_y": _np(self.V.T @ grad_w), "H_yy": _np(0.5 * (T + T.T)),
                "H_yx": _np(self.AV.T), "r0": _np(self.V.T @ r0)}


def _orthogonalise(v, V):
    """v minus its projection on span(V) (twice, for stability) and its norm."""
    for _ in range(2):
        if V is not None and V.shape[1]:
            v = v - V @ (V.T @ v)
    return v, float(v.norm())


def krylov_basis(curv: Curvature, k: int, start=None) -> ReducedBasis:
    """Lanczos basis of the Krylov space span{g, H g, ..., H^(k-1) g} of H_ww, g =
    ``start`` (default: the training gradient), with full reorthogonalisation; exactly
    one product per column (k products; fewer columns on breakdown)."""
    if k < 1:
        raise ValueError(f"basis size k must be >= 1, got {k}")
    g = curv.g_w if start is None else start
    nrm = float(g.norm())
    if nrm == 0.0:
        raise ValueError("cannot start a Krylov basis from a zero vector")
    cols, hcols, acols = [g / nrm], [], []
    while True:
        hv, av = curv.apply(cols[-1])
        hcols.append(hv)
        acols.append(av)
        if len(cols) == k:
            break
        V = torch.stack(cols, 1)
        r, rn = _orthogonalise(hv, V)
        if rn <= 1e-7 * max(1.0, float(hv.norm())):  # invariant subspace found
            break
        cols.append(r / rn)
    return ReducedBasis(torch.stack(cols, 1), torch.stack(hcols, 1), torch.stack(acols, 1),
                        curv)


def gradient_basis(curv: Curvature, vectors, tol: float = 1e-6) -> ReducedBasis:
    """Orthonormal basis (QR) of span(``vectors``), e.g. the last k training gradients;
    columns that are numerically dependent (|R_jj| <= tol max|R_ii|) are dropped. Its
    products are made in one batched call (one product per column)."""
    vectors = [v for v in vectors if v is not None]
    if not vectors:
        raise ValueError("gradient_basis needs at least one vector")
    Q, R = torch.linalg.qr(torch.stack([v.to(curv.w) for v in vectors], 1))
    d = R.diagonal().abs()
    keep = d > tol * float(d.max())
    if not bool(keep.any()):
        raise ValueError("gradient_basis: all vectors are zero")
    V = Q[:, keep].contiguous()
    HV, AV = curv.apply(V)
    return ReducedBasis(V, HV, AV, curv)


def cg_solve(curv: Curvature, b: torch.Tensor, iters: int = 10, damping: float = 0.0,
             rtol: float = 1e-3):
    """Approximate solution of (H_ww + damping I) x = b by conjugate gradients from x = 0.

    Stops after ``iters`` products, at relative residual ``rtol``, or on a direction of
    non-positive curvature (H_ww of a network is indefinite): then the iterate so far is
    returned (Steihaug's truncation; x = 0 if that happens at the first direction).
    Returns (x, info) with info = {iterations, residual (relative), negative_curvature}.
    """
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = float(r @ r)
    b_norm = max(rr ** 0.5, 1e-30)
    info = {"iterations": 0, "residual": 1.0, "negative_curvature": False}
    for it in range(iters):
        hp = curv.apply(p)[0] + damping * p
        php = float(p @ hp)
        info["iterations"] = it + 1
        if php <= 0.0:
            info["negative_curvature"] = True
            break
        a = rr / php
        x = x + a * p
        r = r - a * hp
        rr_new = float(r @ r)
        info["residual"] = rr_new ** 0.5 / b_norm
        if info["residual"] <= rtol:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, info
