"""Every command ends an ordinary mistake with one line ``paba: error: <option>: ...`` and exit
status 2, never a traceback (issue 11): output paths that cannot be written, Ctrl-C (status 130,
saying how to resume), damaged or crafted checkpoints, and requests beyond a command's limits.
Also ``paba train`` with checkpoints across changed options (issue 11, items 1 and 2)."""

import json
import os
import pickle
import tempfile
from pathlib import Path

import pytest
import torch
from sklearn.datasets import dump_svmlight_file

import paba.studies.latency
import paba.studies.reproduce
import paba.training._trainer as trainer_module
from paba.cli import main

SIMULATE = ["simulate", "--workers", "4", "--iterations", "4", "--no-sweeps", "--no-figures",
            "--quiet"]
TRAIN = ["train", "--hidden", "16", "--workers", "4", "--budget", "0.02", "--max-iterations",
         "4", "--schemes", "joint", "--no-figures", "--quiet"]


def fails(argv, capsys, status=2):
    """Run the CLI, expecting it to exit with ``status``; its one line of stderr."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def summary(directory):
    with open(Path(directory) / "summary.json") as handle:
        return json.load(handle)


def numbers(directory):
    return {scheme: {k: v for k, v in entry.items() if k != "wall_seconds"}
            for scheme, entry in summary(directory)["schemes"].items()}


@pytest.fixture
def unwritable(tmp_path):
    """A directory this process cannot create files in (root ignores permission bits, so
    there it is /sys, whose directories refuse new files even to root)."""
    if os.geteuid() != 0:
        directory = tmp_path / "locked"
        directory.mkdir()
        directory.chmod(0o500)
        yield directory
        directory.chmod(0o700)
        return
    for candidate in (Path("/sys"), Path("/proc/sys")):
        try:
            with tempfile.TemporaryFile(dir=candidate):
                pass
        except OSError:
            if candidate.is_dir():
                yield candidate
                return
    pytest.skip("no directory here refuses new files")


# -- output paths ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [SIMULATE, TRAIN], ids=["simulate", "train"])
def test_out_that_cannot_be_a_directory(tmp_path, capsys, command):
    a_file = tmp_path / "file"
    a_file.write_text("keep me")
    line = fails([*command, "--out", str(a_file)], capsys)
    assert line.startswith("paba: error: out: ") and "not a directory" in line
    line = fails([*command, "--out", str(a_file / "below")], capsys)
    assert line.startswith("paba: error: out: ") and "cannot create" in line
    assert a_file.read_text() == "keep me"


def test_out_in_an_unwritable_directory(unwritable, capsys):
    line = fails([*SIMULATE, "--out", str(unwritable)], capsys)
    assert line.startswith("paba: error: out: ")
    line = fails([*SIMULATE, "--out", str(unwritable / "new")], capsys)
    assert line.startswith("paba: error: out: ")


@pytest.mark.parametrize("command, name", [(SIMULATE, "summary.json"),
                                           (SIMULATE, "latency.csv"), (TRAIN, "report.md")])
def test_an_output_file_that_is_a_directory(tmp_path, capsys, command, name):
    (tmp_path / name).mkdir()
    line = fails([*command, "--out", str(tmp_path)], capsys)
    assert line.startswith("paba: error: out: ") and name in line


def test_a_checkpoint_directory_that_cannot_be_used(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("")
    line = fails([*TRAIN, "--out", str(tmp_path / "run"), "--checkpoint", str(a_file)], capsys)
    assert line.startswith("paba: error: checkpoint: ")
    (tmp_path / "ck" / "equal.pt").mkdir(parents=True)
    line = fails([*TRAIN, "--out", str(tmp_path / "run"), "--checkpoint", str(tmp_path / "ck")],
                 capsys)
    assert line.startswith("paba: error: checkpoint: ") and "equal.pt" in line


def test_reproduce_checks_every_directory_before_running(tmp_path, capsys, monkeypatch):
    ran = []
    monkeypatch.setattr(paba.studies.reproduce, "run_study", lambda *a, **k: ran.append(1))
    (tmp_path / "accuracy_static").write_text("")
    line = fails(["reproduce", "--out", str(tmp_path), "--quiet"], capsys)
    assert line.startswith("paba: error: out: ") and "accuracy_static" in line
    assert not ran


def test_a_file_system_failure_during_the_run_names_the_option(tmp_path, capsys, monkeypatch):
    out = tmp_path / "study"

    def full_disk(directory, *_):
        raise OSError(28, "No space left on device", str(directory / "report.md"))

    monkeypatch.setattr(paba.studies.latency, "write_summary", full_disk)
    line = fails([*SIMULATE, "--out", str(out)], capsys)
    assert line == (f"paba: error: out: {out / 'report.md'}: No space left on device")


# -- Ctrl-C ----------------------------------------------------------------------------------


def interrupt_step(n):
    """PartitionedTrainer.step, raising KeyboardInterrupt on its n-th call."""
    step = trainer_module.PartitionedTrainer.step
    calls = []

    def interrupted(trainer, *args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return step(trainer, *args, **kwargs)

    return interrupted


def test_ctrl_c_during_train_says_how_to_resume(tmp_path, capsys, monkeypatch):
    arguments = [*TRAIN, "--checkpoint-every", "1"]
    assert main([*arguments, "--out", str(tmp_path / "plain")]) == 0
    checkpoints = tmp_path / "ck"
    monkeypatch.setattr(trainer_module.PartitionedTrainer, "step", interrupt_step(7))
    line = fails([*arguments, "--out", str(tmp_path / "first"), "--checkpoint",
                  str(checkpoints)], capsys, status=130)
    assert line.startswith("paba: error: interrupted") and "run the same command again" in line
    monkeypatch.undo()
    assert main([*arguments, "--out", str(tmp_path / "first"), "--checkpoint",
                 str(checkpoints)]) == 0
    assert numbers(tmp_path / "first") == numbers(tmp_path / "plain")


def test_ctrl_c_without_checkpoints(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(paba.Scheduler, "run", interrupted)
    line = fails([*SIMULATE, "--out", str(tmp_path)], capsys, status=130)
    assert line == "paba: error: interrupted"
    monkeypatch.setattr(trainer_module.PartitionedTrainer, "step", interrupted)
    line = fails([*TRAIN, "--out", str(tmp_path)], capsys, status=130)
    assert line.startswith("paba: error: interrupted") and "--checkpoint" in line


# -- checkpoints through the command line ----------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Checkpoints of a short `paba train` run with label-skewed shards."""
    root = tmp_path_factory.mktemp("trained")
    arguments = [*TRAIN, "--sharding", "label_skew", "--max-iterations", "2"]
    assert main([*arguments, "--out", str(root / "run"), "--checkpoint", str(root / "ck")]) == 0
    return arguments, root / "ck"


