"""paba.Sweep and ``paba sweep``: the same table on every executor (serial, process pool, Dask,
Dask with a worker killed mid-sweep), seeds from the cell's key, resume after a kill, and the
up-front errors of bad axes. Small grids; the Dask cluster is two single-threaded processes on
loopback, closed at the end of the module."""

from __future__ import annotations

import concurrent.futures as cf
import csv
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import paba
from paba import cli
from paba._sweep._table import arrays, to_table
from paba.studies.sweep import TIMING_COLUMNS, Sweep, scenario_seed
from paba.studies.sweep._report import PROGRESS

pd = pytest.importorskip("pandas")

SMALL = dict(axes={"n_workers": [4, 8], "bandwidth": [5e6, 10e6]}, seeds=[0, 1, 2],
             schemes=["joint", "bandwidth_aware"], iterations=30)


def _deterministic(table):
    return table.drop(columns=list(TIMING_COLUMNS))


@pytest.fixture(scope="module")
def serial_table():
    return Sweep(**SMALL).run("serial")


# -- the table and its seeds ------------------------------------------------------------------

def test_table_rows_and_order(serial_table):
    table = serial_table
    assert len(table) == 4 * 3 * 3
    assert list(table.columns[:6]) == ["cell", "n_workers", "bandwidth", "seed", "scenario_seed",
                                       "scheme"]
    assert list(table["scheme"][:3]) == ["equal", "joint", "bandwidth_aware"]
    keys = list(zip(table["cell"], table["seed"], strict=True))
    assert keys == sorted(keys)
    assert (table.loc[table["scheme"] == "equal", "reduction_vs_equal"] == 0).all()
    joint = table[table["scheme"] == "joint"]
    assert (joint["median_reduction_vs_equal"] > 0).all()
    assert (table["iterations"] == 30).all()
    assert (table["solve_time_s"] > 0).all()


def test_seeds_come_from_the_cell_key():
    assert scenario_seed({"bandwidth": 10e6}, 3) == scenario_seed({"bandwidth": 10_000_000}, 3)
    seeds = {scenario_seed({"n_workers": k}, s) for k in (4, 8) for s in (0, 1)}
    assert len(seeds) == 4
    # A cell's rows do not depend on the other cells of the sweep.
    alone = Sweep({"n_workers": [8], "bandwidth": [10e6]}, seeds=[2], schemes=["joint"],
                  iterations=30).run("serial")
    big = Sweep(**SMALL).run("serial")
    row = big[(big["n_workers"] == 8) & (big["bandwidth"] == 10e6) & (big["seed"] == 2)
              & big["scheme"].isin(["equal", "joint"])]
    pd.testing.assert_frame_equal(
        _deterministic(alone).drop(columns="cell").reset_index(drop=True),
        _deterministic(row).drop(columns="cell").reset_index(drop=True))


def test_native_threads_one_per_task():
    sweep = Sweep(**SMALL)
    assert all(sweep.resolved(i)[1]["n_threads"] == 1 for i in range(len(sweep.cells)))
    assert Sweep(**SMALL, n_threads=2).resolved(0)[1]["n_threads"] == 2


def test_structured_array_without_pandas(monkeypatch, serial_table):
    monkeypatch.setitem(sys.modules, "pandas", None)
    sweep = Sweep(**SMALL)
    from paba._sweep._runner import execute
    table = to_table(sweep, execute(sweep, "serial"))
    assert isinstance(table, np.ndarray) and table.dtype.names == tuple(serial_table.columns)
    np.testing.assert_array_equal(table["median_latency_s"],
                                  serial_table["median_latency_s"].to_numpy())


