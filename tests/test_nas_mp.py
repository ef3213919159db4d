"""The math-programming NAS searcher: derivatives (nas_frontend.linearize), the auxiliary
program's direction, resource budgets, checkpoint/resume, CUDA, bad input."""

import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bilevel_mp.algorithms.descent import DescentProgram, solve_direction  # noqa: E402
from bilevel_mp.errors import BilevelInputError  # noqa: E402
from models.spaces import exact_params, make_supernet  # noqa: E402
from nas_frontend.common import Budget, BudgetMeter, BudgetProgress, one_thread  # noqa: E402
from nas_frontend.linearize import (FlatLayout, Linearizer, cg_solve, flatten,  # noqa: E402
                                    gradient_basis, krylov_basis, unflatten)
from nas_frontend.mp_search import MPSearch, mp_search  # noqa: E402

one_thread()


class TinyMixed(torch.nn.Module):
    """A smooth two-layer net whose hidden activation is a softmax(alpha) mixture."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 4)
        self.fc2 = torch.nn.Linear(4, 2)
        self.alpha = torch.nn.Parameter(0.5 * torch.randn(1, 3))

    def arch_parameters(self):
        return [self.alpha]

    def forward(self, x):
        p = torch.softmax(self.alpha, -1)[0]
        h = self.fc1(x)
        return self.fc2(p[0] * torch.tanh(h) + p[1] * torch.sigmoid(h) + p[2] * h)


def _tiny(kind):
    torch.manual_seed(0)
    if kind == "tiny":
        net, x = TinyMixed().double(), torch.randn(7, 3, dtype=torch.float64)
        y = torch.randint(0, 2, (7,))
    else:  # a small real supernet (batch-statistics BN, ReLU convs, mixed ops)
        net = make_supernet("cell3", n_features=8, n_classes=3, C=2, n_cells=1).double()
        x, y = torch.randn(6, 8, dtype=torch.float64), torch.randint(0, 3, (6,))
    return net, (x, y)


def _hessian(lin, batch):
    m = lin.m
    f = lambda z: lin.train_loss(z[:m], z[m:], *batch)  # noqa: E731
    H = torch.autograd.functional.hessian(f, torch.cat([lin.w, lin.alpha]))
    return H[:m, :m], H[:m, m:]


def test_flatten_roundtrip():
    net, _ = _tiny("tiny")
    params = {k: v.detach() for k, v in net.named_parameters()}
    vec = flatten(params)
    assert vec.shape == (sum(p.numel() for p in params.values()),)
    back = unflatten(vec, params)
    assert all(torch.equal(back[k], params[k]) for k in params)
    with pytest.raises(ValueError, match="expected"):
        FlatLayout(params).unflatten(vec[:-1])


@pytest.mark.parametrize("kind", ["tiny", "cell3"])
@pytest.mark.parametrize("mode", ["rev-rev", "fwd-rev"])
def test_products_match_autograd_hessian(kind, mode):
    net, batch = _tiny(kind)
    lin = Linearizer(net, weight_decay=1e-2, hvp_mode=mode)
    Hww, Hwa = _hessian(lin, batch)
    g = torch.Generator().manual_seed(1)
    v = torch.randn(lin.m, generator=g, dtype=torch.float64)
    u = torch.randn(lin.n, generator=g, dtype=torch.float64)
    tol = dict(rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(lin.hvp(v, batch), Hww @ v, **tol)
    torch.testing.assert_close(lin.mvp_xy(v, batch), Hwa.T @ v, **tol)
    torch.testing.assert_close(lin.mvp_yx(u, batch), Hwa @ u, **tol)
    curv = lin.curvature(batch)
    Vm = torch.randn(lin.m, 3, generator=g, dtype=torch.float64)
    hw, ha = curv.apply(Vm)                              # batched columns
    torch.testing.assert_close(hw, Hww @ Vm, **tol)
    torch.testing.assert_close(ha, Hwa.T @ Vm, **tol)
    assert curv.n_products == 3
    # the Lanczos basis: orthonormal, its products exact, V^T H V tridiagonal
    B = krylov_basis(curv, 4)
    assert B.k == 4
    torch.testing.assert_close(B.V.T @ B.V, torch.eye(4, dtype=torch.float64), atol=1e-10,
                               rtol=0)
    torch.testing.assert_close(B.HV, Hww @ B.V, **tol)
    torch.testing.assert_close(B.AV, Hwa.T @ B.V, **tol)
    T = B.V.T @ Hww @ B.V
    assert torch.allclose(torch.triu(T, 2), torch.zeros_like(T), atol=1e-8)
    torch.testing.assert_close(B.V[:, 0], curv.g_w / curv.g_w.norm(), **tol)


def test_finite_difference_products_are_close_on_a_smooth_net():
    net, batch = _tiny("tiny")
    lin = Linearizer(net, hvp_mode="fd")
    Hww, Hwa = _hessian(lin, batch)
    v = torch.randn(lin.m, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    err = (lin.hvp(v, batch) - Hww @ v).norm() / (Hww @ v).norm()
    assert 0 < err < 1e-2            # O(eps) approximation, not exact
    assert (lin.mvp_xy(v, batch) - Hwa.T @ v).norm() / (Hwa.T @ v).norm() < 1e-2


def test_gradient_basis_and_cg():
    net, batch = _tiny("tiny")
    lin = Linearizer(net, weight_decay=1e-2)
    Hww, _ = _hessian(lin, batch)
    curv = lin.curvature(batch)
    g = torch.Generator().manual_seed(3)
    a, b = (torch.randn(lin.m, generator=g, dtype=torch.float64) for _ in range(2))
    B = gradient_basis(curv, [a, b, a + 2 * b])          # third column dependent: dropped
    assert B.k == 2
    torch.testing.assert_close(B.HV, Hww @ B.V, rtol=1e-9, atol=1e-11)
    # CG on a damped, positive definite system reaches the solution
    lam = float(torch.linalg.eigvalsh(Hww).min().clamp(max=0).abs()) + 0.1
    x, info = cg_solve(curv, a, iters=lin.m + 5, damping=lam, rtol=1e-10)
    torch.testing.assert_close((Hww + lam * torch.eye(lin.m, dtype=torch.float64)) @ x, a,
                               rtol=1e-6, atol=1e-8)
    assert not info["negative_curvature"]
    # on an indefinite system CG stops at negative curvature
    if float(torch.linalg.eigvalsh(Hww).min()) < 0:
        _, info = cg_solve(curv, torch.linalg.eigh(Hww).eigenvectors[:, 0], iters=50)
        assert info["negative_curvature"]


def test_direction_decreases_linearised_val_loss_within_stationarity_band():
    """The program in the reduced space: its (dalpha, dw) lowers the linearised
    validation loss, and the projected linearised stationarity, recomputed here with
    fresh products of the full Hessian, stays within delta."""
    torch.manual_seed(0)
    net = make_supernet("cell3", n_features=16, n_classes=3, C=4, n_cells=1).double()
    lin = Linearizer(net, weight_decay=1e-3)
    g = torch.Generator().manual_seed(0)
    xt, xv = torch.randn(16, 16, generator=g).double(), torch.randn(16, 16, generator=g).double()
    yt, yv = torch.randint(0, 3, (16,), generator=g), torch.randint(0, 3, (16,), generator=g)
    curv = lin.curvature((xt, yt))
    val0, gv_w, gv_a = lin.grads((xv, yv), "val")
    B = krylov_basis(curv, 5)
    red = B.reduced(gv_w, curv.g_w)
    delta = float(np.abs(red["r0"]).max())        # the projected residual may not grow
    prog = DescentProgram(grad_x=gv_a.numpy(), **red)
    d = solve_direction(prog, radius=0.05, delta=delta)
    assert d.status == "optimal" and not d.elastic
    da = torch.as_tensor(d.dx)
    dw = B.V @ torch.as_tensor(d.dy)
    lin_change = float(gv_w @ dw + gv_a @ da)
    assert lin_change < 0
    assert lin_change == pytest.approx(d.predicted, rel=1e-8)
    hw, _ = curv.apply(dw, da)                           # H_ww dw + H_wa dalpha, fresh
    stat = B.V.T @ (curv.g_w + hw)
    assert float(stat.abs().max()) <= delta * (1 + 1e-6)
    # and the true validation loss falls along the direction for a small step
    t = 1e-3
    assert lin.value((xv, yv), "val", lin.w + t * dw, lin.alpha + t * da) < val0


def _small_data(n_train=192, n_val=96):
    from models.data import load

    d = load("mnist1d", 0)
    return {**d, "x_train": d["x_train"][:n_train], "y_train": d["y_train"][:n_train],
            "x_val": d["x_val"][:n_val], "y_val": d["y_val"][:n_val]}


FAST = dict(batch_size=32, warmup_epochs=0.5, k=3, progress=False)


def _genotype_probability(P, genotype, ops):
    return float(np.prod([P[e, ops.index(o)] for e, o in enumerate(genotype)]))


def test_resource_budget_is_never_exceeded():
    data = _small_data()
    bound = exact_params("cell3", ("conv3", "none", "none"))     # at most one conv3
    r = mp_search("cell3", data, Budget(epochs=4), resource={"kind": "params", "max": bound},
                  select_k=1, **FAST)
    assert r.info["iterations"] >= 2
    assert exact_params("cell3", r.genotype) <= bound
    assert r.info["resource_ok"] and r.info["cost"] <= bound
    assert all(h["status"] == "optimal" for h in r.history)


def test_resource_repair_returns_most_probable_feasible_architecture():
    from models.cell import OP_NAMES, effective_genotype
    from models.spaces import all_genotypes

    data = _small_data()
    bound = exact_params("cell3", ("conv3", "none", "none"))
    s = MPSearch("cell3", data, 0, ("params", bound), device="cpu", batch_size=32, select="argmax")
    a = torch.zeros(3, 5)
    a[:, OP_NAMES.index("conv5")] = 2.0                  # argmax conv5|conv5|conv5
    a[0, OP_NAMES.index("conv3")] = 1.5
    s.lin.alpha = a.reshape(-1)
    geno, info = s.final_genotype()
    assert info["argmax_genotype"] == ["conv5"] * 3 and "most probable feasible" in \
        info["resource_repair"]
    assert exact_params("cell3", geno) <= bound
    P = torch.softmax(a, -1).numpy()
    p_geno = _genotype_probability(P, geno, OP_NAMES)
    for g in all_genotypes("cell3"):
        if exact_params("cell3", g) <= bound and effective_genotype(g, "cell3") == g:
            assert _genotype_probability(P, g, OP_NAMES) <= p_geno + 1e-12


def test_budget_candidates_skip_ops_on_dead_paths():
    """none on edge 0 makes node 1 zero, so a conv on edge 1->2 is paid for but computes
    nothing: under a budget such cells are not offered, however probable."""
    from models.cell import OP_NAMES

    data = _small_data()
    bound = exact_params("cell3", ("conv3", "conv3", "none"))
    s = MPSearch("cell3", data, 0, ("params", bound), device="cpu", batch_size=32, select="argmax")
    a = torch.zeros(3, 5)
    a[0, OP_NAMES.index("none")] = 5.0                 # node 1 almost surely dead
    a[1, OP_NAMES.index("conv3")] = 3.0
    a[2, OP_NAMES.index("conv3")] = 3.0
    s.lin.alpha = a.reshape(-1)
    ranked = s.ranked()
    assert ranked and all(g[0] != "none" or g[2] == "none" for _, g, _ in ranked)
    assert ("none", "conv3", "conv3") not in [g for _, g, _ in ranked]
    assert len(s.ranked(feasible_only=False)) == 125    # without the budget filter: all


def test_oneshot_selection_under_a_resource_budget():
    """select="auto" with a budget: the select_k most probable feasible architectures (checked
    by brute force over the space) are evaluated one-hot on the validation set, the lowest
    loss is returned, and the passes are charged to (and reserved from) the budget."""
    from models.cell import OP_NAMES, effective_genotype
    from models.spaces import all_genotypes

    data = _small_data()
    bound = exact_params("cell3", ("conv3", "conv3", "none"))
    s = MPSearch("cell3", data, 0, ("params", bound), device="cpu", batch_size=32, select_k=4)
    assert s.select == "oneshot" and s.selection_batches() == 4 * len(s.val_b)
    a = torch.randn(3, 5, generator=torch.Generator().manual_seed(1))
    s.lin.alpha = a.reshape(-1)
    P = torch.softmax(a, -1).numpy()
    feas = [g for g in all_genotypes("cell3") if exact_params("cell3", g) <= bound
            and effective_genotype(g, "cell3") == g]           # no op on a dead path
    top = sorted(feas, key=lambda g: -_genotype_probability(P, g, OP_NAMES))[:4]
    assert [g for _, g, _ in s.ranked(4)] == top
    meter = BudgetMeter(Budget(epochs=100), len(s.train_b))
    geno, info = s.final_genotype(meter)
    losses = {d["genotype"]: d["val_loss"] for d in info["oneshot"]}
    assert list(losses) == ["|".join(g) for g in top]
    assert losses["|".join(geno)] == min(losses.values())
    assert meter.batches == 4 * len(s.val_b)
    # the loss of a candidate is the supernet's with those logits one-hot, on all of val
    s.lin.write_back()
    one_hot = torch.full((3, 5), -30.0)
    one_hot[range(3), [OP_NAMES.index(o) for o in geno]] = 30.0
    with torch.no_grad():
        s.model.alpha.copy_(one_hot)
        x, y = torch.as_tensor(data["x_val"]), torch.as_tensor(data["y_val"])
        ref = sum(torch.nn.functional.cross_entropy(s.model(xb), yb, reduction="sum")
                  for xb, yb in zip(x.tensor_split(len(s.val_b)), y.tensor_split(len(s.val_b))))
    assert losses["|".join(geno)] == pytest.approx(float(ref) / len(y), rel=1e-4)
    # in a search, the selection passes are reserved: the total stays near the budget
    r = mp_search("cell3", data, Budget(epochs=3), resource=("params", bound), select_k=4, **FAST)
    reserve = 4 * len(s.val_b) / len(s.train_b)
    assert r.info["select"] == "oneshot" and exact_params("cell3", r.genotype) <= bound
    assert 3 <= r.epochs_used < 3 + reserve


def test_average_selection_is_the_argmax_of_the_mean_probabilities():
    """select="average": the argmax of the probabilities averaged over the iterations
    (recomputed here from the history), which is also the last incumbent; the default
    without a budget stays the last iterate's argmax."""
    from models.cell import OP_NAMES

    data = _small_data()
    r = mp_search("cell3", data, Budget(epochs=5), select="average", **FAST)
    assert r.info["select"] == "average" and len(r.history) >= 2
    P = np.mean([h["probs"] for h in r.history], axis=0)
    assert r.genotype == tuple(OP_NAMES[j] for j in P.argmax(axis=1))
    assert tuple(r.history[-1]["incumbent"]) == r.genotype
    assert r.info["argmax_genotype"] == r.history[-1]["genotype"]
    with pytest.raises(ValueError, match="average"):
        MPSearch("cell3", data, 0, ("params", 5000), device="cpu", select="average")
    assert MPSearch("cell3", data, 0, device="cpu").select == "argmax"


