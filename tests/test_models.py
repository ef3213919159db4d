"""Search spaces (models/): nets, supernets, costs, data, training recipe, table builder."""

import csv
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.func import functional_call, grad, jvp  # noqa: E402

import models as M  # noqa: E402
from nas_frontend.truth_build import build_table  # noqa: E402

torch.set_num_threads(1)

CELL_CASES = [("cell3", ("conv3", "skip", "avgpool3")),
              ("cell3", ("none", "conv5", "skip")),
              ("cell3", ("none", "skip", "conv3")),      # conv leaving a zero node
              ("cell4", ("conv5", "none", "conv3", "skip")),
              ("cell4", ("avgpool3", "conv3", "none", "conv5"))]
MLP_CASES = [("relu32", "skip", "tanh64"), ("tanh16",), ("relu64", "relu16", "tanh32")]


def _one_hot_alpha(sn, choices, ops):
    a = torch.full_like(sn.alpha, -1e4)
    for e, o in enumerate(choices):
        a[e, ops.index(o)] = 0.0
    with torch.no_grad():
        sn.alpha.copy_(a)


@pytest.fixture(scope="module")
def x():
    g = torch.Generator().manual_seed(0)
    return torch.randn(12, 40, generator=g)


@pytest.fixture(scope="module")
def mnist():
    """MNIST-1D generated afresh once; records whether the global numpy RNG survived."""
    from models.data import raw_arrays
    raw_arrays.cache_clear()
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    d = M.load("mnist1d", seed=0)
    return d, np.random.rand() == expected


@pytest.fixture(scope="module")
def tiny_data(mnist):
    d = mnist[0]
    out = dict(d)
    for s, n in (("train", 96), ("val", 64), ("test", 64)):
        out[f"x_{s}"], out[f"y_{s}"] = d[f"x_{s}"][:n], d[f"y_{s}"][:n]
    return out


# ---- forward passes and shapes -------------------------------------------------------------

@pytest.mark.parametrize("space,g", CELL_CASES)
def test_cellnet_forward_shapes(space, g, x):
    torch.manual_seed(0)
    net = M.CellNet(g, space)
    out = net(x)
    assert out.shape == (12, 10) and torch.isfinite(out).all()
    # (N, L) input is read as a one-channel signal: same as passing (N, 1, L)
    assert torch.equal(out, net(x.unsqueeze(1)))
    assert net.num_params() == M.exact_params(space, g)
    # each op keeps (C, L)
    h = torch.randn(3, 16, 40)
    for name in M.OP_NAMES:
        assert M.OPS[name](16)(h).shape == h.shape


def test_ops_param_count_matches_modules():
    for name in M.OP_NAMES:
        mod = M.OPS[name](8)
        assert sum(p.numel() for p in mod.parameters()) == M.param_count(name, 8), name
    assert M.flops("conv5", 16, 40) > M.flops("conv3", 16, 40) > M.flops("avgpool3", 16, 40) > 0
    assert M.flops("skip", 16, 40) == M.flops("none", 16, 40) == 0


def test_avgpool3_matches_torch_avgpool():
    from models.ops import AvgPool3
    h = torch.randn(4, 5, 40)
    ref = torch.nn.AvgPool1d(3, stride=1, padding=1, count_include_pad=False)(h)
    assert torch.allclose(AvgPool3()(h), ref, atol=1e-6)


@pytest.mark.parametrize("g", MLP_CASES)
def test_mlpnet_forward_shapes(g, x):
    net = M.MLPNet(g)
    assert net(x).shape == (12, 10)
    assert net.genotype == tuple(n for n in g if n != "skip")
    assert net.num_params() == M.exact_params("mlp", g)


# ---- supernet == discrete net at one-hot alpha ----------------------------------------------

