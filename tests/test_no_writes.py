"""Nothing the tests or the examples run changes the repository: every example writes only
where it is told (``--out``) or into a new temporary folder; a reused NAS results folder
keeps no file of an earlier run; ``resume`` without a checkpoint is an error; and the
session guard of conftest.py (``git status`` before and after the run) can fail."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bilevel_mp.errors import BilevelInputError

from .conftest import ROOT, repo_state, state_changes

EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))
RUN_FILES = ("architecture.json", "checkpoint.pt", "decision_boundary.png", "history.csv",
             "losses.png")
WRITES = {   # example: (arguments, the files it must leave under {out}); others write nothing
    "toll_setting.py": (("--out", "{out}/figure.png"), ["figure.png"]),
    "nas_quickstart.py": (("--out", "{out}", "--budget-epochs", "3", "--retrain-epochs", "1"),
                          [f"darts2/{f}" for f in RUN_FILES + ("alpha.png",)]
                          + [f"random/{f}" for f in RUN_FILES]),
}


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())


def test_every_example_is_covered():
    assert len(EXAMPLES) >= 13 and set(WRITES) <= set(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_writes_only_where_it_is_told(name, run_example):
    """Run from an empty working folder: the repository's git status is unchanged, the
    working folder and TMPDIR stay empty, and ``{out}`` holds exactly the expected files."""
    if name == "nas_quickstart.py":
        pytest.importorskip("torch")
    args, expected = WRITES.get(name, ((), []))
    run = run_example(name, *args)
    assert run.repo_changes == [], f"{name} changed the repository: {run.repo_changes}"
    assert _files(run.cwd) == [], f"{name} wrote into its working folder"
    assert _files(run.tmp) == [], f"{name} wrote into TMPDIR although given --out"
    assert _files(run.out) == sorted(expected)


def test_toll_setting_figure_goes_to_a_new_temporary_folder_by_default(run_example):
    run = run_example("toll_setting.py")
    figure = Path(re.search(r"^figure: (.+)$", run.stdout, flags=re.M).group(1))
    assert figure.parent.parent == run.tmp and figure.parent.name.startswith("toll_setting_")
    assert _files(run.tmp) == [f"{figure.parent.name}/toll_setting.png"]
    assert figure.stat().st_size > 10_000
    assert run.repo_changes == [] and _files(run.cwd) == []


# --- the NAS results folder ---------------------------------------------------------------
@pytest.fixture
def run_search():
    pytest.importorskip("torch")
    from nas_frontend import run_search

    return run_search


def _random(run_search, out, **kw):
    return run_search("random", "mlp", "moons", budget=2, out_dir=out, progress=False,
                      train_epochs=1, **({"retrain_epochs": 0} | kw))


def test_a_fresh_run_removes_the_files_of_an_earlier_run(run_search, tmp_path, capfd):
    out = tmp_path / "run"
    run_search("darts1", "mlp", "moons", budget=1, out_dir=out, retrain_epochs=1, progress=False)
    assert {"alpha.png", "decision_boundary.png", "checkpoint.pt"} <= set(_files(out))
    (out / "notes.txt").write_text("the user's own file")
    capfd.readouterr()
    _random(run_search, out)
    err = capfd.readouterr().err
    assert (f"results folder {out}: removed checkpoint.pt, architecture.json, history.csv, "
            "losses.png, alpha.png, decision_boundary.png of an earlier run") in err, err
    assert _files(out) == ["architecture.json", "checkpoint.pt", "history.csv", "losses.png",
                           "notes.txt"]
    assert json.loads((out / "architecture.json").read_text())["method"] == "random"
    assert (out / "notes.txt").read_text() == "the user's own file"


def test_a_resumed_run_rewrites_its_results(run_search, tmp_path, capfd):
    out = tmp_path / "run"
    r1 = _random(run_search, out, retrain_epochs=1)
    assert "decision_boundary.png" in _files(out)
    capfd.readouterr()
    r2 = _random(run_search, out, resume=True)             # finished: nothing re-run
    assert "removed" not in capfd.readouterr().err
    assert r2.history == r1.history and "checkpoint.pt" in _files(out)
    assert "decision_boundary.png" not in _files(out)     # not retrained this time
    assert json.loads((out / "architecture.json").read_text())["retrained_test_acc"] is None


def test_resume_without_a_checkpoint_is_an_error(run_search, tmp_path):
    missing = tmp_path / "missing"
    msg = "nothing to resume: there is no checkpoint {}; run without resume to start a fresh"
    with pytest.raises(BilevelInputError, match=re.escape(msg.format(missing / "checkpoint.pt"))):
        _random(run_search, missing, resume=True)
    assert not missing.exists()                           # no results folder left behind
    stale = tmp_path / "stale"                            # results of a run, no checkpoint
    stale.mkdir()
    (stale / "losses.png").write_bytes(b"earlier run")
    with pytest.raises(BilevelInputError, match="nothing to resume"):
        _random(run_search, stale, resume=True)
    assert _files(stale) == ["losses.png"] and (stale / "losses.png").read_bytes() == b"earlier run"


def test_cli_resume_without_a_checkpoint_exits_2(tmp_path, capsys):
    pytest.importorskip("torch")
    from nas_frontend.cli import main

    out = tmp_path / "out"
    assert main(["--space", "mlp", "--method", "random", "--dataset", "moons",
                 "--budget-epochs", "2", "--train-epochs", "1", "--retrain-epochs", "0",
                 "--no-progress", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err == (f"bilevel-mp nas: error: nothing to resume: there is no checkpoint "
                   f"{out / 'checkpoint.pt'}; run without resume to start a fresh search there\n")
    assert not out.exists()


def test_cli_help_says_what_out_and_resume_do(capsys):
    from nas_frontend.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "without --resume the files an earlier run left there" in text
    assert "an error (exit 2) when there is none" in text


# --- the session guard --------------------------------------------------------------------
def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                   cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def repo(tmp_path):
    """A git work tree with a committed file, an ignored folder and a file already modified."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    (root / ".gitignore").write_text("ignored/\n__pycache__/\n.pytest_cache/\n")
    for name in ("tracked.txt", "dirty.txt"):
        (root / name).write_text("committed\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "start")
    (root / "dirty.txt").write_text("edited before the run\n")
    return root


def test_repo_state_sees_new_changed_and_rewritten_files_not_ignored_ones(repo):
    before = repo_state(repo)
    assert set(before) == {"dirty.txt"}
    (repo / "ignored").mkdir()
    (repo / "ignored" / "out.png").write_text("hidden on purpose")
    assert state_changes(before, repo_state(repo)) == []
    (repo / "new").mkdir()
    (repo / "new" / "deep.txt").write_text("x")
    (repo / "tracked.txt").write_text("changed\n")
    (repo / "dirty.txt").write_text("edited again by a test\n")   # same status, new content
    assert state_changes(before, repo_state(repo)) == [
        " M dirty.txt (content changed)", "?? new/deep.txt", " M tracked.txt"]


def test_repo_state_is_none_outside_the_top_of_a_work_tree(repo, tmp_path_factory):
    (repo / "sub").mkdir()
    assert repo_state(repo / "sub") is None
    assert repo_state(tmp_path_factory.mktemp("not_a_repo")) is None


def test_a_test_run_that_writes_into_the_repository_fails(repo):
    """conftest.py's guard in a repository of its own: a passing test that leaves a file
    in the work tree makes the run fail (exit status 1) and the file is listed."""
    tests = repo / "tests"
    tests.mkdir()
    shutil.copy(ROOT / "tests" / "conftest.py", tests / "conftest.py")
    (tests / "test_clean.py").write_text("def test_clean(tmp_path):\n"
                                         "    (tmp_path / 'x.txt').write_text('fine')\n")
    (tests / "test_writes.py").write_text(
        "from pathlib import Path\n\n"
        "def test_writes():\n"
        "    Path(__file__).parents[1].joinpath('stray.txt').write_text('x')\n")
    _git(repo, "add", "tests")
    _git(repo, "commit", "-q", "-m", "tests")

    def pytest_run(name):
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               f"tests/{name}"], cwd=repo, capture_output=True, text=True,
                              timeout=300)

    clean = pytest_run("test_clean.py")
    assert clean.returncode == 0, clean.stdout[-3000:]
    assert "changed the repository" not in clean.stdout
    dirty = pytest_run("test_writes.py")
    assert dirty.returncode == 1, dirty.stdout[-3000:]
    assert "1 passed" in dirty.stdout and "the test run changed the repository" in dirty.stdout
    assert "  ?? stray.txt" in dirty.stdout.splitlines()