VOLATILE = ("seconds",)


def _stable(history):
    return [{k: v for k, v in h.items() if not k.startswith(VOLATILE)} for h in history]


class _Crash(Exception):
    pass


class _CrashingProgress(BudgetProgress):
    """Dies at the search's first progress update (mp_search: at the end of the first
    warm-up epoch, right after the checkpoint)."""

    def update(self, text=""):
        raise _Crash


def test_resume_from_inside_the_warm_up_gives_the_same_trajectory(tmp_path, monkeypatch):
    import nas_frontend.mp_search as mps

    data, kw = _small_data(), {**FAST, "warmup_epochs": 2.0}
    full = mp_search("cell3", data, Budget(epochs=2.5), seed=3, **kw)
    ck = tmp_path / "mp.pt"
    monkeypatch.setattr(mps, "BudgetProgress", _CrashingProgress)
    with pytest.raises(_Crash):
        mp_search("cell3", data, Budget(epochs=2.5), seed=3, checkpoint=ck, **kw)
    monkeypatch.undo()
    assert torch.load(ck, weights_only=False)["warmup_done"] == 6       # of 12
    resumed = mp_search("cell3", data, Budget(epochs=2.5), seed=3, checkpoint=ck, resume=True, **kw)
    assert len(full.history) >= 1 and _stable(resumed.history) == _stable(full.history)
    assert resumed.alpha == full.alpha and resumed.epochs_used == full.epochs_used


