"""``paba simulate`` end to end on a small setting: its files, every field of summary.json and
their consistency with the CSV; the progress bar; CLI errors; ``paba compare`` still the
default command."""

import csv
import io
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest

import paba
from paba import cli
from paba.studies._report import Progress
from paba.studies.latency import FIGURES, run_study
from paba.studies.paper import PAPER_REDUCTION_VS_EQUAL

SMALL = ["--workers", "6", "--iterations", "40", "--seed", "3", "--sweep-iterations", "8",
         "--sweep-workers", "3", "6", "--sweep-bandwidth", "2", "10", "--bandwidth", "5"]

SCHEME_FIELDS = {"mean_latency_s", "median_latency_s", "p95_latency_s", "max_latency_s",
                 "mean_planned_latency_s", "reduction_vs_equal", "median_reduction_vs_equal",
                 "mean_active_workers", "mean_present_workers", "iterations",
                 "skipped_iterations"}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    assert cli.main(["simulate", *SMALL, "--out", str(out), "--quiet"]) == 0
    with open(out / "summary.json") as handle:
        return out, json.load(handle)


def _csv_columns(path):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows


def test_files_written(study):
    out, summary = study
    for name in ("summary.json", "latency.csv", "report.md", *FIGURES.values()):
        assert (out / name).stat().st_size > 0, name
    for name in FIGURES.values():
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["files"]["figures"] == FIGURES


def test_summary_fields(study):
    out, summary = study
    assert set(summary) >= {"paba_version", "scenario", "settings", "schemes", "channels",
                            "headline", "sweeps", "files", "runtime_s"}
    scenario = summary["scenario"]
    assert (scenario["n_workers"], scenario["bandwidth"], scenario["seed"]) == (6, 5e6, 3)
    assert scenario["fading"] == "rayleigh"
    assert summary["settings"]["iterations"] == 40
    assert summary["settings"]["schemes"] == list(paba.SCHEMES)
    assert summary["settings"]["scheduler"]["csi"] == "perfect"
    assert summary["runtime_s"] > 0
    assert set(summary["channels"]) == {"static", "faded"}
    assert summary["channels"]["static"]["fading"] == "none"
    assert summary["channels"]["faded"]["fading"] == "rayleigh"
    assert summary["schemes"] == summary["channels"]["faded"]["schemes"]
    rows = _csv_columns(out / "latency.csv")
    for channel, stats in summary["channels"].items():
        assert list(stats["schemes"]) == list(paba.SCHEMES)
        equal = stats["schemes"]["equal"]
        for scheme, s in stats["schemes"].items():
            assert set(s) == SCHEME_FIELDS
            latency = np.array([float(r[f"{scheme}_latency_s"]) for r in rows
                                if r["channel"] == channel])
            assert latency.size == 40 == s["iterations"]
            assert s["mean_latency_s"] == pytest.approx(latency.mean(), rel=1e-12)
            assert s["median_latency_s"] == pytest.approx(np.median(latency), rel=1e-12)
            assert s["p95_latency_s"] == pytest.approx(np.percentile(latency, 95), rel=1e-12)
            assert s["reduction_vs_equal"] == pytest.approx(
                1 - s["mean_latency_s"] / equal["mean_latency_s"], abs=1e-12)
            assert s["median_latency_s"] <= s["p95_latency_s"] <= s["max_latency_s"]
            assert s["skipped_iterations"] == 0 and s["mean_present_workers"] == 6
        joint = stats["schemes"]["joint"]
        for s in stats["schemes"].values():
            assert joint["mean_latency_s"] <= s["mean_latency_s"] * (1 + 1e-4)
        assert equal["reduction_vs_equal"] == 0
    # The static channel repeats one draw: every iteration has the same latency.
    static = summary["channels"]["static"]["schemes"]["joint"]
    assert static["mean_latency_s"] == pytest.approx(static["p95_latency_s"], rel=1e-12)


