"""NAS on the user's own network: ``Choice`` points in any nn.Module, ``nas_frontend.search``
on the user's DataLoaders. Costs are checked against counts on the derived networks
themselves (parameters of the built module; FLOPs by torch's own counter), the supernet
against the derived model with the same weights, and every method's answer against the
space and the budget it was given."""

import itertools

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import nas_frontend as nf  # noqa: E402
from bilevel_mp.errors import BilevelInputError  # noqa: E402
from nas_frontend.module_space import ModuleSpace  # noqa: E402


def _block(c, name):
    return nf.Choice({"conv3": nn.Sequential(nn.Conv1d(c, c, 3, padding=1), nn.ReLU()),
                      "conv5": nn.Sequential(nn.Conv1d(c, c, 5, padding=2), nn.ReLU()),
                      "skip": nn.Identity(), "none": nf.Zero()}, name=name)


class TinyNet(nn.Module):
    """Two op choices, a depth choice and a width choice on 1-D signals of length 12."""

    def __init__(self, c=4, classes=3):
        super().__init__()
        self.stem = nn.Conv1d(1, c, 3, padding=1)
        self.cells = nn.ModuleList([_block(c, "e0"), _block(c, "e1")])
        self.deep = nf.Choice.depths(lambda: nn.Sequential(nn.Conv1d(c, c, 3, padding=1),
                                                           nn.ReLU()), [0, 1, 2], name="depth")
        self.head = nf.Choice.widths(lambda w: nn.Sequential(
            nn.Flatten(), nn.Linear(c * 12, w), nn.ReLU(), nn.Linear(w, classes)), [4, 16],
            name="width")

    def forward(self, x):
        h = torch.relu(self.stem(x))
        for cell in self.cells:
            h = cell(h)
        return self.head(self.deep(h))


def _loaders(seed=0, n=192, classes=3):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    t = torch.linspace(0, 1, 12)
    x = torch.sin(2 * torch.pi * (y[:, None] + 1) * t)[:, None, :] \
        + 0.3 * torch.randn(n, 1, 12, generator=g)
    cut = 2 * n // 3
    return (DataLoader(TensorDataset(x[:cut], y[:cut]), batch_size=32, shuffle=True,
                       generator=torch.Generator().manual_seed(seed)),
            DataLoader(TensorDataset(x[cut:], y[cut:]), batch_size=64))


@pytest.fixture(scope="module")
def space():
    return ModuleSpace(TinyNet(), torch.zeros(2, 1, 12))


def _params(net):
    return sum(p.numel() for p in net.parameters())


def _macs(net, x):
    with FlopCounterMode(display=False) as c:
        net.eval()(x)
    return c.get_total_flops() // 2 // len(x)


def test_costs_equal_the_counts_of_every_derived_network(space):
    x = torch.zeros(3, 1, 12)
    genos = space.all_genotypes()
    assert len(genos) == 4 * 4 * 3 * 2 == space.size
    for g in genos:
        net = space.make_net(g)
        assert space.cost(g, "params") == _params(net)
        assert space.cost(g, "flops") == _macs(net, x)
    cheapest_cost, cheapest = space.cheapest("params")
    assert cheapest_cost == min(space.cost(g, "params") for g in genos)
    assert space.cost(cheapest, "params") == cheapest_cost


def test_supernet_one_hot_equals_the_derived_network_with_its_weights(space):
    torch.manual_seed(3)
    sup = space.make_supernet()
    sup.eval()
    x = torch.randn(5, 1, 12)
    for g in [("conv5", "skip", "depth2", "width16"), ("none", "conv3", "depth0", "width4")]:
        A = torch.full_like(sup.alpha, -60.0)
        for i, (op, ops) in enumerate(zip(g, space.op_names)):
            A[i, ops.index(op)] = 60.0
        with torch.no_grad():
            sup.alpha.copy_(A)
            assert sup.derive() == g
            assert torch.allclose(sup(x), sup.extract().eval()(x), atol=1e-5)
    P = sup.probabilities()
    assert torch.allclose(P.sum(1), torch.ones(len(space.op_names)))
    assert (P[2, 3:] == 0).all() and (P[3, 2:] == 0).all()   # masked past each choice's ops