@pytest.mark.parametrize("first_budget", [2.0])   # stop after the warm-up (inside: above)
def test_checkpoint_resume_gives_the_same_trajectory(tmp_path, first_budget):
    data = _small_data()
    full = mp_search("cell3", data, Budget(epochs=4), seed=3, **FAST)
    ck = tmp_path / "mp.pt"
    part = mp_search("cell3", data, Budget(epochs=first_budget), seed=3, checkpoint=ck, **FAST)
    assert len(part.history) < len(full.history)
    resumed = mp_search("cell3", data, Budget(epochs=4), seed=3, checkpoint=ck, resume=True,
                        **FAST)
    assert len(full.history) >= 2
    assert _stable(resumed.history) == _stable(full.history)
    assert resumed.alpha == full.alpha and resumed.genotype == full.genotype
    assert resumed.epochs_used == full.epochs_used
    with pytest.raises(ValueError, match="checkpoint holds seed"):
        mp_search("cell3", data, Budget(epochs=4), seed=4, checkpoint=ck, resume=True, **FAST)


@pytest.mark.parametrize("basis", ["gradients", "cg"])
def test_other_bases_run_within_budget(basis):
    data = _small_data()
    r = mp_search("mlp", data, Budget(epochs=3), basis=basis, cg_iters=3, **FAST)
    assert r.info["iterations"] >= 1
    h = r.history
    assert r.epochs_used == h[-1]["epochs"] >= 3          # stops once the budget is spent
    assert len(h) == 1 or h[-2]["epochs"] < 3
    assert all(math.isfinite(e["val_loss"]) and e["products"] >= 1 for e in h)
    if basis == "cg":
        assert all(e["cg"]["adjoint"]["iterations"] >= 1 for e in h)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_path_matches_cpu():
    net, batch = _tiny("cell3")
    cpu = Linearizer(net, device="cpu")
    v = torch.randn(cpu.m, dtype=torch.float64)
    ref = cpu.hvp(v, batch)
    net2, _ = _tiny("cell3")
    gpu = Linearizer(net2)                                 # default device: CUDA
    assert gpu.device.type == "cuda"
    out = gpu.hvp(v.cuda(), gpu.to_device(*batch))
    torch.testing.assert_close(out.cpu(), ref, rtol=1e-8, atol=1e-10)
    r = mp_search("cell3", _small_data(), Budget(epochs=2), **FAST)
    assert r.info["iterations"] >= 1