@pytest.mark.parametrize("space,g", CELL_CASES)
def test_cell_supernet_one_hot_equals_discrete(space, g, x):
    torch.manual_seed(1)
    sn = M.CellSupernet(space)
    _one_hot_alpha(sn, g, M.OP_NAMES)
    assert sn.derive() == g
    net = sn.extract(g)
    sn.train(), net.train()
    assert torch.allclose(sn(x), net(x), atol=1e-5)
    sn.eval(), net.eval()        # batch statistics in both (track_running_stats=False)
    assert torch.allclose(sn(x), net(x), atol=1e-5)
    # the weights really are shared: perturbing the supernet's chosen conv changes nothing
    # in the extracted copy, and the copy's conv weights equal the supernet's
    name = next((o for o in g if o.startswith("conv")), None)
    if name is not None:
        e = g.index(name)
        assert torch.equal(net.cells[0].edges[e].op[1].weight,
                           sn.cells[0].edges[e].ops[name].op[1].weight)


@pytest.mark.parametrize("g", MLP_CASES)
def test_mlp_supernet_one_hot_equals_discrete(g, x):
    torch.manual_seed(2)
    sn = M.MLPSupernet()
    slots = tuple(g) + ("skip",) * (3 - len(g))
    _one_hot_alpha(sn, slots, M.SLOT_OPS)
    assert sn.derive_slots() == slots
    net = sn.extract(slots)
    assert torch.allclose(sn(x), net(x), atol=1e-5)


def test_supernet_with_uniform_alpha_differs_from_any_discrete(x):
    torch.manual_seed(3)
    sn = M.CellSupernet("cell3")
    net = sn.extract(("conv3", "conv3", "conv3"))
    assert not torch.allclose(sn(x), net(x), atol=1e-3)


# ---- expected costs --------------------------------------------------------------------------

def test_expected_params_and_flops_exact_at_one_hot_cells():
    rng = np.random.default_rng(0)
    for space in ("cell3", "cell4"):
        sn = M.CellSupernet(space)
        genos = M.all_genotypes(space)
        for i in rng.choice(len(genos), 12, replace=False):
            g = genos[i]
            P = torch.zeros(len(g), len(M.OP_NAMES))
            for e, o in enumerate(g):
                P[e, M.OP_NAMES.index(o)] = 1.0
            assert float(sn.expected_params(P)) == pytest.approx(M.CellNet(g, space).num_params())
            assert float(sn.expected_params(P.numpy())) == pytest.approx(sn.genotype_params(g))
            assert float(sn.expected_flops(P)) == pytest.approx(M.exact_flops(space, g))


def test_expected_params_exact_at_one_hot_mlp():
    sn = M.MLPSupernet()
    for slots in itertools.islice(itertools.product(M.SLOT_OPS, repeat=3), 0, None, 17):
        if slots[0] == "skip":
            continue
        P = torch.zeros(3, len(M.SLOT_OPS))
        for s, o in enumerate(slots):
            P[s, M.SLOT_OPS.index(o)] = 1.0
        assert float(sn.expected_params(P)) == pytest.approx(sn.extract(slots).num_params())
        assert float(sn.expected_flops(P)) == pytest.approx(M.exact_flops("mlp", slots))


@pytest.mark.parametrize("space", ["cell3", "cell4", "mlp"])
def test_expected_params_linear_and_differentiable(space):
    sn = M.make_supernet(space)
    g = torch.Generator().manual_seed(4)
    P1 = torch.softmax(torch.randn(sn.alpha.shape, generator=g), -1)
    P2 = torch.softmax(torch.randn(sn.alpha.shape, generator=g), -1)
    lam = 0.3
    mix = sn.expected_params(lam * P1 + (1 - lam) * P2)
    assert float(mix) == pytest.approx(lam * float(sn.expected_params(P1))
                                       + (1 - lam) * float(sn.expected_params(P2)))
    const, coef = sn.resource_coefficients("params")
    assert float(sn.expected_params(P1)) == pytest.approx(const + float((coef * P1.numpy()).sum()))
    a = sn.alpha.detach().clone().requires_grad_(True)
    sn.expected_params(sn.probabilities(a)).backward()
    assert a.grad is not None and a.grad.shape == a.shape


