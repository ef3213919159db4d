"""Batch solves on a Dask cluster: the ``bilevel-mp bench`` batch, spread over Dask
workers (``dask.distributed``) instead of local processes.

    from dask.distributed import Client
    from bilevel_mp.batch import solve_many
    records = solve_many(entries, client="tcp://scheduler:8786", time_limit=60)

``client`` is a ``distributed.Client``, a scheduler address, or ``None`` (a temporary
``LocalCluster`` with ``jobs`` single-threaded worker processes). Items are BOLIB dicts or
``BilevelProblem`` objects (e.g. read from MPS+AUX files), shipped to the workers by
pickling, so workers need ``bilevel-mp`` installed but no shared file system. Records
are those of ``bilevel_mp.bench.run``, in input order, with ``verdict``.

``isolate=True`` solves each problem in a fresh ``python -m bilevel_mp.batch`` child
of the worker, killed after ``2 * time_limit + 30`` s, as ``bench`` does locally;
otherwise the solve runs inside the worker and only the solvers' own time limits hold.
Install with ``pip install "bilevel-mp[cluster]"``; see docs/cluster.md.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .clock import with_grace
from . import bench
from .errors import BilevelError, SolverUnavailableError

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler address
IMPORT_SECONDS = 10.0  # a fresh Python importing bilevel_mp, pyomo and the solvers


def _distributed():
    try:
        import distributed
    except ImportError:
        raise SolverUnavailableError(
            "Dask is not installed: pip install 'bilevel-mp[cluster]' (dask[distributed])") from None
    return distributed


def solve_many(problems, client=None, time_limit: float = 60.0, method: str = "auto",
               jobs: int | None = None, isolate: bool = False, progress: bool = False,
               **solve_kwargs) -> list[dict]:
    """Solve every item on Dask workers; one record each, in input order.

    ``client``: a ``distributed.Client``, a scheduler address (``"tcp://host:8786"``), or
    ``None`` for a temporary local cluster of ``jobs`` workers (default: CPU count).
    Other keywords go to ``bilevel_mp.solve``. A failing problem gives a record with
    status ``error`` (or ``time_limit`` when an isolated child was killed); the batch
    goes on."""
    dd = _distributed()
    problems = list(problems)
    options = {"time_limit": time_limit, "method": method,
               **solve_kwargs}
    # a fresh interpreter per item (isolate): its imports count on top of the fork's start-up
    hard = None if time_limit is None else with_grace(time_limit) + bench.STARTUP_SECONDS + IMPORT_SECONDS
    owned = []
    try:
        if client is None:
            cluster = dd.LocalCluster(n_workers=max(1, jobs or os.cpu_count() or 1), threads_per_worker=1,
                                      processes=True, dashboard_address=None)
            owned.append(cluster)
            client = dd.Client(cluster)
            owned.insert(0, client)
        elif isinstance(client, str):
            try:
                client = dd.Client(client, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                raise BilevelError(f"could not reach the Dask scheduler at {client!r}: {exc}") from None
            owned.append(client)
        futures = [client.submit(_task, item, options, isolate, hard, pure=False) for item in problems]
        bar = bench.progress_bar(progress, len(futures))
        try:
            if bar is not None:
                for fut in dd.as_completed(futures):
                    bar[0].update(bar[1], advance=1)
            records = [_result(fut, item) for fut, item in zip(futures, problems)]
        finally:
            if bar is not None:
                bar[0].stop()
    finally:
        for obj in owned:
            obj.close()
    for rec, item in zip(records, problems):
        n_x, n_y, F_best = _describe(item)
        rec["n_x"], rec["n_y"], rec["F_best"] = n_x, n_y, F_best
        rec["verdict"] = bench.verdict(rec, F_best)
    return records


def _result(fut, item) -> dict:
    try:
        return fut.result()
    except Exception as exc:  # the worker itself failed (died, lost): recorded, not raised
        return bench.failed_record(item, "error", f"Dask task failed: {type(exc).__name__}: {exc}", 0.0)


def _describe(item):
    if isinstance(item, dict):
        return item.get("n_x"), item.get("n_y"), item.get("F_best")
    return getattr(item, "n_x", None), getattr(item, "n_y", None), getattr(item, "known_F", None)


def _task(item, options, isolate, hard) -> dict:
    """What a Dask worker runs for one item."""
    if not isolate:
        return bench.solve_record(item, options)
    with tempfile.TemporaryDirectory(prefix="bilevel_batch_") as tmp:
        src, out = Path(tmp, "in.pkl"), Path(tmp, "out.json")
        src.write_bytes(pickle.dumps((item, options)))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "bilevel_mp.batch", str(src), str(out)],
                                  capture_output=True, text=True, timeout=hard)
        except subprocess.TimeoutExpired:
            return bench.failed_record(item, "time_limit", f"killed after {hard:.0f} s", time.perf_counter() - t0)
        if not out.exists():
            tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            return bench.failed_record(item, "error", f"child process crashed: {tail[0]}", time.perf_counter() - t0)
        return json.loads(out.read_text())


def _main(argv) -> int:
    """``python -m bilevel_mp.batch IN.pkl OUT.json``: one isolated solve."""
    item, options = pickle.loads(Path(argv[0]).read_bytes())
    Path(argv[1]).write_text(json.dumps(bench.solve_record(item, options)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1:]))