def test_damaged_and_crafted_checkpoints_end_in_one_line(trained, tmp_path, capsys):
    arguments, checkpoints = trained
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("equal.pt", "joint.pt"):
        state = torch.load(checkpoints / name, weights_only=True)
        del state["result"]
        torch.save(state, damaged / name)
    line = fails([*arguments, "--out", str(tmp_path / "a"), "--checkpoint", str(damaged)],
                 capsys)
    assert line.startswith("paba: error: checkpoint: ")

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f"echo ran > {tmp_path / 'marker'}",))

    crafted = tmp_path / "crafted"
    crafted.mkdir()
    (crafted / "equal.pt").write_bytes(pickle.dumps(RunsCode()))
    line = fails([*arguments, "--out", str(tmp_path / "b"), "--checkpoint", str(crafted)],
                 capsys)
    assert line.startswith("paba: error: checkpoint: ")
    assert not (tmp_path / "marker").exists()


@pytest.mark.parametrize("option", [
    ["--model", "logistic"], ["--dataset", "wine"], ["--workers", "5"], ["--seed", "1"],
    ["--sharding", "iid"], ["--classes-per-worker", "3"], ["--fading", "none"],
    ["--bandwidth", "20"], ["--hidden", "17"], ["--optimizer", "adam"], ["--lr", "0.1"],
    ["--momentum", "0.5"], ["--group-size", "2"], ["--eval-every", "2"],
], ids=lambda option: option[0])
def test_every_option_that_changes_the_result_is_checked(trained, tmp_path, capsys, option):
    # Issue 11: every option that changes the result belongs in the fingerprint.
    arguments, checkpoints = trained
    if option[0] == "--model":  # the logistic model has no hidden layers
        index = arguments.index("--hidden")
        arguments = arguments[:index] + arguments[index + 2:]
    before = {p.name: p.read_bytes() for p in checkpoints.iterdir()}
    line = fails([*arguments, *option, "--out", str(tmp_path / "run"), "--checkpoint",
                  str(checkpoints)], capsys)
    assert line.startswith("paba: error: checkpoint: ") and "different run" in line
    assert {p.name: p.read_bytes() for p in checkpoints.iterdir()} == before


def test_options_that_change_nothing_resume(trained, tmp_path):
    arguments, checkpoints = trained
    for name in ("equal.pt", "joint.pt"):
        (tmp_path / name).write_bytes((checkpoints / name).read_bytes())
    assert main([*arguments, "--checkpoint-every", "3", "--out", str(tmp_path / "run"),
                 "--checkpoint", str(tmp_path)]) == 0


