"""NAS baselines (DARTS 1st/2nd order, random, evolution, grid), the runner and `nas` CLI."""

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from bilevel_mp.errors import BilevelInputError  # noqa: E402
from models import spaces  # noqa: E402
from nas_frontend import Budget  # noqa: E402
from nas_frontend.common import METHODS, BudgetProgress, one_thread, parse_resource  # noqa: E402
from nas_frontend.darts import darts_search, finite_difference_hvp  # noqa: E402
from nas_frontend.evolution import evolution_search, neighbours  # noqa: E402
from nas_frontend.grid import grid_search  # noqa: E402
from nas_frontend.mp_search import mp_search  # noqa: E402
from nas_frontend.random_search import random_search  # noqa: E402
from nas_frontend.runner import SEARCHERS, load_data, run_search  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLERS = {"random": random_search, "evolution": evolution_search, "grid": grid_search}
one_thread()


@pytest.fixture(scope="module")
def digits():
    return load_data("digits", 0)


@pytest.fixture
def table(tmp_path):
    """A synthetic ground-truth CSV for cell3 on 'digits': 2 seeds per architecture,
    accuracy rising with the number of convolutions, 40 epochs and 2 s per training."""
    path = tmp_path / "cell3.csv"
    cols = ["space", "dataset", "genotype", "params", "seed", "epochs", "train_acc",
            "val_acc", "val_loss", "test_acc", "seconds"]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for i, g in enumerate(spaces.all_genotypes("cell3")):
            convs = sum(o in ("conv3", "conv5") for o in g)
            for seed in (0, 1):
                acc = 0.3 + 0.2 * convs + 0.001 * ((i * 7 + seed) % 10)
                w.writerow({"space": "cell3", "dataset": "digits", "genotype": "|".join(g),
                            "params": spaces.exact_params("cell3", g, 64), "seed": seed,
                            "epochs": 40, "train_acc": acc, "val_acc": acc, "val_loss": 1 - acc,
                            "test_acc": acc, "seconds": 2.0})
    return path


# --- each baseline on a tiny budget ----------------------------------------------------------
@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_sampler_tiny_budget(method, digits):
    r = SAMPLERS[method]("mlp", digits, Budget(epochs=3), seed=0, train_epochs=1, progress=False)
    assert spaces.validate("mlp", r.genotype) == r.genotype
    assert 3 <= r.epochs_used <= 3 + 1                     # one unit = one 1-epoch training
    assert r.info["evaluated"] == 3
    evaluated = {h["genotype"]: h["val_acc"] for h in r.history}
    assert evaluated["|".join(r.genotype)] == max(evaluated.values())


@pytest.mark.parametrize("space,order", [("mlp", 1), ("mlp", 2), ("cell3", 1), ("cell3", 2)])
def test_darts_tiny_budget(space, order, digits):
    r = darts_search(space, digits, Budget(epochs=1), seed=0, order=order, progress=False)
    assert spaces.validate(space, r.genotype) == r.genotype
    per_iter = {1: 2, 2: 5}[order] / 18                   # 1150 training rows / batch 64
    assert 1 <= r.epochs_used <= 1 + per_iter + 1e-9
    assert r.info["iterations"] == len(r.history) == pytest.approx(18 / {1: 2, 2: 5}[order], abs=1)
    P = torch.tensor(r.history[-1]["probs"])
    assert torch.allclose(P.sum(dim=1), torch.ones(len(P)), atol=1e-5)


def test_seconds_budget_below_one_unit_still_evaluates_once(digits):
    r = random_search("mlp", digits, Budget(seconds=1e-6), train_epochs=1, progress=False)
    assert r.info["evaluated"] == 1 and r.epochs_used == 1
    d = darts_search("mlp", digits, Budget(seconds=1e-6), order=1, progress=False)
    assert d.info["iterations"] == 1 and d.epochs_used == pytest.approx(2 / 18)