def test_headline_puts_the_paper_beside_ours(study):
    out, summary = study
    headline = summary["headline"]
    assert headline["paper_reduction_vs_equal"] == PAPER_REDUCTION_VS_EQUAL == 0.46
    assert "2003.04544" in headline["paper"]
    channels = summary["channels"]
    assert headline["joint_reduction_vs_equal_faded"] == \
        channels["faded"]["schemes"]["joint"]["reduction_vs_equal"]
    assert headline["joint_reduction_vs_equal_static"] == \
        channels["static"]["schemes"]["joint"]["reduction_vs_equal"]
    assert headline["joint_median_reduction_vs_equal_faded"] == \
        channels["faded"]["schemes"]["joint"]["median_reduction_vs_equal"]
    assert "K = 6" in headline["our_scenario"] and "rayleigh" in headline["our_scenario"]
    report = (out / "report.md").read_text()
    assert "46%" in report and "K = 6" in report
    for name in FIGURES.values():
        assert f"]({name})" in report
    static = channels["static"]["schemes"]["joint"]["reduction_vs_equal"]
    assert f"{-100 * static:+.1f}%" in report


def test_sweeps(study):
    _, summary = study
    sweeps = summary["sweeps"]
    assert sweeps["workers"]["values"] == [3, 6]
    assert sweeps["bandwidth_mhz"]["values"] == [2.0, 10.0]
    for sweep in sweeps.values():
        for key in ("mean_latency_s", "median_latency_s"):
            assert set(sweep[key]) == set(paba.SCHEMES)
            for values in sweep[key].values():
                assert len(values) == len(sweep["values"])
                assert all(v > 0 and math.isfinite(v) for v in values)
    # More bandwidth never slows the joint optimum down (same channel draws at every point).
    joint = sweeps["bandwidth_mhz"]["mean_latency_s"]["joint"]
    assert joint[1] < joint[0]


def test_same_draws_as_the_scheduler(study):
    """The study's faded run is the Scheduler on the same scenario: same numbers."""
    _, summary = study
    scenario = paba.Scenario.default(n_workers=6, bandwidth=5e6, seed=3)
    history = paba.Scheduler(scenario, "joint", iterations=40).run()
    assert summary["schemes"]["joint"]["mean_latency_s"] == pytest.approx(
        history.latency.mean(), rel=1e-7)


def test_imperfect_knowledge_options(tmp_path):
    argv = ["simulate", "--workers", "5", "--iterations", "30", "--no-sweeps", "--no-figures",
            "--csi", "noisy", "--csi-error-db", "3", "--availability", "0.8", "--jitter", "0.2",
            "--schemes", "joint", "--out", str(tmp_path), "--quiet"]
    assert cli.main(argv) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary["schemes"]) == ["equal", "joint"]   # equal added as the baseline
    assert summary["settings"]["scheduler"] == {
        "csi": "noisy", "delay": 1, "csi_error_db": 3.0, "availability": 0.8, "jitter": 0.2,
        "n_threads": 1, "record": "summary"}
    assert summary["sweeps"]["workers"]["values"] == []
    assert summary["files"]["figures"] == {}
    assert not (tmp_path / "latency_cdf.png").exists()
    assert summary["schemes"]["joint"]["mean_present_workers"] < 5


def test_degenerate_runs_still_write_their_files(tmp_path):
    """No sweeps: no sweep figures; no worker ever present: statistics are null, not NaN."""
    scenario = paba.Scenario.default(n_workers=3, seed=1)
    summary = run_study(scenario, iterations=5, scheduler_options=dict(availability=0.0),
                        workers_sweep=(), bandwidth_sweep_mhz=(), out=tmp_path)
    assert set(summary["files"]["figures"]) == {"latency_per_scheme", "latency_cdf"}
    assert not (tmp_path / FIGURES["latency_vs_workers"]).exists()
    text = (tmp_path / "summary.json").read_text()
    assert "NaN" not in text
    joint = json.loads(text)["schemes"]["joint"]
    assert joint["mean_latency_s"] is None and joint["skipped_iterations"] == 5
    assert run_study(scenario, iterations=2, workers_sweep=(),
                     bandwidth_sweep_mhz=())["files"] == {}