def test_a_larger_budget_goes_on_from_a_finished_run(tmp_path):
    # Issue 11: `--budget 0.5` then `--budget 5` on one checkpoint reported the first result.
    small = [*TRAIN[:-6], "--schemes", "joint", "--no-figures", "--quiet"]
    assert "--max-iterations" not in small
    assert main([*small, "--budget", "0.005", "--out", str(tmp_path / "fresh")]) == 0
    checkpoints = str(tmp_path / "ck")
    assert main([*small, "--budget", "0.002", "--out", str(tmp_path / "short"),
                 "--checkpoint", checkpoints]) == 0
    assert main([*small, "--budget", "0.005", "--out", str(tmp_path / "long"),
                 "--checkpoint", checkpoints]) == 0
    short, long = numbers(tmp_path / "short"), numbers(tmp_path / "long")
    assert short["joint"]["iterations"] < long["joint"]["iterations"]
    assert long == numbers(tmp_path / "fresh")


def test_a_larger_iteration_limit_goes_on_and_a_smaller_one_is_refused(tmp_path, capsys):
    # The scheduler of `paba train` runs --max-iterations iterations: the resumed one has more.
    small = [*TRAIN[:-6], "--schemes", "joint", "--no-figures", "--quiet", "--budget", "100"]
    assert main([*small, "--max-iterations", "5", "--out", str(tmp_path / "fresh")]) == 0
    checkpoints = str(tmp_path / "ck")
    assert main([*small, "--max-iterations", "2", "--out", str(tmp_path / "short"),
                 "--checkpoint", checkpoints]) == 0
    assert main([*small, "--max-iterations", "5", "--out", str(tmp_path / "long"),
                 "--checkpoint", checkpoints]) == 0
    assert numbers(tmp_path / "long") == numbers(tmp_path / "fresh")
    line = fails([*small, "--max-iterations", "3", "--out", str(tmp_path / "again"),
                  "--checkpoint", checkpoints], capsys)
    assert line.startswith("paba: error: checkpoint: ") and "max_iterations" in line


def test_a_smaller_budget_than_spent_is_refused(tmp_path, capsys):
    small = [*TRAIN[:-6], "--schemes", "joint", "--no-figures", "--quiet"]
    checkpoints = str(tmp_path / "ck")
    assert main([*small, "--budget", "0.005", "--out", str(tmp_path / "a"),
                 "--checkpoint", checkpoints]) == 0
    line = fails([*small, "--budget", "0.001", "--out", str(tmp_path / "b"),
                  "--checkpoint", checkpoints], capsys)
    assert line.startswith("paba: error: checkpoint: ") and "budget = 0.001 s" in line


# -- arguments -------------------------------------------------------------------------------


def test_a_bad_dataset_file_is_named_as_dataset(tmp_path, capsys):
    bad = tmp_path / "bad.svm"
    bad.write_text("this is not svmlight\n")
    line = fails([*TRAIN, "--dataset", str(bad), "--out", str(tmp_path / "run")], capsys)
    assert line.startswith("paba: error: dataset: ")
    one_class = tmp_path / "one.svm"
    dump_svmlight_file([[1.0], [2.0], [3.0]], [1, 1, 1], str(one_class))
    line = fails([*TRAIN, "--dataset", str(one_class), "--out", str(tmp_path / "run")], capsys)
    assert line.startswith("paba: error: dataset: ")


def test_a_model_too_large_to_build_is_refused(tmp_path, capsys):
    line = fails([*TRAIN, "--hidden", "100000", "100000", "--out", str(tmp_path)], capsys)
    assert line.startswith("paba: error: hidden: ") and "100,000,000" in line


@pytest.mark.parametrize("argv", [
    ["simulate", "--workers", "1000000000"], ["simulate", "--iterations", "100000000"],
    ["simulate", "--sweep-workers", "5", "1000000000"], ["compare", "--workers", "1000000000"],
])
def test_what_a_command_can_be_asked_is_bounded(tmp_path, capsys, argv):
    # Issue 11: `paba simulate --workers 1000000000` started and ran on.
    with pytest.raises(SystemExit) as stop:
        main([*argv, *(["--out", str(tmp_path)] if argv[0] == "simulate" else [])])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argv[-2] if argv[1] != '--sweep-workers' else '--sweep-workers'}" in err
    assert "at most" in err


def test_workers_times_iterations_is_bounded(tmp_path, capsys):
    line = fails(["simulate", "--workers", "100000", "--iterations", "100000",
                  "--out", str(tmp_path)], capsys)
    assert line.startswith("paba: error: iterations: ") and "1,000,000,000" in line
    assert not list(tmp_path.iterdir())  # refused before anything was written