def _no_search(*a, **kw):
    raise AssertionError("searched although the budget was refused")


def test_epoch_budget_within_the_warm_up_is_refused_before_searching(monkeypatch):
    data = _small_data()          # 192 / 32 = 6 training batches an epoch, 96 / 32 = 3 val
    monkeypatch.setattr(MPSearch, "train_step", _no_search)
    monkeypatch.setattr(MPSearch, "step", _no_search)
    with pytest.raises(BilevelInputError, match=r"^mp: a budget of 0.5 epochs ends before the "
                       r"first MP iteration: the weight warm-up takes warmup_epochs = 0.5 epochs; "
                       r"give a budget of 0.51 epochs or more, or a smaller warmup_epochs$"):
        mp_search("cell3", data, Budget(epochs=0.5), **FAST)
    with pytest.raises(BilevelInputError, match=r"warmup_epochs = 0.5 epochs plus 2.5 epochs "
                       r"reserved for the final one-shot selection; give a budget of 3.01 epochs"):
        mp_search("cell3", data, Budget(epochs=3), resource=("params", 5000), **FAST)
    with pytest.raises(BilevelInputError, match="warmup_epochs = 2 epochs"):   # the default
        mp_search("cell3", data, {"epochs": 1.5, "seconds": 60}, progress=False)
    monkeypatch.undo()
    r = mp_search("cell3", data, Budget(epochs=0.51), **FAST)          # just above: one step
    assert r.info["iterations"] == 1


