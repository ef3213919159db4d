"""The optional ``nas`` extra (torch, scikit-learn, mnist1d): without it, every entry point of
the NAS/HPO front end fails with one line naming the extra to install, and ``bilevel-mp
--help`` / ``bilevel-mp solve`` keep working; with it, building the command line imports no
torch.

Each check runs in a subprocess whose import system cannot find the hidden packages, as if
they were not installed (a PathFinder that does not find them). Putting ``None`` into
``sys.modules["torch"]`` instead is no such simulation: scipy looks torch up in
``sys.modules`` and then fails to import at all.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXTRA = "pip install 'bilevel-mp[nas]'"

HIDE = textwrap.dedent("""
    import importlib.machinery as _m, sys
    _HIDDEN = set({hidden!r})
    class _Hide(_m.PathFinder):
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name.partition(".")[0] in _HIDDEN:
                return None
            return super().find_spec(name, path, target)
    sys.meta_path[:] = [_Hide if f is _m.PathFinder else f for f in sys.meta_path]
    for _name in _HIDDEN:
        try:
            __import__(_name)
        except ImportError:
            pass
        else:
            raise SystemExit(f"could not hide {{_name}}")
""")

# Runs bilevel-mp's main() in-process and records exit code, stdout, stderr and any
# exception that escaped it (a traceback the user would see).
HARNESS = textwrap.dedent("""
    import contextlib, io, json, traceback
    from bilevel_mp.cli import main

    def cli(*argv):
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = main(list(argv))
        except SystemExit as e:
            rc = e.code
        except BaseException:
            rc = "traceback: " + traceback.format_exc()
        return {"rc": rc, "out": out.getvalue(), "err": err.getvalue()}

    def raises(fn):
        try:
            fn()
        except BaseException as e:
            return {"type": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__],
                    "msg": str(e)}
        return None