@pytest.mark.parametrize("order,passes", [(1, 2), (2, 5)])
def test_darts_refuses_an_epoch_budget_below_one_iteration(digits, order, passes):
    unit = passes / 18                                    # 1150 training rows / batch 64
    with pytest.raises(BilevelInputError, match=rf"darts{order}: a budget of 0.001 epochs is "
                       rf"less than one evaluation \(one darts{order} iteration: {passes} "
                       rf"minibatch passes = {unit:.3g} epochs on digits\).*give a budget of "
                       rf"{math.ceil(unit * 100) / 100:g} epochs or more"):
        darts_search("mlp", digits, Budget(epochs=1e-3), order=order, progress=False)
    d = darts_search("mlp", digits, Budget(epochs=unit), order=order, progress=False)
    assert d.info["iterations"] == 1 and d.epochs_used == pytest.approx(unit)


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_samplers_refuse_an_epoch_budget_below_one_training(method, digits):
    with pytest.raises(BilevelInputError, match=rf"{method}: a budget of 2.5 epochs is less than "
                       r"one evaluation \(training an architecture for train_epochs = 3 "
                       r"epochs\).*give a budget of 3 epochs or more, or fewer train_epochs"):
        SAMPLERS[method]("mlp", digits, Budget(epochs=2.5), train_epochs=3, progress=False)


def test_table_oracle_refuses_an_epoch_budget_below_one_recorded_training(table, digits):
    with pytest.raises(BilevelInputError, match=r"random: a budget of 39 epochs is less than one "
                       r"evaluation \(an architecture's 40 training epochs, charged as recorded "
                       r"in the ground-truth table\).*give a budget of 40 epochs or more$"):
        random_search("cell3", digits, Budget(epochs=39), oracle="table", table=table)
    r = random_search("cell3", digits, Budget(epochs=40), oracle="table", table=table,
                      progress=False)
    assert r.info["evaluated"] == 1 and r.epochs_used == 40


# --- resource budgets ----------------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_samplers_respect_resource_budget(method, digits):
    bound = 10_000           # params: excludes most 2- and 3-block MLPs on 64 inputs
    r = SAMPLERS[method]("mlp", digits, Budget(epochs=4), seed=1, resource=("params", bound),
                         train_epochs=1, progress=False)
    assert r.info["resource_ok"] and r.info["params"] <= bound
    assert all(spaces.exact_params("mlp", spaces.parse_genotype(h["genotype"]), 64) <= bound
               for h in r.history)
    assert r.info["candidates"] < len(spaces.all_genotypes("mlp"))


def _smallest(space, kind, n_features, n_classes):
    f = spaces.exact_params if kind == "params" else spaces.exact_flops
    return min((f(space, g, n_features, n_classes), g) for g in spaces.all_genotypes(space))


@pytest.mark.parametrize("space,kind", [("cell3", "params"), ("cell4", "flops"), ("mlp", "params")])
@pytest.mark.parametrize("search", METHODS)
def test_unreachable_resource_bound_is_refused_before_searching(digits, space, kind, search,
                                                                monkeypatch):
    cost, g = _smallest(space, kind, 64, 10)
    fn = {"mp": mp_search, "darts1": darts_search, "darts2": darts_search, **SAMPLERS}[search]
    kw = ({"order": int(search[-1])} if search.startswith("darts") else
          {} if search == "mp" else {"train_epochs": 1})
    monkeypatch.setattr("nas_frontend.space.spaces.make_supernet", _no_search)
    monkeypatch.setattr(torch.optim.SGD, "step", _no_search)   # DARTS' weight step
    monkeypatch.setattr("nas_frontend.discrete.train", _no_search)   # the sampling oracle
    with pytest.raises(BilevelInputError, match=rf"^resource bound {kind} <= {cost - 1} is below "
                       rf"the smallest architecture of {space} on digits: {cost} {kind} "
                       rf"\({re.escape('|'.join(g))}\); raise the bound to at least {cost} "
                       rf"\(--resource {kind}:{cost}\)$"):
        fn(space, digits, Budget(epochs=5), resource=(kind, cost - 1), progress=False, **kw)
    assert spaces.validate(space, g) == g


def _no_search(*a, **kw):
    raise AssertionError("searched although the input was refused")


