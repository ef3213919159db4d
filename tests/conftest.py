"""Shared fixtures, and the guard that the test run writes nothing into the repository:
``git status`` (with the content of every changed or untracked file) is recorded when the
session starts and compared when it ends; any difference fails the run and is listed."""

import hashlib
import os
import subprocess
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def fixed(var):
    """Fix an indexed Var at its current values (for reading a follower's LP data)."""
    for v in var.values():
        v.fix()
    try:
        yield
    finally:
        for v in var.values():
            v.unfix()


@dataclass
class ExampleRun:
    """One run of an example script: its stdout and stderr, the working folder it ran in
    (``cwd``), the TMPDIR it was given (``tmp``), the folder ``{out}`` in its arguments
    stood for (``out``), and the lines of :func:`state_changes` for the repository."""
    stdout: str
    stderr: str
    cwd: Path
    tmp: Path
    out: Path
    repo_changes: list = field(default_factory=list)


@pytest.fixture(scope="session")
def run_example(tmp_path_factory):
    """``run_example(name, *args) -> ExampleRun``: run ``examples/<name>`` as a script in a
    fresh empty working folder, with TMPDIR a fresh empty folder and ``{out}`` in ``args``
    replaced by a third one; asserts exit status 0. Each (name, args) runs once per session
    (tests of its output and of its writes share the run)."""
    runs = {}

    def run(name: str, *args: str) -> ExampleRun:
        if (name, args) not in runs:
            base = tmp_path_factory.mktemp(Path(name).stem)
            cwd, tmp, out = base / "cwd", base / "tmp", base / "out"
            for d in (cwd, tmp, out):
                d.mkdir()
            before = repo_state()
            r = subprocess.run([sys.executable, str(ROOT / "examples" / name),
                                *(a.replace("{out}", str(out)) for a in args)],
                               capture_output=True, text=True, timeout=600, cwd=cwd,
                               env={**os.environ, "TMPDIR": str(tmp), "OMP_NUM_THREADS": "1"})
            after = repo_state()
            assert r.returncode == 0, r.stderr[-2000:]
            changes = [] if before is None or after is None else state_changes(before, after)
            runs[name, args] = ExampleRun(r.stdout, r.stderr, cwd, tmp, out, changes)
        return runs[name, args]

    return run


@pytest.fixture(autouse=True)
def _quiet_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def linear_follower_lp(problem, x):
    """Independent re-solve of a linear follower at x with scipy's HiGHS-free path
    (``linprog`` method 'highs-ds' is HiGHS too, so use interior point 'highs-ipm'
    and cross-check): returns (f*, y*) or (None, None) if infeasible."""
    from pyomo.repn import generate_standard_repn

    problem.set_point(x=x)
    n = problem.n_y
    index = {id(problem.y[j]): j for j in range(n)}
    with fixed(problem.x):
        repn = generate_standard_repn(problem.f, compute_values=True)
        c = np.zeros(n)
        for v, a in zip(repn.linear_vars, repn.linear_coefs):
            c[index[id(v)]] += a
        const = repn.constant
        A_ub, b_ub, A_eq, b_eq = [], [], [], []
        for con in problem.g:
            r = generate_standard_repn(con.body, compute_values=True)
            row = np.zeros(n)
            for v, a in zip(r.linear_vars, r.linear_coefs):
                row[index[id(v)]] += a
            if con.kind == "eq":
                A_eq.append(row)
                b_eq.append(-r.constant)
            else:  # row·y + k >= 0  ->  -row·y <= k
                A_ub.append(-row)
                b_ub.append(r.constant)
    bounds = [(problem.y[j].lb, problem.y[j].ub) for j in range(n)]
    res = linprog(c, A_ub=np.array(A_ub) if A_ub else None, b_ub=b_ub or None,
                  A_eq=np.array(A_eq) if A_eq else None, b_eq=b_eq or None, bounds=bounds,
                  method="highs-ipm")
    if res.status != 0:
        return None, None
    return res.fun + const, res.x


# --- no writes into the repository -------------------------------------------------------
def _digest(path: Path):
    """Content hash of a file (a symlink's target name), None for a folder or a missing path."""
    try:
        if path.is_symlink():
            return "link:" + os.readlink(path)
        if path.is_file():
            return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        pass
    return None


def repo_state(root=ROOT):
    """``{path: (porcelain status, content hash)}`` of every changed or untracked,
    not-ignored file of the git work tree whose top folder is ``root``; None when ``root``
    is not the top of a work tree or git is missing or fails. The hash catches a rewrite of
    a file that was already modified (its status alone would not change)."""
    root = Path(root).resolve()
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}   # status must not take the index lock
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, env=env,
                             capture_output=True, text=True, timeout=120)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root:
            return None
        st = subprocess.run(["git", "status", "--porcelain", "-z", "--untracked-files=all"],
                            cwd=root, env=env, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return None
    if st.returncode != 0:
        return None
    fields = [os.fsdecode(f) for f in st.stdout.split(b"\0")]
    state, i = {}, 0
    while i < len(fields) and fields[i]:
        xy, path = fields[i][:2], fields[i][3:]
        i += 2 if ("R" in xy or "C" in xy) else 1     # -z: a rename's source path follows
        state[path] = (xy, _digest(root / path))
    return state


def state_changes(before: dict, after: dict) -> list[str]:
    """One line per path whose status or content differs: its porcelain status now and the
    path, "(content changed)" when only the content did, "(no longer in git status)" when
    it was committed, restored or deleted."""
    lines = []
    for path in sorted(before.keys() | after.keys()):
        if path not in after:
            lines.append(f"   {path} (no longer in git status)")
        elif before.get(path) != after[path]:
            same = path in before and before[path][0] == after[path][0]
            lines.append(f"{after[path][0]} {path}" + (" (content changed)" if same else ""))
    return lines


_BEFORE = pytest.StashKey[dict]()
_WRITTEN = pytest.StashKey[list]()


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):     # the controller only, under xdist
        state = repo_state()
        if state is not None:
            session.config.stash[_BEFORE] = state


def pytest_sessionfinish(session, exitstatus):
    before = session.config.stash.get(_BEFORE, None)
    after = None if before is None else repo_state()
    if after is None:
        return
    written = state_changes(before, after)
    if written:
        session.config.stash[_WRITTEN] = written
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    written = config.stash.get(_WRITTEN, None)
    if written:
        terminalreporter.section("the test run changed the repository", red=True)
        terminalreporter.write_line(
            f"git status in {ROOT} differs from the start of the run (tests and examples "
            "must write only to tmp_path or a temporary folder):")
        for line in written:
            terminalreporter.write_line(f"  {line}")