# ---- derive ----------------------------------------------------------------------------------

def test_derive_picks_argmax():
    g = torch.Generator().manual_seed(5)
    sn = M.CellSupernet("cell4")
    for _ in range(5):
        a = torch.randn(sn.alpha.shape, generator=g)
        want = tuple(M.OP_NAMES[int(np.argmax(row))] for row in a.numpy())
        assert sn.derive(a) == want
    m = M.MLPSupernet()
    a = torch.randn(m.alpha.shape, generator=g)
    a[0, 0] = 100.0                   # slot 0 may not skip: the raw argmax is not allowed
    a[1, 0] = 100.0                   # slot 1 may
    slots = m.derive_slots(a)
    assert slots[0] == M.SLOT_OPS[1 + int(np.argmax(a[0, 1:].numpy()))]
    assert slots[1] == "skip"
    assert m.derive(a) == tuple(s for s in slots if s != "skip")


# ---- torch.func -------------------------------------------------------------------------------

@pytest.mark.parametrize("space", ["cell3", "mlp"])
def test_functional_call_grad_weights_and_alpha(space, x):
    torch.manual_seed(6)
    small = {"C": 8, "n_cells": 1} if space != "mlp" else {"D": 16}
    sn = M.make_supernet(space, alpha_init_std=0.1, **small)
    y = torch.arange(12) % 10
    W = {k: v.detach() for k, v in sn.named_weight_parameters().items()}
    alpha = sn.alpha.detach().clone()

    def loss(w, a):
        out = functional_call(sn, {**w, "alpha": a}, (x,))
        return torch.nn.functional.cross_entropy(out, y)

    gw, ga = grad(loss, argnums=(0, 1))(W, alpha)
    # cross-check against plain autograd on the module
    sn.zero_grad()
    torch.nn.functional.cross_entropy(sn(x), y).backward()
    assert torch.allclose(ga, sn.alpha.grad, atol=1e-5)
    for k, p in sn.named_weight_parameters().items():
        ref = p.grad if p.grad is not None else torch.zeros_like(p)
        assert torch.allclose(gw[k], ref, atol=1e-5), k
    assert set(gw) == set(dict(sn.named_weight_parameters()))
    assert len(sn.arch_parameters()) == 1 and sn.arch_parameters()[0] is sn.alpha
    assert all(p is not sn.alpha for p in sn.weight_parameters())
    # Hessian-vector product w.r.t. weights and the mixed product d/dalpha (grad_w . v)
    v = {k: torch.randn_like(t) for k, t in W.items()}
    _, hvp = jvp(lambda w: grad(loss, argnums=0)(w, alpha), (W,), (v,))
    mixed = grad(lambda a: sum((grad(loss, argnums=0)(W, a)[k] * v[k]).sum() for k in W))(alpha)
    assert all(torch.isfinite(t).all() for t in hvp.values())
    assert mixed.shape == alpha.shape and torch.isfinite(mixed).all()


# ---- enumeration and collapse detector ---------------------------------------------------------

