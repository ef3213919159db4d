"""Batch solves through Dask (bilevel_mp.batch): same records as the process runner,
in input order, against a LocalCluster in this process (one single-threaded worker)."""

import json
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import bilevel_mp as bmp  # noqa: E402
from bilevel_mp import batch, bench  # noqa: E402
from bilevel_mp.cli import main  # noqa: E402
from bilevel_mp.frontends.expr import problem_from_dict  # noqa: E402
from bilevel_mp.frontends.mps_aux import read_mps_aux  # noqa: E402
from bilevel_mp.library.classic import bolib_entries, get  # noqa: E402

DATA = Path(__file__).parent / "data" / "mps_aux"

FIELDS = {"name", "status", "method", "F", "f", "x", "y", "ll_gap", "certified", "seconds", "verdict",
          "n_x", "n_y", "F_best"}
BROKEN = {"name": "broken", "n_x": 1, "n_y": 1, "F": "x[0] +", "f": "y[0]"}


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                                  dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster) as c:
        yield c


def test_solve_many_matches_direct_solves_in_input_order(client):
    items = [bolib_entries()["Bard1984b"], BROKEN, get("MooreBard1990Cont"),
             read_mps_aux(DATA / "integer_leader_max.mps"), bolib_entries()["TuyEtal1994"]]
    records = batch.solve_many(items, client=client, time_limit=20)
    assert [r["name"] for r in records] == ["Bard1984b", "broken", "MooreBard1990Cont",
                                             "integer_leader_max", "TuyEtal1994"]
    for item, rec in zip(items, records):
        assert FIELDS <= set(rec)
        if item is BROKEN:
            assert rec["verdict"] == "failed" and "malformed expression" in rec["message"]
            continue
        direct = bmp.solve(problem_from_dict(item) if isinstance(item, dict) else item, time_limit=20)
        assert rec["status"] == direct.status == "optimal" and rec["certified"]
        assert rec["F"] == pytest.approx(direct.F, abs=1e-6)
        assert rec["verdict"] == bench.verdict(rec, rec["F_best"])
    assert records[0]["verdict"] == "solved" and records[0]["F_best"] == bolib_entries()["Bard1984b"]["F_best"]


def test_isolated_tasks_give_the_same_records_as_in_worker_tasks(client):
    items = [bolib_entries()["Bard1984a"], BROKEN]
    inside = batch.solve_many(items, client=client, time_limit=20)
    isolated = batch.solve_many(items, client=client, time_limit=20, isolate=True)
    assert [r["status"] for r in isolated] == [r["status"] for r in inside] == ["optimal", "error"]
    assert isolated[0]["F"] == pytest.approx(inside[0]["F"], abs=1e-9)
    assert isolated[1]["message"] == inside[1]["message"]


def test_default_client_is_a_temporary_local_cluster():
    recs = batch.solve_many([bolib_entries()["Bard1984a"]], jobs=1, time_limit=20)
    assert recs[0]["verdict"] == "solved" and recs[0]["certified"]


def test_bench_cli_through_a_scheduler_address(cluster, tmp_path):
    names = ["Bard1984a", "GlackinEtal2009"]
    src = tmp_path / "two.json"
    src.write_text(json.dumps([bolib_entries()[n] for n in names]))
    out = tmp_path / "bench.json"
    rc = main(["bench", str(src), "--scheduler", cluster.scheduler_address, "--no-isolate",
               "--no-progress", "--time-limit", "20", "--json", str(out)])
    assert rc == 0
    local = bench.run([bolib_entries()[n] for n in names], time_limit=20, progress=False)
    recs = json.loads(out.read_text())
    assert [r["name"] for r in recs] == names
    assert [r["verdict"] for r in recs] == [r["verdict"] for r in local] == ["solved", "solved"]
    for a, b in zip(recs, local):
        assert a["F"] == pytest.approx(b["F"], abs=1e-6)


def test_unreachable_scheduler_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(batch, "CONNECT_TIMEOUT", 1.0)
    src = tmp_path / "one.json"
    src.write_text(json.dumps([bolib_entries()["Bard1984a"]]))
    assert main(["bench", str(src), "--scheduler", "tcp://127.0.0.1:9", "--no-progress"]) == 2
    assert "could not reach the Dask scheduler" in capsys.readouterr().err