def test_expected_cost_is_the_probability_weighted_sum_of_genotype_costs(space):
    torch.manual_seed(1)
    sup = space.make_supernet()
    with torch.no_grad():
        sup.alpha.normal_()
    P = sup.probabilities().detach().double()
    P = P / P.sum(1, keepdim=True)            # rows summing to 1 in double precision
    for kind in ("params", "flops"):
        want = 0.0
        for choice in itertools.product(*[range(len(o)) for o in space.op_names]):
            p = float(torch.prod(P[torch.arange(len(choice)), torch.tensor(choice)]))
            want += p * space.cost(space.from_choice(choice), kind)
        assert float(sup.expected_cost(kind, P)) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("method", ["mp", "darts1", "darts2", "random", "evolution"])
def test_every_method_returns_a_model_of_the_space_within_the_budget(method):
    tr, va = _loaders(seed=11)
    extra = {"train_epochs": 1} if method in ("random", "evolution") else {}
    found = nf.search(TinyNet(), tr, va, method=method, budget_epochs=4, seed=5,
                      retrain_epochs=1, progress=False, **extra)
    space = ModuleSpace(TinyNet(), torch.zeros(2, 1, 12))
    g = space.validate(found.genotype)                      # a dict by choice name
    assert set(found.genotype) == {"e0", "e1", "depth", "width"}
    assert _params(found.model) == space.cost(g, "params") == found.result.info["params"]
    assert found.model(torch.zeros(2, 1, 12)).shape == (2, 3)
    assert not any(isinstance(m, nf.Choice) for m in found.model.modules())
    per_step = {"mp": 8 / 4, "darts1": 2 / 4, "darts2": 5 / 4}.get(method, 1)  # one step, epochs
    assert 0 < found.result.epochs_used <= 4 + per_step
    assert found.history and found.retrain["val_acc"] is not None
    assert found.result.method == method


@pytest.mark.parametrize("seed", [21, 22])
def test_mp_meets_a_params_budget_exactly(seed):
    tr, va = _loaders(seed=seed)
    space = ModuleSpace(TinyNet(), torch.zeros(2, 1, 12))
    costs = sorted(space.cost(g, "params") for g in space.all_genotypes())
    bound = costs[len(costs) // 4]                           # a quarter of the space fits
    found = nf.search(TinyNet(), tr, va, method="mp", budget_epochs=4, seed=seed,
                      resource={"params": bound}, progress=False)
    assert _params(found.model) <= bound
    assert found.result.info["resource_ok"] is True


def test_a_linear_user_resource_function_is_met_and_a_nonlinear_one_refused():
    tr, va = _loaders(seed=31)
    latency = {"conv3": 3.0, "conv5": 5.0, "skip": 0.5, "none": 0.0}

    def cost(p):     # an estimated latency: linear in the probabilities
        return 1.0 + sum(latency[op] * p[e][op] for e in ("e0", "e1") for op in latency) \
            + 4.0 * p["depth"]["depth1"] + 8.0 * p["depth"]["depth2"]

    found = nf.search(TinyNet(), tr, va, method="mp", budget_epochs=4, seed=31,
                      resource=(cost, 4.0), progress=False)
    g = found.genotype
    value = 1.0 + latency[g["e0"]] + latency[g["e1"]] + {"depth0": 0, "depth1": 4,
                                                          "depth2": 8}[g["depth"]]
    assert value <= 4.0 and found.result.info["cost"] == pytest.approx(value)
    with pytest.raises(BilevelInputError, match="not linear"):
        nf.search(TinyNet(), tr, va, budget_epochs=4,
                  resource=(lambda p: p["e0"]["conv3"] ** 2, 0.5), progress=False)
    with pytest.raises(BilevelInputError, match="below the cheapest"):
        nf.search(TinyNet(), tr, va, budget_epochs=4, resource={"params": 10},
                  progress=False)


def test_a_regression_loss_is_searched_by_its_value():
    g = torch.Generator().manual_seed(41)
    x = torch.randn(96, 1, 12, generator=g)
    y = x.mean(dim=(1, 2))[:, None].repeat(1, 3)
    tr = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=16)
    va = DataLoader(TensorDataset(x[64:], y[64:]), batch_size=32)
    found = nf.search(TinyNet(), tr, va, method="random", budget_epochs=3, train_epochs=1,
                      loss=nn.functional.mse_loss, progress=False)
    recs = found.history
    best = min(recs, key=lambda r: r["val_loss"])
    assert found.result.info["best_val_acc"] is None
    assert "|".join(found.genotype.values()) == best["genotype"]