def test_console_script_prints_the_table(tmp_path):
    executable = shutil.which("paba")
    command = [executable] if executable else [sys.executable, "-m", "paba"]
    result = subprocess.run(
        [*command, "simulate", "--workers", "4", "--iterations", "10", "--no-sweeps",
         "--no-figures", "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "joint" in result.stdout and "46%" in result.stdout
    assert result.stderr == ""   # no progress bar when stderr is not a terminal
    assert (tmp_path / "summary.json").exists()


@pytest.mark.parametrize("argv,message", [
    (["--availability", "2"], "availability:"),
    (["--jitter", "-1"], "jitter:"),
    (["--bandwidth", "0"], "bandwidth:"),
    (["--seed", "-3"], "seed:"),
])
def test_cli_errors_name_the_argument(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["simulate", "--iterations", "2", "--no-sweeps", "--no-figures", "--quiet",
                  "--out", str(tmp_path), *argv])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith(f"paba: error: {message}")


def test_compare_is_still_the_default(capsys):
    assert cli.main(["--workers", "5"]) == 0
    assert "joint" in capsys.readouterr().out


def test_progress_bar():
    stream = io.StringIO()
    bar = Progress(10, enabled=True, file=stream)
    bar.update(5)
    bar.update(10, "done")
    bar.close()
    text = stream.getvalue()
    assert "100%" in text and "10/10" in text and "done" in text and text.endswith("\n")
    quiet = io.StringIO()
    bar = Progress(10, file=quiet)        # StringIO is not a terminal: disabled
    bar.update(10)
    bar.close()
    assert quiet.getvalue() == ""


def test_reduction_against_equal_is_defined_once():
    """The studies' reports and the sweep's table read one definition (paba._records.reduction):
    1 - value / baseline, None (a NaN in the sweep's float column) where either latency is not
    finite and positive."""
    import math

    from paba._records import reduction
    from paba._sweep._runner import _reduction
    from paba.studies import _report

    assert _report.reduction is reduction
    assert reduction(0.75, 1.0) == pytest.approx(0.25)
    assert reduction(1.0, 0.0) is None and reduction(math.inf, 1.0) is None
    assert reduction(1.0, math.nan) is None
    assert _reduction(0.75, 1.0) == reduction(0.75, 1.0)
    assert math.isnan(_reduction(1.0, math.inf))


def test_figures_without_matplotlib_are_refused_before_any_work(tmp_path, monkeypatch):
    """One guard (paba.studies._report.pyplot) for every study: where matplotlib is missing, a
    study asked for figures stops at once with a ValueError naming --no-figures, and writes
    nothing; without figures it runs."""
    from paba.studies.accuracy import run_accuracy_study

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    scenario = paba.Scenario.default(n_workers=3, seed=1)
    with pytest.raises(ValueError, match="^figures: matplotlib is needed.*--no-figures"):
        run_study(scenario, iterations=2, workers_sweep=(), bandwidth_sweep_mhz=(),
                  out=tmp_path / "latency")
    assert not (tmp_path / "latency" / "summary.json").exists()
    with pytest.raises(ValueError, match="^figures: matplotlib is needed.*--no-figures"):
        run_accuracy_study(out=tmp_path / "accuracy", workers=3, max_iterations=1)
    assert not (tmp_path / "accuracy" / "summary.json").exists()
    summary = run_study(scenario, iterations=2, workers_sweep=(), bandwidth_sweep_mhz=(),
                        out=tmp_path / "plain", figures=False)
    assert summary["files"]["figures"] == {}