def test_runner_refuses_an_unreachable_bound_before_making_the_folder(tmp_path):
    with pytest.raises(BilevelInputError, match="below the smallest architecture of cell3 on "
                                                "moons: 160 flops"):
        run_search("darts2", "cell3", "moons", budget=5, resource="flops:100",
                   out_dir=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_table_oracle_resource_bound_below_the_table(table, digits, tmp_path):
    lines = table.read_text().splitlines()
    part = tmp_path / "convs.csv"                          # only cells with a conv3 on edge 0
    part.write_text("\n".join([lines[0]] + [ln for ln in lines[1:] if ",conv3|" in ln]) + "\n")
    cheapest_conv = min(spaces.exact_params("cell3", g, 64) for g in spaces.all_genotypes("cell3")
                        if g[0] == "conv3")
    with pytest.warns(UserWarning), pytest.raises(
            BilevelInputError, match=rf"smallest architecture of cell3 in the ground-truth table "
                                     rf"on digits: {cheapest_conv} params"):
        random_search("cell3", digits, Budget(epochs=400), oracle="table", table=part,
                      resource=("params", cheapest_conv - 1))


def test_darts_resource_penalty_reports_feasibility(digits):
    r = darts_search("mlp", digits, Budget(epochs=1), order=1, resource="params:7000",
                     progress=False, resource_weight=50.0, alpha_lr=0.05)
    assert any(h["penalty"] > 0 for h in r.history)
    assert r.info["cost"] == spaces.exact_params("mlp", r.genotype, 64)
    assert r.info["resource_ok"] == (r.info["cost"] <= 7000)
    # the penalty pushed the expected parameter count down
    assert r.history[-1]["penalty"] < r.history[0]["penalty"]


# --- the ground-truth table oracle -----------------------------------------------------------
@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_table_oracle_charges_recorded_cost(method, table, digits):
    r = SAMPLERS[method]("cell3", digits, Budget(epochs=400), seed=3, oracle="table",
                         table=table, progress=False)
    n = r.info["evaluated"]
    assert r.epochs_used == 40 * n and 400 <= r.epochs_used <= 440
    assert r.seconds >= 2.0 * n                           # recorded seconds charged
    rows = {row["genotype"]: row for row in csv.DictReader(table.open()) if row["seed"] == "1"}
    for h in r.history:                                   # seed 3 reads the seed-1 rows
        assert h["val_acc"] == pytest.approx(float(rows[h["genotype"]]["val_acc"]))
    if method == "grid":
        assert [h["genotype"] for h in r.history] == [
            "|".join(g) for g in spaces.all_genotypes("cell3")[:n]]


def test_table_oracle_partial_table_and_missing_table(table, digits, tmp_path):
    lines = table.read_text().splitlines()
    part = tmp_path / "part.csv"
    part.write_text("\n".join(lines[:41]) + "\n")         # 20 architectures, 2 seeds
    with pytest.warns(UserWarning, match="covers 20 of 125"):
        r = random_search("cell3", digits, Budget(epochs=10_000), oracle="table", table=part,
                          progress=False)
    assert r.info["evaluated"] == 20                       # stops when all are evaluated
    with pytest.raises(ValueError, match="no ground-truth rows"):
        random_search("cell4", digits, Budget(epochs=10), oracle="table", table=table)


def test_evolution_mutates_one_edge_or_slot():
    g = ("conv3", "skip", "none")
    nb = neighbours("cell3", g)
    assert len(nb) == 3 * 4 and all(sum(a != b for a, b in zip(g, k)) == 1 for k in nb)
    m = neighbours("mlp", ("relu16", "tanh32"))
    assert ("relu16",) in m and ("tanh32",) in m and ("relu16", "tanh32", "tanh64") in m
    assert all(spaces.validate("mlp", k) == k for k in m) and ("relu16", "tanh32") not in m


# --- DARTS-2: finite-difference mixed product ------------------------------------------------
def _exact_mixed_product(loss_fn, weights, alpha, v):
    g_w = torch.autograd.grad(loss_fn(), weights, create_graph=True)
    return torch.autograd.grad(sum((g * d).sum() for g, d in zip(g_w, v)), alpha)[0]


def test_darts2_finite_difference_hvp_matches_exact_smooth_net():
    """At DARTS' own eps = 0.01 / ||v|| on a smooth (tanh) net: O(eps^2) agreement."""
    torch.manual_seed(0)
    alpha = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    W1 = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    W2 = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    x, y = torch.randn(16, 5, dtype=torch.float64), torch.randint(0, 2, (16,))

    def loss_fn():
        p = torch.softmax(alpha, dim=1)
        h = sum(p[0, k] * torch.tanh(x @ W1[k]) for k in range(3))     # mixed layer 1
        out = sum(p[1, k] * torch.tanh(h @ W2[k]) for k in range(3))  # mixed layer 2
        return torch.nn.functional.cross_entropy(out, y)

    v = [torch.randn_like(W1), torch.randn_like(W2)]
    exact = _exact_mixed_product(loss_fn, [W1, W2], alpha, v)
    scale = exact.abs().max()
    err = {r: (finite_difference_hvp(loss_fn, [W1, W2], alpha, v, r=r) - exact).abs().max()
           / scale for r in (0.01, 0.001)}
    assert scale > 1e-2 and err[0.01] < 1e-4
    assert err[0.001] < err[0.01] / 50                    # central differences: O(eps^2)


def test_darts2_finite_difference_hvp_matches_exact_supernet():
    """On the (ReLU) MLP supernet: exact to 1e-7 relative once eps is small enough not to
    cross ReLU kinks (at DARTS' r = 0.01 this tiny net is off by ~20%: kinks are crossed)."""
    torch.manual_seed(0)
    net = spaces.make_supernet("mlp", n_features=2, n_classes=2, D=8,
                               alpha_init_std=0.5).double()
    x, y = torch.randn(32, 2, dtype=torch.float64), torch.randint(0, 2, (32,))
    alpha, weights = net.arch_parameters()[0], net.weight_parameters()
    loss_fn = lambda: torch.nn.functional.cross_entropy(net(x), y)  # noqa: E731
    v = [torch.randn_like(p) for p in weights]
    exact = _exact_mixed_product(loss_fn, weights, alpha, v)
    before = [p.detach().clone() for p in weights]
    fd = finite_difference_hvp(loss_fn, weights, alpha, v, r=1e-4)
    assert exact.abs().max() > 1e-3                       # a non-trivial product
    assert torch.allclose(fd, exact, rtol=1e-6, atol=1e-7 * exact.abs().max())
    assert all(torch.equal(p, b) for p, b in zip(weights, before))   # weights restored


# --- checkpoint -> resume --------------------------------------------------------------------
class _Crash(Exception):
    pass


def _crashing_progress(after):
    class P(BudgetProgress):
        calls = 0

        def update(self, text=""):
            P.calls += 1
            if P.calls > after:
                raise _Crash
    return P


def test_darts2_resume_after_crash_gives_same_trajectory(digits, tmp_path, monkeypatch):
    import nas_frontend.darts as darts

    kw = dict(order=2, progress=False, checkpoint_every=3)
    full = darts_search("mlp", digits, Budget(epochs=3), seed=5, **kw)
    ck = tmp_path / "ck.pt"
    monkeypatch.setattr(darts, "BudgetProgress", _crashing_progress(7))  # dies at iteration 8
    with pytest.raises(_Crash):
        darts_search("mlp", digits, Budget(epochs=3), seed=5, checkpoint=ck, **kw)
    monkeypatch.undo()
    assert torch.load(ck, weights_only=False)["iter"] == 6
    resumed = darts_search("mlp", digits, Budget(epochs=3), seed=5, checkpoint=ck, resume=True,
                           **kw)
    strip = lambda hs: [{k: v for k, v in h.items() if k != "seconds"} for h in hs]  # noqa
    assert len(full.history) > 8 and strip(resumed.history) == strip(full.history)
    assert resumed.genotype == full.genotype and resumed.alpha == full.alpha
    with pytest.raises(ValueError, match="checkpoint holds"):
        darts_search("mlp", digits, Budget(epochs=3), seed=6, checkpoint=ck, resume=True, **kw)


def test_evolution_resume_after_crash_gives_same_trajectory(digits, tmp_path, monkeypatch):
    import nas_frontend.discrete as discrete

    kw = dict(train_epochs=1, population=3, sample=2, progress=False)
    full = evolution_search("mlp", digits, Budget(epochs=7), seed=2, **kw)
    ck = tmp_path / "evo.pt"
    monkeypatch.setattr(discrete, "BudgetProgress", _crashing_progress(4))
    with pytest.raises(_Crash):
        evolution_search("mlp", digits, Budget(epochs=7), seed=2, checkpoint=ck, **kw)
    monkeypatch.undo()
    resumed = evolution_search("mlp", digits, Budget(epochs=7), seed=2, checkpoint=ck,
                               resume=True, **kw)
    key = lambda hs: [(h["genotype"], h["val_acc"], h["epochs"]) for h in hs]  # noqa: E731
    assert key(resumed.history) == key(full.history) and resumed.genotype == full.genotype


# --- the runner and the CLI ------------------------------------------------------------------
def test_runner_writes_results_folder_with_plots(tmp_path):
    out = tmp_path / "run"
    r = run_search("darts1", "mlp", "moons", budget=2, seed=0, out_dir=out, retrain_epochs=3,
                   progress=False, resource="params:6000")
    for f in ("architecture.json", "history.csv", "losses.png", "alpha.png",
              "decision_boundary.png", "checkpoint.pt"):
        assert (out / f).stat().st_size > 0, f
    d = json.loads((out / "architecture.json").read_text())
    assert d["method"] == "darts1" and tuple(d["genotype"]) == r.genotype
    assert d["params"] == spaces.exact_params("mlp", r.genotype, 2, 2)
    assert d["flops"] == spaces.exact_flops("mlp", r.genotype, 2, 2)
    assert d["retrained_test_acc"] == r.info["retrain"]["test_acc"]
    assert 0.5 <= d["retrained_test_acc"] <= 1            # two moons: better than chance
    assert d["resource_ok"] == (d["params"] <= 6000)
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert len(rows) == len(r.history) and "probs[slot 0][relu16]" in rows[0]


def test_runner_sampler_results_and_resume(tmp_path):
    out = tmp_path / "rnd"
    r1 = run_search("random", "mlp", "moons", budget=2, out_dir=out, retrain_epochs=1,
                    progress=False, train_epochs=1)
    assert (out / "losses.png").exists() and not (out / "alpha.png").exists()
    r2 = run_search("random", "mlp", "moons", budget=2, out_dir=out, retrain_epochs=1,
                    progress=False, train_epochs=1, resume=True)   # finished: nothing re-run
    assert r2.history == r1.history and r2.genotype == r1.genotype


@pytest.mark.parametrize("kw,match", [
    (dict(method="dart"), "unknown method"), (dict(space="cell9"), "unknown search space"),
    (dict(dataset="cifar10"), "unknown dataset"), (dict(budget=0), "must be > 0"),
    (dict(resource="params=5"), "malformed resource"), (dict(resource="mem:5"), "unknown resource"),
    (dict(resource="params:-1"), "positive"), (dict(retrain_epochs=-1), "retrain_epochs"),
])
def test_runner_bad_input(kw, match, tmp_path):
    args = dict(method="random", space="mlp", dataset="moons", budget=1, out_dir=tmp_path,
                progress=False) | kw
    with pytest.raises(ValueError, match=match):
        run_search(**args)


def test_runner_dispatches_every_method():
    assert tuple(SEARCHERS) == METHODS


def test_searchers_do_not_import_the_runner():
    """The searchers share plumbing through nas_frontend.common, not the dispatcher."""
    code = ("import sys, nas_frontend.darts, nas_frontend.mp_search, nas_frontend.random_search, "
            "nas_frontend.evolution, nas_frontend.grid\n"
            "assert 'nas_frontend.runner' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr


def test_runner_dispatches_mp(tmp_path):
    r = run_search("mp", "mlp", "moons", budget=2, out_dir=tmp_path, retrain_epochs=1,
                   progress=False, resource="params:4000", warmup_epochs=0.25)
    assert r.info["iterations"] >= 1
    d = json.loads((tmp_path / "architecture.json").read_text())
    assert d["method"] == "mp" and tuple(d["genotype"]) == r.genotype
    assert d["resource_ok"] and d["params"] <= 4000


@pytest.mark.parametrize("argv,msg", [
    (["--method", "nope"], "invalid choice"), (["--space", "cell9"], "invalid choice"),
    (["--dataset", "cifar"], "invalid choice"), (["--resource", "params20000"], "malformed"),
])
def test_cli_bad_arguments_exit_2(argv, msg, capsys):
    from nas_frontend.cli import main

    base = {"--space": "mlp", "--method": "random", "--dataset": "moons"}
    for k, v in zip(argv[::2], argv[1::2]):
        base[k] = v
    args = [x for kv in base.items() for x in kv] + ["--budget-epochs", "1"]
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2 and msg in capsys.readouterr().err


def test_cli_zero_budget_and_run(tmp_path, capsys):
    from nas_frontend.cli import main

    base = ["--space", "mlp", "--method", "grid", "--dataset", "moons", "--no-progress",
            "--out", str(tmp_path / "g")]
    assert main(base + ["--budget-epochs", "0"]) == 2
    assert "budget epochs must be > 0" in capsys.readouterr().err
    assert main(base) == 2 and "give a budget" in capsys.readouterr().err
    assert main(base + ["--budget-epochs", "2", "--train-epochs", "1", "--retrain-epochs", "1",
                        "--resource", "params:2500"]) == 0
    out = capsys.readouterr().out
    assert "grid on mlp/moons" in out and "resource params <= 2500: met" in out


BAD_CLI = {   # name: (options replacing or adding to the base ones, extra flags, message)
    "inf budget": ({"--budget-epochs": "inf"}, [], "budget epochs must be > 0 and finite, got inf"),
    "nan seconds": ({"--budget-seconds": "nan"}, [], "budget seconds must be > 0 and finite"),
    "huge seed": ({"--seed": str(10 ** 20)}, [], "seed must be an integer from -2**63"),
    "out is a file": ({"--out": "{tmp}/file"}, [],
                      "cannot create the results folder {tmp}/file: File exists"),
    "corrupt checkpoint": ({"--out": "{tmp}/ck"}, ["--resume"],
                           "cannot read the checkpoint {tmp}/ck/checkpoint.pt"),
    "oracle option for darts": ({"--method": "darts1", "--train-epochs": "0"}, [],
                                "--oracle/--train-epochs/--table apply to random"),
    "table without columns": ({"--oracle": "table", "--table": "{tmp}/bad.csv"}, [],
                              "{tmp}/bad.csv is not a ground-truth table: no column seed"),
    "unreachable resource": ({"--method": "darts2", "--resource": "params:10"}, [],
                             "resource bound params <= 10 is below the smallest architecture of "
                             "cell3 on moons"),
    "budget below a training": ({"--method": "grid", "--budget-epochs": "1"}, [],
                                "grid: a budget of 1 epochs is less than one evaluation"),
    "budget below a DARTS step": ({"--method": "darts2", "--budget-epochs": "0.01"}, [],
                                  "darts2: a budget of 0.01 epochs is less than one evaluation"),
    "budget within mp's warm-up": ({"--method": "mp", "--budget-epochs": "1"}, [],
                                   "mp: a budget of 1 epochs ends before the first MP iteration: "
                                   "the weight warm-up takes warmup_epochs = 2"),
}


@pytest.mark.parametrize("case", list(BAD_CLI))
def test_cli_bad_values_give_one_line_and_exit_2(case, tmp_path, capsys):
    from nas_frontend.cli import main

    (tmp_path / "bad.csv").write_text("space,dataset,genotype\ncell3,moons,none|none|none\n")
    (tmp_path / "file").write_text("")
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "checkpoint.pt").write_text("not a checkpoint")
    opts, flags, msg = BAD_CLI[case]
    base = {"--space": "cell3", "--method": "random", "--dataset": "moons",
            "--budget-epochs": "30", "--out": "{tmp}/out", "--retrain-epochs": "0"} | opts
    args = [x.replace("{tmp}", str(tmp_path)) for kv in base.items() for x in kv]
    assert main(args + flags + ["--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bilevel-mp nas: error: "), err
    assert msg.replace("{tmp}", str(tmp_path)) in err, err


def test_parse_resource_forms():
    assert parse_resource(None) is None
    assert parse_resource("params:20000") == parse_resource(("params", 20000)) \
        == parse_resource({"params": "2e4"}) == ("params", 20000.0)
