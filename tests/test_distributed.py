"""paba.distributed: a server process and worker processes on torch.distributed (loopback only).

Every run is a subprocess in a session of its own with a hard timeout, past which the session is
killed (by its id: the run and every process it started); otherwise the processes a run starts
are ended by the launcher (by pid) when the server ends. The in-process references run with one
intra-op thread, as the processes do (OMP_NUM_THREADS=1), so the comparisons are exact
(docs/distributed.md section 4)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import paba
from paba.cli import build_parser
from paba.distributed._common import FAULT_VARIABLE, build_data, hosting
from paba.studies.accuracy import GRANULARITY, run_accuracy_study, study_options
from paba.training import train

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="process tests run on Linux")

#: Seconds any one command may take before the test fails (start-up is several seconds per
#: process on a loaded 2-core machine: each imports PyTorch and scikit-learn).
RUN_TIMEOUT = 150


def bounded(command, env, timeout):
    """Run ``command`` in a session of its own; past ``timeout`` seconds, SIGKILL that session
    (by its id: the command and every process it started, none other) and fail."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{' '.join(command[2:])} took more than {timeout} s")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def paba_train(argv, *, fault=None, timeout=RUN_TIMEOUT):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop(FAULT_VARIABLE, None)
    if fault:
        env[FAULT_VARIABLE] = fault
    return bounded([sys.executable, "-m", "paba", "train", "--quiet", "--no-figures", *argv],
                   env, timeout)


def options(argv):
    return build_parser().parse_args(["train", *argv])


def comparable(summary: dict) -> dict:
    """A summary without what may differ between runs: wall times and the processes' record."""
    summary = json.loads(json.dumps(summary))
    for key in ("runtime_s", "distributed"):
        summary.pop(key, None)
    for entry in summary["schemes"].values():
        entry.pop("wall_seconds")
    return summary