""")


def _run(hidden, body, tmp_path):
    code = HIDE.format(hidden=tuple(hidden)) + HARNESS + textwrap.dedent(body) + \
        "\nprint('RESULT', json.dumps(R))\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       timeout=180, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    line = [s for s in r.stdout.splitlines() if s.startswith("RESULT ")]
    assert line, r.stdout[-2000:] + r.stderr[-2000:]
    return json.loads(line[-1][len("RESULT "):])


def _one_line_error(res, *words):
    assert res["rc"] == 2, res
    lines = res["err"].strip().splitlines()
    assert len(lines) == 1, res["err"]
    assert lines[0].startswith("bilevel-mp nas: error: "), lines
    for w in words:
        assert w in lines[0], (w, lines[0])


def _missing_extra(exc, *words):
    assert exc is not None, "no error raised"
    assert "MissingExtraError" in exc["mro"] and "ImportError" in exc["mro"], exc
    assert "\n" not in exc["msg"] and EXTRA in exc["msg"], exc
    for w in words:
        assert w in exc["msg"], (w, exc)


@pytest.fixture(scope="module")
def without_torch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("notorch")
    (tmp / "p.json").write_text(json.dumps({
        "name": "tiny", "n_x": 1, "n_y": 1, "F": "x[0] + y[0]", "f": "-y[0]",
        "G": ["x[0]", "1 - x[0]"], "g": ["y[0]", "x[0] + 1 - y[0]"]}))
    body = """
        import sys, argparse
        R = {"help": cli("--help"), "nas_help": cli("nas", "--help"),
             "solve": cli("solve", "p.json")}
        R["nas"] = {m: cli("nas", "--space", "cell3", "--method", m, "--budget-epochs", "30",
                           "--out", "out_" + m)
                    for m in ("mp", "darts1", "darts2", "random", "evolution", "grid")}
        import nas_frontend, models
        R["api"] = {n: raises(lambda n=n: getattr(nas_frontend, n)) for n in
                    ("run_search", "load_data", "mp_search", "darts_search", "random_search",
                     "evolution_search", "grid_search")}
        R["run_search_call"] = raises(lambda: nas_frontend.run_search("mp", "cell3", budget=10))
        R["models"] = raises(lambda: models.make_net)
        R["names"] = list(models.SPACE_NAMES)
        from nas_frontend import Budget, parse_resource
        R["light"] = parse_resource("flops:5") == ("flops", 5.0) and Budget(epochs=1).epochs == 1
        import nas_frontend.cli, nas_frontend.plots, nas_frontend.truth
        nas_frontend.cli.add_parser(argparse.ArgumentParser().add_subparsers())
        def mlp():
            from nas_frontend.hpo import BilevelMLPRegressor
        def mlpc():
            from nas_frontend.hpo import BilevelMLPClassifier
        R["hpo_mlp"], R["hpo_mlpc"] = raises(mlp), raises(mlpc)
        import numpy as np
        from nas_frontend.hpo import BilevelRidge
        X = np.random.default_rng(0).normal(size=(40, 3))
        BilevelRidge(max_iter=2).fit(X, X[:, 0])
        R["torch_imported"] = "torch" in sys.modules
        R["out_dirs"] = sorted(p for p in __import__("os").listdir(".") if p.startswith("out_"))
    """
    return _run(["torch"], body, tmp)


def test_cli_help_and_solve_work_without_torch(without_torch):
    r = without_torch
    assert r["help"]["rc"] == 0 and "nas" in r["help"]["out"], r["help"]
    assert r["nas_help"]["rc"] == 0 and "--budget-epochs" in r["nas_help"]["out"], r["nas_help"]
    assert r["solve"]["rc"] == 0 and "optimal" in r["solve"]["out"], r["solve"]
    assert not r["torch_imported"]


@pytest.mark.parametrize("method", ["mp", "darts1", "darts2", "random", "evolution", "grid"])
def test_nas_cli_without_torch_is_one_line_naming_the_extra(without_torch, method):
    _one_line_error(without_torch["nas"][method], "torch", EXTRA)
    assert without_torch["out_dirs"] == []                   # refused before anything


def test_python_api_without_torch_names_the_extra(without_torch):
    r = without_torch
    for name, exc in r["api"].items():
        _missing_extra(exc, "torch")
    _missing_extra(r["run_search_call"], "torch")
    _missing_extra(r["models"], "torch")
    _missing_extra(r["hpo_mlp"], "torch", "BilevelMLPRegressor")
    _missing_extra(r["hpo_mlpc"], "torch")
    assert r["names"] == ["cell3", "cell4", "mlp"] and r["light"]


@pytest.fixture(scope="module")
def without_sklearn_and_mnist1d(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nosk")
    body = """
        import sys
        from bilevel_mp.cli import build_parser
        build_parser()
        R = {"torch_at_parse": "torch" in sys.modules}     # registering `nas` imports no torch
        R["help"] = cli("--help")
        def ridge():
            from nas_frontend.hpo import BilevelRidge
        R["ridge"] = raises(ridge)
        common = ["--budget-epochs", "3", "--train-epochs", "1", "--no-progress",
                  "--retrain-epochs", "0"]
        R["moons"] = cli("nas", "--space", "mlp", "--method", "random", "--dataset", "moons",
                         "--out", "o1", *common)
        R["digits"] = cli("nas", "--space", "mlp", "--method", "grid", "--dataset", "digits",
                          "--out", "o2", *common)
        R["mnist1d"] = cli("nas", "--space", "mlp", "--method", "darts1", "--dataset", "mnist1d",
                           "--out", "o3", "--budget-epochs", "1", "--no-progress")
    """
    return _run(["sklearn", "mnist1d"], body, tmp)


def test_registering_nas_imports_no_torch(without_sklearn_and_mnist1d):
    assert without_sklearn_and_mnist1d["torch_at_parse"] is False
    assert without_sklearn_and_mnist1d["help"]["rc"] == 0


def test_hpo_without_sklearn_names_the_extra(without_sklearn_and_mnist1d):
    _missing_extra(without_sklearn_and_mnist1d["ridge"], "scikit-learn", "nas_frontend.hpo")


@pytest.mark.parametrize("dataset,package", [("moons", "scikit-learn"), ("digits", "scikit-learn"),
                                             ("mnist1d", "mnist1d")])
def test_nas_cli_without_a_data_set_package_names_the_extra(without_sklearn_and_mnist1d, dataset,
                                                           package):
    _one_line_error(without_sklearn_and_mnist1d[dataset], f"the {dataset} data set needs {package}",
                    EXTRA)
