"""`paba train` and `paba reproduce` end to end, on small settings (the full defaults take
minutes: docs/training.md)."""

import functools
import json

import numpy as np
import pytest
from sklearn.datasets import dump_svmlight_file

import paba.studies.accuracy as accuracy_module
import paba.studies.reproduce
from paba import SCHEMES
from paba.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = ["--hidden", "16", "--workers", "4", "--budget", "0.02", "--max-iterations", "6",
         "--quiet"]


def _summary(directory):
    with open(directory / "summary.json") as handle:
        return json.load(handle)


def test_train_writes_every_file(tmp_path):
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--out", str(out)]) == 0
    summary = _summary(out)
    assert list(summary["schemes"]) == list(SCHEMES)
    assert summary["model"]["name"] == "mlp"
    assert summary["model"]["params"] == 64 * 16 + 16 + 16 * 10 + 10
    assert summary["model"]["units"] == 16 + 10
    assert summary["dataset"]["name"] == "digits"
    assert summary["settings"]["budget_s"] == 0.02
    assert len(summary["settings"]["shard_sizes"]) == 4
    assert sum(summary["settings"]["shard_sizes"]) == summary["dataset"]["n_train"]
    for scheme, entry in summary["schemes"].items():
        assert 0.0 <= entry["test_accuracy"] <= 1.0
        assert 1 <= entry["iterations"] <= 6
        assert entry["learning_latency_s"] <= 0.02
        assert entry["stopped"] in ("budget", "iterations")
        curve = entry["curve"]
        assert curve["iteration"][0] == 0 and curve["latency_s"][0] == 0.0
        assert curve["iteration"][-1] == entry["iterations"]
        assert curve["test_accuracy"][-1] == entry["test_accuracy"]
        assert np.all(np.diff(curve["latency_s"]) > 0)
        assert entry["test_loss"] == curve["test_loss"][-1]
        if scheme == "equal":
            assert entry["accuracy_gain_vs_equal_points"] == 0.0
    headline = summary["headline"]
    assert headline["paper_accuracy_gain_points"] == 4.0
    assert headline["joint_accuracy_gain_vs_equal_points"] == pytest.approx(
        100 * (summary["schemes"]["joint"]["test_accuracy"]
               - summary["schemes"]["equal"]["test_accuracy"]))
    for fraction in summary["accuracy_at"].values():
        assert set(fraction) == set(SCHEMES)
    assert (out / "accuracy_vs_latency.png").read_bytes()[:8] == PNG_MAGIC
    report = (out / "report.md").read_text()
    assert "accuracy_vs_latency.png" in report and "| joint |" in report


def test_train_checkpoint_resumes_to_the_same_numbers(tmp_path):
    arguments = ["train", *SMALL, "--schemes", "joint", "--checkpoint-every", "2",
                 "--no-figures"]
    assert main([*arguments, "--out", str(tmp_path / "plain")]) == 0
    checkpoints = tmp_path / "checkpoints"
    assert main([*arguments, "--out", str(tmp_path / "first"),
                 "--checkpoint", str(checkpoints)]) == 0
    assert sorted(p.name for p in checkpoints.iterdir()) == ["equal.pt", "joint.pt"]
    # A second run finds finished checkpoints and does not train again.
    assert main([*arguments, "--out", str(tmp_path / "again"),
                 "--checkpoint", str(checkpoints)]) == 0

    def numbers(directory):
        return {scheme: {k: v for k, v in entry.items() if k != "wall_seconds"}
                for scheme, entry in _summary(directory)["schemes"].items()}

    assert numbers(tmp_path / "first") == numbers(tmp_path / "plain")
    assert numbers(tmp_path / "again") == numbers(tmp_path / "plain")


def test_train_logistic_on_an_svmlight_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5))
    y = np.where(x[:, 0] + 0.1 * rng.normal(size=120) > 0, 1, -1)
    path = tmp_path / "data.svm"
    dump_svmlight_file(x, y, str(path))
    out = tmp_path / "run"
    assert main(["train", "--model", "logistic", "--dataset", str(path), "--workers", "3",
                 "--budget", "0.001", "--max-iterations", "20", "--schemes", "joint",
                 "--no-figures", "--quiet", "--out", str(out)]) == 0
    summary = _summary(out)
    assert summary["model"] == {**summary["model"], "name": "logistic", "params": 12,
                                "granularity": "parameter", "units": 12}
    assert summary["dataset"]["n_classes"] == 2
    assert summary["schemes"]["joint"]["iterations"] >= 1


def test_train_names_the_bad_argument(capsys, tmp_path):
    out = tmp_path / "never-made"
    with pytest.raises(SystemExit) as stop:
        main(["train", "--dataset", "no-such-data-set", "--quiet", "--out", str(out)])
    assert stop.value.code == 2
    assert "paba: error: dataset:" in capsys.readouterr().err
    assert not out.exists()  # arguments are checked before any directory is made


def test_reproduce_writes_the_report(tmp_path, monkeypatch):
    # The real studies, shrunk: the report is composed from their real outputs.
    monkeypatch.setattr(paba.studies.reproduce, "run_study", functools.partial(
        paba.studies.reproduce.run_study, iterations=30, sweep_iterations=5, workers_sweep=(5,),
        bandwidth_sweep_mhz=(10.0,)))
    monkeypatch.setattr(accuracy_module, "run_accuracy_study", functools.partial(
        accuracy_module.run_accuracy_study, hidden=(16,), workers=4, max_iterations=4))
    out = tmp_path / "reproduction"
    assert main(["reproduce", "--out", str(out), "--budget", "0.02", "--quiet"]) == 0
    summary = _summary(out)
    assert summary["paper_headline"] == {"latency_reduction_vs_equal": 0.46,
                                         "accuracy_gain_points_at_100_s": 4.0}
    assert set(summary["accuracy"]) == {"faded", "static"}
    assert summary["latency"]["joint_reduction_vs_equal_static"] > 0
    report = (out / "report.md").read_text()
    assert "about -46%" in report and "about +4 points" in report
    for link in ("latency/report.md", "accuracy/report.md", "accuracy_static/report.md",
                 "accuracy/accuracy_vs_latency.png", "latency/latency_per_scheme.png"):
        assert link in report
        assert (out / link).exists()
    static = _summary(out / "accuracy_static")
    assert static["settings"]["fading"] == "none"
    assert _summary(out / "accuracy")["settings"]["fading"] == "rayleigh"


def test_train_with_groups_of_workers(tmp_path):
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--workers", "5", "--group-size", "2", "--schemes", "joint",
                 "--no-figures", "--out", str(out)]) == 0
    summary = _summary(out)
    assert summary["settings"]["group_size"] == 2
    assert summary["schemes"]["joint"]["iterations"] >= 1
    with pytest.raises(SystemExit) as stop:
        main(["train", *SMALL, "--group-size", "9", "--out", str(tmp_path / "bad")])
    assert stop.value.code == 2