def test_bad_models_and_loaders_are_refused_with_a_message():
    tr, va = _loaders()
    with pytest.raises(BilevelInputError, match="no nas_frontend.Choice"):
        nf.search(nn.Linear(12, 3), tr, va)
    nested = nf.Choice({"a": nf.Choice({"b": nn.Identity(), "c": nn.Identity()}),
                        "d": nn.Identity()})
    with pytest.raises(BilevelInputError, match="nested"):
        nf.search(nn.Sequential(nested), tr, va)
    clash = nn.Sequential(_block(4, "same"), nf.Choice({"a": nn.Identity(), "b": nf.Zero()},
                                                       name="same"))
    with pytest.raises(BilevelInputError, match="different ops"):
        nf.search(clash, tr, va)
    with pytest.raises(BilevelInputError, match="unknown method"):
        nf.search(TinyNet(), tr, va, method="bayes")
    with pytest.raises(BilevelInputError, match="read only once"):
        nf.search(TinyNet(), iter(tr), va)
    with pytest.raises(BilevelInputError, match="sized DataLoader"):
        nf.search(TinyNet(), (b for b in tr), va)
    with pytest.raises(BilevelInputError, match="pairs"):
        nf.search(TinyNet(), [torch.zeros(4, 1, 12)], va)
    with pytest.raises(ValueError, match="at least two"):
        nf.Choice({"only": nn.Identity()})
    with pytest.raises(ValueError, match="without dots"):
        nf.Choice({"a.b": nn.Identity(), "c": nn.Identity()})
    with pytest.raises(ValueError, match="not an nn.Module"):
        nf.Choice({"a": nn.Identity(), "b": torch.relu})
    with pytest.raises(ValueError, match="positive integers"):
        nf.Choice.widths(lambda w: nn.Identity(), [0, 4])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("method", ["mp", "darts2"])
def test_a_search_runs_on_cuda(method):
    tr, va = _loaders(seed=51)
    found = nf.search(TinyNet(), tr, va, method=method, budget_epochs=4, seed=51,
                      device="cuda", progress=False)
    assert next(found.model.parameters()).device.type == "cuda"
    space = ModuleSpace(TinyNet(), torch.zeros(2, 1, 12))
    assert found.result.info["params"] == space.cost(space.validate(found.genotype), "params")


def test_the_nb201_space_has_15625_cells_with_exact_costs():
    from models.nb201 import NB201_EDGES, NB201_OPS, NB201Net
    x = torch.zeros(2, 1, 40)
    space = ModuleSpace(NB201Net(), x)
    assert space.size == 5 ** 6 == len(NB201_OPS) ** len(NB201_EDGES)
    assert space.choice_names == [f"e{j}_{i}" for i, j in NB201_EDGES]
    rng = torch.Generator().manual_seed(61)
    for _ in range(6):
        g = tuple(NB201_OPS[int(k)] for k in torch.randint(0, 5, (6,), generator=rng))
        net = space.make_net(g)
        assert space.cost(g, "params") == _params(net)
        assert space.cost(g, "flops") == _macs(net, torch.randn(3, 1, 40))
    # the output is node 3: with every edge into it "none", the cell outputs zeros and the
    # logits are the classifier's bias whatever the input
    net = space.make_net(("conv3", "conv3", "conv3", "none", "none", "none")).eval()
    out = net(torch.randn(4, 1, 40))
    assert torch.allclose(out, net.classifier.bias.expand(4, -1))


def test_nb201_is_searched_by_name_through_run_search(tmp_path):
    """The command line's path: a space written with Choices, by its name."""
    import json

    from models.data import load
    from models.nb201 import NB201Net
    from nas_frontend.runner import run_search
    r = run_search("random", "nb201", "mnist1d", budget=3, seed=71, out_dir=tmp_path,
                   retrain_epochs=1, progress=False, train_epochs=1)
    d = load("mnist1d", 0)
    space = ModuleSpace(NB201Net(), d["x_train"][:2])
    g = space.validate(r.genotype)
    written = json.loads((tmp_path / "architecture.json").read_text())
    assert written["params"] == _params(space.make_net(g)) == r.info["params"]
    assert written["parameter_free"] == all(op in ("none", "skip", "avgpool3") for op in g)
    assert 0 <= written["retrained_test_acc"] <= 1