def in_process(argv, out) -> dict:
    """``paba train`` in this process with one intra-op thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_accuracy_study(**study_options(options([*argv, "--out", str(out),
                                                               "--no-figures", "--quiet"])))
    finally:
        torch.set_num_threads(threads)


def traced(argv, scheme, drops) -> dict:
    """One scheme in this process with a churn trace that drops workers: {iteration: workers},
    each absent from that iteration on."""
    args = options(argv)
    data, shards, model = build_data(args)
    iterations = args.max_iterations
    trace = np.ones((iterations, args.workers), dtype=bool)
    for iteration, workers in drops.items():
        trace[max(iteration, 0):, workers] = False
    scheduler_options = {"trace": trace}
    if args.group_size > 1:
        scheduler_options["groups"] = np.arange(args.workers) // args.group_size
    scenario = paba.Scenario.default(n_workers=args.workers, bandwidth=args.bandwidth * 1e6,
                                     fading=args.fading, seed=args.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(model, data, scenario, scheme, shards=shards,
                       granularity=GRANULARITY[args.model], budget=args.budget,
                       max_iterations=iterations, optimizer=args.optimizer, lr=args.lr,
                       momentum=args.momentum, seed=args.seed, eval_every=args.eval_every,
                       scheduler_options=scheduler_options)
    finally:
        torch.set_num_threads(threads)
    entry = json.loads(json.dumps(result.to_dict()))
    entry.pop("wall_seconds")
    return entry


def scheme_entry(summary, scheme):
    entry = dict(summary["schemes"][scheme])
    for key in ("wall_seconds", "accuracy_gain_vs_equal_points", "iterations_vs_equal"):
        entry.pop(key, None)
    return entry


def test_hosting_spreads_twenty_workers_over_the_processes():
    assert hosting(20, 3) == {1: list(range(10)), 2: list(range(10, 20))}
    assert sum(map(len, hosting(20, 4).values())) == 20
    with pytest.raises(ValueError, match="processes: .*at least one worker process"):
        hosting(5, 1)
    with pytest.raises(ValueError, match="processes: 6 worker processes for 5 workers"):
        hosting(5, 7)


# The MLP (units: a weight row with its bias, so blocks are rounded to units), label-skewed
# shards, groups of two, 20 workers on 3 processes, every scheme; joint gives some groups no
# block at all.
MLP = ["--model", "mlp", "--hidden", "8", "--workers", "20", "--group-size", "2",
       "--sharding", "label_skew", "--max-iterations", "5", "--budget", "100"]


def test_processes_give_the_in_process_summary_and_a_killed_server_resumes(tmp_path):
    """The server is killed during equal's fourth iteration; rerun with its checkpoints, equal
    resumes and the other schemes run uninterrupted: the summary is the in-process run's,
    exactly."""
    argv = [*MLP, "--processes", "3", "--out", str(tmp_path / "p"), "--checkpoint",
            str(tmp_path / "ck"), "--checkpoint-every", "1"]
    first = paba_train(argv, fault="kill:0:3")
    assert first.returncode == 2
    assert "the server (rank 0" in first.stderr and "was killed by SIGKILL" in first.stderr
    assert "run the same command again to resume" in first.stderr
    assert (tmp_path / "ck" / "equal.pt").exists() and not (tmp_path / "ck" / "joint.pt").exists()
    second = paba_train(argv)
    assert second.returncode == 0, second.stderr
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    reference = in_process(MLP, tmp_path / "r")
    assert comparable(summary) == comparable(reference)
    record = summary["distributed"]
    assert record["departures"] == []
    assert record["hosting"] == {"1": list(range(10)), "2": list(range(10, 20))}
    assert [row["iteration"] for row in record["exchanges"]["equal"]["iterations"]] == [3, 4]
    sizes = np.array([row["block_sizes"] for rows in record["exchanges"].values()
                      for row in rows["iterations"]])
    assert sizes.shape == (2 + 4 * 5, 20)
    assert (sizes == 0).any() and (sizes > 0).any()
    assert len({tuple(row) for row in sizes}) > 1  # blocks change from iteration to iteration
    processes = json.loads((tmp_path / "p" / "processes.json").read_text())
    assert set(processes) == {"server", "workers"} and set(processes["workers"]) == {"1", "2"}
    assert "## Processes" in (tmp_path / "p" / "report.md").read_text()


LOGISTIC = ["--model", "logistic", "--workers", "6", "--schemes", "equal", "--budget", "100",
            "--max-iterations", "6"]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie has ended; its parent has not collected it yet.
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")


def test_a_killed_and_a_stopped_worker_process_leave_and_the_run_goes_on(tmp_path):
    deadline, scale = 3.0, 20.0
    run = paba_train([*LOGISTIC, "--processes", "4", "--deadline", str(deadline), "--out",
                      str(tmp_path / "p"), "--emulate-links", str(scale)],
                     fault="kill:1:2,stop:2:4")
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    departures = summary["distributed"]["departures"]
    assert [(d["rank"], d["iteration"], d["reason"], d["workers"]) for d in departures] == [
        (1, 2, "crash", [0, 1]), (2, 4, "deadline", [2, 3])]
    crash, hang = departures
    assert crash["detected_after_s"] < 2.0
    assert deadline <= hang["detected_after_s"] < deadline + 3.0
    assert "killed by the server" in hang["detail"]
    # The same run in this process, with a churn trace that drops those workers then.
    expected = traced(LOGISTIC, "equal", {2: [0, 1], 4: [2, 3]})
    assert scheme_entry(summary, "equal") == expected
    assert summary["schemes"]["equal"]["iterations"] == 6
    processes = json.loads((tmp_path / "p" / "processes.json").read_text())
    assert _gone(processes["workers"]["2"])  # the stopped process was killed
    # Link emulation: every exchange took at least its modelled links' time times the scale.
    rows = summary["distributed"]["exchanges"]["equal"]["iterations"]
    assert len(rows) == 6
    assert all(row["wall_s"] >= row["modelled_links_s"] * scale > 0 for row in rows)
    assert "Link emulation, scale 20" in (tmp_path / "p" / "report.md").read_text()


def test_when_every_worker_process_is_gone_the_run_stops_with_a_checkpoint(tmp_path):
    run = paba_train([*LOGISTIC, "--processes", "2", "--out", str(tmp_path / "p")],
                     fault="kill:1:3")
    assert run.returncode == 2
    assert "every worker process has left the run" in run.stderr
    assert "rank 1 (workers [0, 1, 2, 3, 4, 5]) at iteration 3 of equal" in run.stderr
    assert (tmp_path / "p" / "checkpoint" / "equal.pt").exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _process(rank, world_size, port, *extra):
    env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    return bounded([sys.executable, "-m", "paba.distributed", *LOGISTIC, "--connect-timeout", "2",
                    *extra], env, 60)


def test_bad_launches_fail_with_a_clear_message_and_no_hang(tmp_path):
    started = time.monotonic()
    # Nothing listens at the address: a worker process cannot reach the server.
    run = _process(1, 2, _free_port())
    assert run.returncode == 2
    assert "cannot reach the rendezvous store at 127.0.0.1:" in run.stderr
    # A server told to expect 3 processes, started alone.
    run = _process(0, 3, _free_port(), "--out", str(tmp_path / "p"))
    assert run.returncode == 2
    assert "1 of WORLD_SIZE = 3 processes joined" in run.stderr
    # Not launched at all.
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    run = bounded([sys.executable, "-m", "paba.distributed", *LOGISTIC], env, 60)
    assert run.returncode == 2 and "start paba.distributed with torchrun" in run.stderr
    # Link emulation without processes.
    run = paba_train([*LOGISTIC, "--emulate-links", "2", "--out", str(tmp_path / "e")])
    assert run.returncode == 2 and "emulate-links: needs worker processes" in run.stderr
    # Too many processes for the workers, refused before anything starts.
    run = paba_train([*LOGISTIC, "--processes", "8", "--out", str(tmp_path / "q")])
    assert run.returncode == 2
    assert "processes: 7 worker processes for 6 workers" in run.stderr
    assert time.monotonic() - started < 100