def test_seconds_running_out_before_the_first_iteration_is_an_error(tmp_path):
    data, ck = _small_data(), tmp_path / "mp.pt"
    with pytest.raises(BilevelInputError, match=r"^mp: the budget of 1e-09 seconds ran out "
                       r"before the first MP iteration, after 0 of the 0.5 epochs of the weight "
                       r"warm-up in .* s; give more seconds or a smaller warmup_epochs; the state "
                       r"is saved in .*mp.pt: resume with a larger budget$"):
        mp_search("cell3", data, Budget(seconds=1e-9), checkpoint=ck, **FAST)
    r = mp_search("cell3", data, Budget(epochs=0.51), checkpoint=ck, resume=True, **FAST)
    assert r.info["iterations"] == 1


def test_bad_input_raises_clear_errors():
    data = _small_data()
    with pytest.raises(ValueError, match="unknown search space 'cell9'"):
        mp_search("cell9", data, Budget(epochs=1), progress=False)
    with pytest.raises(ValueError, match="radius"):
        mp_search("cell3", data, Budget(epochs=1), radius=-0.1, progress=False)
    smallest = min(exact_params("cell3", g) for g in
                   itertools.product(("none", "skip"), repeat=3))
    with pytest.raises(ValueError, match="below the smallest architecture"):
        mp_search("cell3", data, Budget(epochs=1), resource=("params", smallest - 1),
                  progress=False)
    with pytest.raises(ValueError, match="resource kind"):
        mp_search("cell3", data, Budget(epochs=1), resource={"kind": "latency", "max": 5},
                  progress=False)
    with pytest.raises(ValueError, match="basis"):
        mp_search("cell3", data, Budget(epochs=1), basis="lbfgs", progress=False)
    with pytest.raises(ValueError, match="hvp_mode"):
        Linearizer(_tiny("tiny")[0], hvp_mode="exact")


def test_search_takes_a_method_name_to_run_search_and_a_model_to_search_model(monkeypatch):
    import nas_frontend
    from nas_frontend import model_search
    calls = []
    monkeypatch.setattr(model_search, "run_search", lambda *a, **k: calls.append("run") or 1)
    monkeypatch.setattr(model_search, "search_model", lambda *a, **k: calls.append("model") or 2)
    assert nas_frontend.search("mp", "cell3", "mnist1d") == 1
    assert nas_frontend.search(torch.nn.Identity(), [], []) == 2
    assert calls == ["run", "model"]
    with pytest.raises(AttributeError):
        nas_frontend.no_such_name


def test_a_refused_search_leaves_no_results_folder(tmp_path):
    import nas_frontend
    from bilevel_mp.errors import BilevelInputError
    out = tmp_path / "runs" / "mp"
    with pytest.raises(BilevelInputError, match="warm-up"):
        nas_frontend.search("mp", "mlp", "moons", budget=1, seed=0, out_dir=out, progress=False)
    assert not out.exists()