def test_most_probable_lists_a_product_distribution_in_order_without_repeats():
    import numpy as np

    from nas_frontend.mp_selection import most_probable
    rng = np.random.default_rng(81)
    counts = [3, 2, 4]
    P = np.zeros((3, 4))
    for i, n in enumerate(counts):
        P[i, :n] = rng.dirichlet(np.ones(n))
    got = list(most_probable(P, counts))
    want = sorted(((float(np.prod([P[i, c] for i, c in enumerate(ch)])), ch)
                   for ch in itertools.product(*[range(n) for n in counts])), reverse=True)
    assert len(got) == len(want) == 24 and len({c for _, c in got}) == 24
    assert [p for p, _ in got] == pytest.approx([p for p, _ in want], rel=1e-12)


def test_mp_under_a_budget_on_a_space_too_large_to_enumerate():
    def layer(i):
        return nf.Choice({"lin": nn.Linear(8, 8), "mlp": nn.Sequential(nn.Linear(8, 8), nn.ReLU()),
                          "skip": nn.Identity(), "none": nf.Zero()}, name=f"l{i}")

    model = nn.Sequential(*[layer(i) for i in range(9)], nn.Linear(8, 3))
    g = torch.Generator().manual_seed(91)
    x = torch.randn(160, 8, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    tr = DataLoader(TensorDataset(x[:120], y[:120]), batch_size=30)
    va = DataLoader(TensorDataset(x[120:], y[120:]), batch_size=40)
    space = ModuleSpace(model, x[:2])
    assert space.size == 4 ** 9 > 200_000
    found = nf.search(model, tr, va, method="mp", budget_epochs=6, seed=91,
                      resource={"params": 27 + 3 * 72}, progress=False)   # head + 3 linear layers
    assert _params(found.model) <= 27 + 3 * 72
    assert found.result.info["select"] == "oneshot" and len(found.result.info["oneshot"]) >= 1


class TiedNet(nn.Module):
    """The cell of TinyNet repeated twice with one genotype (Choices sharing names), plus
    one Choice module called twice (its weights shared too)."""

    def __init__(self, c=4):
        super().__init__()
        self.stem = nn.Conv1d(1, c, 3, padding=1)
        self.cells = nn.ModuleList([nn.Sequential(_block(c, "e0"), _block(c, "e1"))
                                    for _ in range(2)])
        self.twice = _block(c, "shared")
        self.head = nn.Linear(c * 12, 3)

    def forward(self, x):
        h = torch.relu(self.stem(x))
        for cell in self.cells:
            h = cell(h)
        return self.head(self.twice(self.twice(h)).flatten(1))


def test_tied_choices_take_one_op_and_costs_count_every_copy_and_call():
    x = torch.zeros(3, 1, 12)
    space = ModuleSpace(TiedNet(), x)
    assert space.choice_names == ["e0", "e1", "shared"] and space.size == 4 ** 3
    for g in space.all_genotypes():
        net = space.make_net(g)
        assert sum(isinstance(m, nn.Conv1d) for m in net.modules()) == \
            1 + 2 * sum(op.startswith("conv") for op in g[:2]) + g[2].startswith("conv")
        assert space.cost(g, "params") == _params(net)
        assert space.cost(g, "flops") == _macs(net, x)
    tr, va = _loaders(seed=101)
    found = nf.search(TiedNet(), tr, va, method="mp", budget_epochs=4, seed=101, progress=False)
    assert _params(found.model) == space.cost(space.validate(found.genotype), "params")


def test_ops_on_dead_paths_are_found_by_running_the_model():
    """A node reached only by ``none`` edges is zero: ops leaving it do nothing, and the
    effective genotype has ``none`` there (same function, fewer parameters); checked against
    the network's own output."""
    from models.nb201 import NB201Net
    x = torch.randn(4, 1, 40)
    space = ModuleSpace(NB201Net(), x[:2])
    g = ("none", "conv3", "conv3", "conv1", "conv1", "conv3")   # node 1 is dead
    e = space.effective(g)
    assert e == ("none", "conv3", "none", "conv1", "none", "conv3")
    assert space.effective(("none", "conv3", "skip", "conv1", "avgpool3", "conv3")) == e
    assert space.effective(e) == e and space.effective(("conv3",) * 6) == ("conv3",) * 6
    torch.manual_seed(0)
    a = space.make_net(g).eval()
    b = space.make_net(e).eval()
    b.load_state_dict(a.state_dict(), strict=False)
    assert torch.allclose(a(x), b(x), atol=1e-6)
    assert space.cost(e, "params") < space.cost(g, "params")