def test_all_genotypes_counts():
    for space, n in (("cell3", 5 ** 3), ("cell4", 5 ** 4), ("mlp", 6 + 6 ** 2 + 6 ** 3)):
        genos = M.all_genotypes(space)
        assert len(genos) == n and len(set(genos)) == n
        for g in genos[:: max(1, n // 20)]:
            assert M.validate(space, g) == g


def test_parameter_free_and_dead():
    base = M.exact_params("cell4", ("none",) * 4)
    for g in M.all_genotypes("cell4"):
        assert M.is_parameter_free("cell4", g) == (M.exact_params("cell4", g) == base)
    assert M.is_dead(("none", "none", "skip"), "cell3")            # 1->2 from a dead node 1
    assert not M.is_dead(("skip", "none", "none"), "cell3")
    assert M.is_dead(("none", "none", "none", "conv3"), "cell4")
    assert not M.is_parameter_free("mlp", ("relu16",))
    assert M.effective_genotype(("none", "skip", "conv3"), "cell3") == ("none", "skip", "none")
    assert M.effective_genotype(("conv3", "none", "conv5", "skip"), "cell4") == (
        "conv3", "none", "conv5", "skip")


def test_effective_genotype_computes_the_same_function():
    h = torch.randn(4, 40)
    for g in M.all_genotypes("cell3"):
        eff = M.effective_genotype(g, "cell3")
        if eff == g:
            continue
        torch.manual_seed(0)
        net = M.CellNet(g, "cell3", C=4)
        net_eff = M.CellNet(eff, "cell3", C=4)
        state = {k: v for k, v in net.state_dict().items() if k in net_eff.state_dict()}
        net_eff.load_state_dict(state)
        assert torch.allclose(net(h), net_eff(h)), g


# ---- bad input -------------------------------------------------------------------------------

def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match=r"unknown op 'conv7' at edge 1 \(0->2\)"):
        M.CellNet(("conv3", "conv7", "skip"), "cell3")
    with pytest.raises(ValueError, match="has 2 ops; space cell3 has 3 edges"):
        M.CellNet(("conv3", "skip"), "cell3")
    with pytest.raises(ValueError, match="has 3 ops; space cell4 has 4 edges"):
        M.exact_params("cell4", "conv3|skip|none")
    with pytest.raises(ValueError, match="unknown MLP layer 'gelu32'"):
        M.MLPNet(("gelu32",))
    with pytest.raises(ValueError, match="need 1 to 3"):
        M.MLPNet(("relu16",) * 4)
    with pytest.raises(ValueError, match="all skip"):
        M.MLPNet(("skip",))
    with pytest.raises(ValueError, match="unknown search space"):
        M.all_genotypes("cell5")
    with pytest.raises(ValueError, match="probs has shape"):
        M.CellSupernet("cell3").expected_params(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="unknown dataset"):
        M.load("cifar")
    with pytest.raises(ValueError, match="needs space="):
        M.train(("conv3", "skip", "none"), {}, epochs=1)


# ---- data --------------------------------------------------------------------------------------

def test_data_splits_deterministic(mnist):
    a, b, c = M.load("mnist1d", 0), M.load("mnist1d", 0), M.load("mnist1d", 1)
    assert (len(a["y_train"]), len(a["y_val"]), len(a["y_test"])) == (3200, 800, 1000)
    assert a["x_train"].shape[1] == a["n_features"] == 40 and a["n_classes"] == 10
    for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(a[k], b[k]), k
    assert torch.equal(a["x_test"], c["x_test"])          # seed moves only train/val
    assert not torch.equal(a["x_val"], c["x_val"])
    # train and val are disjoint and together are all of MNIST-1D's training part
    rows = lambda t: {tuple(r) for r in t.numpy().round(5).tolist()}  # noqa: E731
    assert not rows(a["x_train"]) & rows(a["x_val"])
    assert rows(a["x_train"]) | rows(a["x_val"]) == rows(c["x_train"]) | rows(c["x_val"])
    d = M.load("digits", 0)
    assert d["n_features"] == 64 and len(d["y_test"]) == 360
    assert len(d["y_train"]) + len(d["y_val"]) + len(d["y_test"]) == 1797
    assert float(d["x_train"].min()) >= -1 and float(d["x_train"].max()) <= 1


def test_moons_data():
    d = M.load("moons", 3)
    assert d["x_train"].shape == (960, 2) and d["x_val"].shape == (240, 2)
    assert d["x_test"].shape == (500, 2) and d["x_train"].dtype == torch.float32
    assert (d["name"], d["n_features"], d["n_classes"], d["seed"]) == ("moons", 2, 2, 3)
    assert torch.equal(d["x_test"], M.load("moons", 0)["x_test"])        # fixed test set
    assert not torch.equal(d["y_val"], M.load("moons", 0)["y_val"])       # seeded split
    with pytest.raises(ValueError, match="val_fraction"):
        M.load("moons", 0, val_fraction=0.3)
    with pytest.raises(ValueError, match="unknown dataset"):
        M.load("cifar10")


def test_load_keeps_global_rng_state(mnist):
    # mnist1d.make_dataset reseeds numpy's global RNG; load() must restore it
    assert mnist[1]

# ---- training recipe ---------------------------------------------------------------------------

@pytest.mark.parametrize("space,g", [("cell3", ("conv3", "skip", "avgpool3")),
                                     ("mlp", ("relu16", "tanh16"))])
def test_train_deterministic(space, g, tiny_data):
    r1 = M.train(g, tiny_data, epochs=2, seed=7, space=space)
    r2 = M.train(g, tiny_data, epochs=2, seed=7, space=space)
    r3 = M.train(g, tiny_data, epochs=2, seed=8, space=space)
    keys = ("train_acc", "train_loss", "val_acc", "val_loss", "test_acc", "test_loss")
    assert all(r1[k] == r2[k] for k in keys)
    assert r1["test_loss"] != r3["test_loss"]
    assert r1["params"] == M.exact_params(space, g) and r1["seconds"] > 0
    assert all(0.0 <= r1[k] <= 1.0 for k in ("train_acc", "val_acc", "test_acc"))


def test_train_reduces_loss(tiny_data):
    r0 = M.train(("conv3", "conv3", "conv3"), tiny_data, epochs=0, seed=0, space="cell3")
    r = M.train(("conv3", "conv3", "conv3"), tiny_data, epochs=5, seed=0, space="cell3")
    assert r["train_loss"] < r0["train_loss"]


# ---- table builder -----------------------------------------------------------------------------

def test_table_builder_resumable(tmp_path, mnist, capsys):
    out = tmp_path / "t.csv"

    def build(epochs):
        return build_table("cell3", out, seeds=[0], jobs=1, sample=2, epochs=epochs)

    assert build(1) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2
    for row in rows:
        g = M.parse_genotype(row["genotype"])
        assert int(row["params"]) == M.exact_params("cell3", g)
        assert int(row["param_free"]) == M.is_parameter_free("cell3", g)
    capsys.readouterr()
    assert build(1) == 0                                       # resumed: nothing to run
    assert "2 done, 0 to run" in capsys.readouterr().out
    assert len(list(csv.DictReader(out.open()))) == 2
    with pytest.raises(ValueError, match="epochs=1"):          # another recipe: refused
        build(2)

def test_every_cell_architecture_runs_forward():
    """All 125 + 625 cells build and map a batch to finite logits, in train and eval mode
    (includes edges leaving structurally zero nodes, e.g. none|none|conv3)."""
    h = torch.randn(3, 40)
    for space in ("cell3", "cell4"):
        for g in M.all_genotypes(space):
            net = M.CellNet(g, space, n_cells=1, C=4)
            out_train = net(h)
            net.eval()
            out_eval = net(h)
            assert out_train.shape == out_eval.shape == (3, 10), g
            assert torch.isfinite(out_train).all() and torch.isfinite(out_eval).all(), g
            if M.is_dead(g, space):      # dead cell: logits are the classifier bias only
                assert torch.allclose(out_eval, net.classifier.bias.expand(3, -1)), g


def test_cell4_with_last_edge_none_is_the_cell3_network(tiny_data):
    """The identity behind build.py --reuse: same modules, same init, same training."""
    g3 = ("conv3", "avgpool3", "conv5")
    r3 = M.train(g3, tiny_data, epochs=2, seed=3, space="cell3")
    r4 = M.train(g3 + ("none",), tiny_data, epochs=2, seed=3, space="cell4")
    for k in ("train_acc", "train_loss", "val_acc", "val_loss", "test_acc", "test_loss",
              "params"):
        assert r3[k] == r4[k], k
    assert M.exact_flops("cell3", g3) == M.exact_flops("cell4", g3 + ("none",))