def test_importing_paba_imports_neither_pandas_nor_dask():
    code = ("import sys, paba; paba.Sweep; "
            "print(sorted(m for m in ('pandas', 'dask', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# -- executors ----------------------------------------------------------------------------------

def test_process_pool_gives_the_same_table(serial_table):
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        table = Sweep(**SMALL).run(pool, chunk_size=5)
    pd.testing.assert_frame_equal(_deterministic(table), _deterministic(serial_table))
    threads = Sweep(**SMALL).run(cf.ThreadPoolExecutor(2), chunk_size=1)
    pd.testing.assert_frame_equal(_deterministic(threads), _deterministic(serial_table))


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    import logging

    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                       silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_dask_gives_the_same_table(dask_client, serial_table):
    table = Sweep(**SMALL).run(dask_client.get_executor(), chunk_size=3)
    pd.testing.assert_frame_equal(_deterministic(table), _deterministic(serial_table))


def test_dask_worker_killed_mid_sweep(dask_client):
    sweep = Sweep({"n_workers": [6, 12], "bandwidth": [5e6, 10e6, 20e6]}, seeds=range(4),
                  schemes=["joint"], iterations=400)
    expected = sweep.run("serial")
    pids = dask_client.run(os.getpid)
    killed = []

    def kill_one(done):
        if not killed:
            assert done < len(sweep.units())  # the sweep is not over
            victim = min(pids.values())
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    table = sweep.run(dask_client.get_executor(), chunk_size=1, progress=kill_one)
    assert killed
    pd.testing.assert_frame_equal(_deterministic(table), _deterministic(expected))
    dask_client.wait_for_workers(2, timeout=30)
    assert killed[0] not in dask_client.run(os.getpid).values()


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_cli_on_an_existing_dask_scheduler(dask_client, tmp_path, serial_table):
    out = tmp_path / "dask"
    assert cli.main(["sweep", *CLI_SMALL, "--executor", "dask", "--address",
                     dask_client.scheduler.address, "--no-figures", "--out", str(out)]) == 0
    rows = _read_csv(out / "results.csv")
    np.testing.assert_array_equal([float(r["median_latency_s"]) for r in rows],
                                  serial_table["median_latency_s"].to_numpy())
    assert json.loads((out / "summary.json").read_text())["timing"]["executor"] == \
        "ClientExecutor"
    assert dask_client.status == "running"  # the CLI closed its own client only


# -- the command line -------------------------------------------------------------------------

CLI_SMALL = ["--workers", "4,8", "--bandwidth", "5,10", "--seeds", "0-2",
             "--schemes", "joint,bandwidth_aware", "--iterations", "30", "--quiet"]


def _same_files(a, b):
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        if name == "results.csv":
            rows_a, rows_b = _read_csv(a / name), _read_csv(b / name)
            for row in rows_a + rows_b:
                for column in TIMING_COLUMNS:
                    row.pop(column)
            assert rows_a == rows_b
        elif name == "results.parquet":
            import pyarrow.parquet as pq
            tables = [pq.read_table(d / name).drop(list(TIMING_COLUMNS)) for d in (a, b)]
            assert tables[0].equals(tables[1])
        elif name == "summary.json":
            summaries = [json.loads((d / name).read_text()) for d in (a, b)]
            for summary in summaries:
                summary.pop("timing")
            assert summaries[0] == summaries[1]
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    return names


def test_cli_matches_the_python_table(tmp_path, serial_table):
    out = tmp_path / "sweep"
    assert cli.main(["sweep", *CLI_SMALL, "--executor", "serial", "--out", str(out)]) == 0
    rows = _read_csv(out / "results.csv")  # floats by repr: exact
    expected = _deterministic(serial_table)
    assert list(rows[0]) == list(serial_table.columns)
    for column in expected.columns:
        kind = expected[column].dtype.kind
        parse = float if kind == "f" else (int if kind in "iu" else str)
        assert [parse(r[column]) for r in rows] == expected[column].tolist(), column
    summary = json.loads((out / "summary.json").read_text())
    assert summary["size"] == {"cells": 4, "seeds": 3, "schemes": 3, "rows": 36}
    assert set(summary["files"]["figures"]) == {"reduction_heatmap", "latency_vs_n_workers",
                                                "latency_vs_bandwidth"}
    for name in summary["files"]["figures"].values():
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "joint median vs equal" in (out / "report.md").read_text()
    assert not (out / PROGRESS).exists()
    # The same command again needs --resume; with it, nothing is run and the files stay.
    with pytest.raises(SystemExit) as error:
        cli.main(["sweep", *CLI_SMALL, "--executor", "serial", "--out", str(out)])
    assert error.value.code == 2
    again = tmp_path / "copy"
    import shutil
    shutil.copytree(out, again)
    assert cli.main(["sweep", *CLI_SMALL, "--executor", "serial", "--out", str(again),
                     "--resume"]) == 0
    assert json.loads((again / "summary.json").read_text())["timing"]["units_run"] == 0
    _same_files(out, again)


def test_run_to_writes_the_table_of_run(tmp_path, serial_table):
    """paba.studies.sweep.run_to: the output directory of a paba.Sweep from Python, its
    results.csv the table of Sweep.run."""
    from paba.studies.sweep import run_to

    out = tmp_path / "sweep"
    summary = run_to(paba.Sweep(**SMALL), out, "serial", figures=False)
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["size"]["rows"] == len(serial_table)
    rows = _read_csv(out / "results.csv")
    assert [float(r["median_latency_s"]) for r in rows] == \
        serial_table["median_latency_s"].tolist()


def test_config_file_gives_the_same_sweep(tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text('seeds = "0-2"\nschemes = ["joint", "bandwidth_aware"]\niterations = 30\n'
                      "[axes]\nworkers = [4, 8]\nbandwidth = [5, 10]\n")
    from paba.studies.sweep._cli import build_sweep

    parser = cli.build_parser()
    from_file, _ = build_sweep(parser.parse_args(["sweep", "--config", str(config)]))
    from_options, _ = build_sweep(parser.parse_args(["sweep", *CLI_SMALL]))
    assert from_file.to_dict() == from_options.to_dict()
    # Options on the command line win over the file.
    mixed, run = build_sweep(parser.parse_args(["sweep", "--config", str(config), "--workers",
                                                "3", "--executor", "dask"]))
    assert mixed.axes["n_workers"] == [3] and run["executor"] == "dask"


def test_resume_after_a_kill_gives_the_same_files(tmp_path):
    # Each unit must outlast the gap between reading the journal and the kill on a loaded
    # machine: at 20000 iterations a unit takes about 0.1 s, so the 17 left after the third take
    # about 2 s. That holds because the serial executor journals each unit before it runs the
    # next (it ran a window of 64 tasks first, and wrote their 20 lines in one burst, which the
    # kill landed in or after by chance).
    options = ["--workers", "6,12", "--bandwidth", "5,10", "--seeds", "0-4", "--schemes",
               "joint", "--iterations", "20000", "--executor", "serial", "--chunk-size", "1",
               "--no-figures", "--quiet"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    command = [sys.executable, "-m", "paba", "sweep", *options]
    subprocess.run([*command, "--out", str(whole)], check=True)
    process = subprocess.Popen([*command, "--out", str(killed)])
    journal = killed / PROGRESS
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    done = journal.read_bytes().count(b"\n")
    assert 3 <= done < 20 and not (killed / "results.csv").exists()
    with open(journal, "ab") as handle:  # a line torn by the kill is dropped on resume
        handle.write(b'{"cell": 3, "seed"')
    subprocess.run([*command, "--out", str(killed), "--resume"], check=True)
    timing = json.loads((killed / "summary.json").read_text())["timing"]
    assert timing["units_resumed"] == done and timing["units_run"] == 20 - done
    assert _same_files(whole, killed) == ["report.md", "results.csv", "results.parquet",
                                          "summary.json", "sweep.json"]


def test_resume_refuses_a_different_sweep(tmp_path, capsys):
    out = tmp_path / "s"
    base = ["sweep", "--workers", "4", "--iterations", "10", "--executor", "serial",
            "--no-figures", "--quiet", "--out", str(out)]
    assert cli.main(base) == 0
    with pytest.raises(SystemExit) as error:
        cli.main([*base[:-2], "--workers", "5", "--resume", "--out", str(out)])
    assert error.value.code == 2
    assert "resume:" in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [
    (["--workers", ""], "workers: no values given"),
    (["--workers", "4,,8"], "workers: an empty value"),
    (["--workers", "-4"], "workers: must be positive"),
    (["--bandwidth=-5,10"], "bandwidth: must be positive"),
    (["--availability", "0.5,2"], "availability: must be in [0, 1]"),
    (["--schemes", "joint,best"], "schemes: unknown scheme 'best'"),
    (["--seeds", "5-2"], "seeds: the range '5-2' is empty"),
    (["--seeds", "a"], "seeds: 'a' is not an integer"),
    (["--fading", "rayleigh,nakagami"], "fading: unknown value 'nakagami'"),
    (["--workers", "4,4"], "workers: a value is repeated"),
    (["--iterations", "0"], "iterations: must be positive"),
    (["--executor", "mpi"], "executor: must be one of serial, process, dask"),
    (["--address", "tcp://127.0.0.1:1"], "address: a Dask scheduler's address needs"),
    (["--workers", "5", "--bandwidth", "1e-300"], "bandwidth:"),
])
def test_bad_axes_fail_before_any_work(tmp_path, capsys, options, message):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as error:
        cli.main(["sweep", *options, "--out", str(out),
                  *([] if "--executor" in options else ["--executor", "serial"])])
    assert error.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("paba: error: ") and message in err, err
    assert not out.exists()


@pytest.mark.parametrize("text, message", [
    ("[axes\nworkers = [4]\n", "is not valid TOML"),
    ("[axes]\nworkers = []\n", "workers: no values given"),
    ("[axes]\nworkers = [4, -8]\n", "workers: must be positive"),
    ("[axes]\nantennas = [4]\n", "unknown key 'antennas' in [axes]"),
    ("schemes = ['joint', 'fast']\n", "schemes: unknown scheme 'fast'"),
    ("seeds = [0, -1]\n", "seeds: each must be an integer"),
    ("speed = 3\n", "unknown key 'speed'"),
])
def test_bad_config_fails_before_any_work(tmp_path, capsys, text, message):
    config = tmp_path / "sweep.toml"
    config.write_text(text)
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as error:
        cli.main(["sweep", "--config", str(config), "--out", str(out)])
    assert error.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("paba: error: config: ") and message in err, err
    assert not out.exists()


def test_sweep_errors_name_the_setting():
    with pytest.raises(ValueError, match="^n_workers: the axis has no values"):
        Sweep({"n_workers": []})
    with pytest.raises(ValueError, match="^antennas: unknown axis"):
        Sweep({"antennas": [2]})
    with pytest.raises(ValueError, match="^schemes: unknown scheme"):
        Sweep(schemes=["joint", "fastest"])
    with pytest.raises(ValueError, match="^seeds:"):
        Sweep(seeds=[-1])
    with pytest.raises(ValueError, match="^availability: must be in"):
        Sweep({"availability": [0.5, 1.5]}).check()
    with pytest.raises(ValueError, match="^chunk_size:"):
        Sweep().run("serial", chunk_size=0)
    assert paba.Sweep is Sweep
    assert len(arrays(Sweep(cells=[{"n_workers": 3}, {"bandwidth": 5e6}], iterations=5),
                      {(0, 0): [(0.0,) * 10] * 5, (1, 0): [(0.0,) * 10] * 5})["cell"]) == 10


def test_progress_bar_on_stderr(capsys):
    pytest.importorskip("tqdm")
    Sweep({"n_workers": [4, 5]}, schemes=["joint"], iterations=5).run("serial", progress=True)
    err = capsys.readouterr().err
    assert "paba sweep" in err and "2/2" in err


def test_ctrl_c_says_how_to_resume(tmp_path):
    # 200 units of work, interrupted after the first: seconds of margin on a busy machine, where
    # a sweep of 10 units could end before the signal arrives.
    out = tmp_path / "s"
    process = subprocess.Popen(
        [sys.executable, "-m", "paba", "sweep", "--workers", "6,12", "--seeds", "0-199",
         "--schemes", "joint", "--iterations", "1500", "--executor", "serial", "--chunk-size",
         "1", "--no-figures", "--quiet", "--out", str(out)], stderr=subprocess.PIPE, text=True,
        # Ctrl-C as a terminal delivers it: a SIGINT the test process ignores (a disposition left
        # by an earlier test; the child would inherit it and never see the signal) is restored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if (out / PROGRESS).exists() and (out / PROGRESS).read_bytes().count(b"\n") >= 1:
                break
            time.sleep(0.005)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:  # ends the sweep it started, whatever happened above
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
    assert process.returncode == 130, (err, signal.getsignal(signal.SIGINT))
    assert "interrupted" in err and "--resume" in err
