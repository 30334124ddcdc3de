"""``paba sweep``: its options, its TOML file and its run (docs/sweeps.md section 5).

Every axis is a comma list on the command line (``--workers 10,20,50 --bandwidth 5,10,20``) or a
list in the ``[axes]`` table of ``--config FILE.toml``; options given on the command line replace
the file's. Every value is checked, and every cell built once, before any work starts (and before
a Dask cluster is started): a mistake is one line naming the option.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..._validation import MAX_THREADS, integer, real
from .._options import MAX_ITERATIONS, MAX_WORKERS

#: Axis options: option name -> (setting of the Sweep, type, check, unit scale). Bandwidth is
#: given in MHz, as in ``paba simulate``.
AXIS_OPTIONS = {
    "workers": ("n_workers", int, "positive", 1),
    "params": ("params", int, "positive", 1),
    "bandwidth": ("bandwidth", float, "positive", 1e6),
    "fading": ("fading", str, None, None),
    "k_factor": ("k_factor", float, "non-negative", 1),
    "shadowing_db": ("shadowing_std_db", float, "non-negative", 1),
    "fading_correlation": ("fading_correlation", float, "fraction_open", 1),
    "csi": ("csi", str, None, None),
    "delay": ("delay", int, "positive", 1),
    "csi_error_db": ("csi_error_db", float, "non-negative", 1),
    "availability": ("availability", float, "fraction", 1),
    "jitter": ("jitter", float, "non-negative", 1),
}

#: The option of each Sweep setting, to name it in an error.
OPTION_OF = {setting: option for option, (setting, *_rest) in AXIS_OPTIONS.items()}

#: Other keys of the TOML file (top level), besides ``[axes]`` and ``[[cells]]``.
CONFIG_KEYS = ("iterations", "seeds", "schemes", "executor", "address", "jobs", "chunk_size",
               "threads", "out")

EXECUTORS = ("serial", "process", "dask")

#: Most seeds one sweep takes (the other limits are paba simulate's, docs/scenarios.md 5).
MAX_SEEDS = 10**6


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _items(option: str, raw) -> list:
    """The items of a comma list (a string) or of a TOML list; an empty one is an error."""
    if isinstance(raw, str):
        parts = [part.strip() for part in raw.split(",")]
        if all(part == "" for part in parts):
            raise ValueError(f"{option}: no values given")
        if any(part == "" for part in parts):
            raise ValueError(f"{option}: an empty value in {raw!r}")
        return parts
    if isinstance(raw, list):
        if not raw:
            raise ValueError(f"{option}: no values given")
        return raw
    return [raw]


def _number(option: str, item, kind):
    if isinstance(item, bool):
        raise ValueError(f"{option}: {item!r} is not a number")
    if isinstance(item, str):
        try:
            value = int(item) if kind is int else float(item)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise ValueError(f"{option}: {item!r} is not {what}") from None
    elif isinstance(item, (int, float)):
        if kind is int and not float(item).is_integer():
            raise ValueError(f"{option}: {item!r} is not an integer")
        value = int(item) if kind is int else float(item)
    else:
        raise ValueError(f"{option}: {item!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{option}: must be finite, got {item!r}")
    return value


#: The bounds of each rule of AXIS_OPTIONS, as the validation vocabulary's ``real`` takes them.
RULES: dict[str, dict[str, Any]] = {
    "positive": dict(low=0.0, low_open=True), "non-negative": dict(low=0.0),
    "fraction": dict(low=0.0, high=1.0), "fraction_open": dict(low=0.0, high=1.0, high_open=True),
}


def _check(option: str, value, rule: str | None):
    if rule is not None:
        real(option, value, **RULES[rule])


def axis_values(option: str, raw) -> list:
    """The values of axis option ``option`` (a comma list or a TOML value), checked, in the
    Sweep's units."""
    from ..._scenario import FADING
    from ..._scheduler import CSI_MODES

    _setting, kind, rule, scale = AXIS_OPTIONS[option]
    values = []
    for item in _items(option, raw):
        if kind is str:
            choices = {"fading": FADING, "csi": CSI_MODES}[option]
            if not isinstance(item, str) or item not in choices:
                raise ValueError(f"{option}: unknown value {item!r}; choose from "
                                 f"{', '.join(choices)}")
            values.append(item)
            continue
        value = _number(option, item, kind)
        _check(option, value, rule)
        if option == "workers" and value > MAX_WORKERS:
            raise ValueError(f"workers: must be at most {MAX_WORKERS:,}, got {value}")
        values.append(value * scale if scale != 1 else value)
    if len(set(values)) != len(values):
        raise ValueError(f"{option}: a value is repeated in {raw!r}")
    return values


def seed_values(raw) -> list[int]:
    """Seeds from ``"0-19"``, ``"0,3,7-9"`` or a TOML list of integers."""
    seeds: list[int] = []
    for item in _items("seeds", raw):
        if isinstance(item, str) and "-" in item and not item.startswith("-"):
            low, _, high = item.partition("-")
            first, last = _number("seeds", low, int), _number("seeds", high, int)
            if last < first:
                raise ValueError(f"seeds: the range {item!r} is empty")
            if last - first >= MAX_SEEDS:
                raise ValueError(f"seeds: at most {MAX_SEEDS:,} seeds, got the range {item!r}")
            seeds.extend(range(first, last + 1))
        else:
            seeds.append(_number("seeds", item, int))
    for seed in seeds:
        if seed < 0 or seed >= 2**63:
            raise ValueError(f"seeds: each must be an integer in [0, 2**63), got {seed}")
    if len(seeds) > MAX_SEEDS:
        raise ValueError(f"seeds: at most {MAX_SEEDS:,} seeds, got {len(seeds):,}")
    return sorted(set(seeds))


def scheme_values(raw) -> list[str]:
    from ..._allocation import SCHEMES

    schemes = []
    for item in _items("schemes", raw):
        if not isinstance(item, str) or item not in SCHEMES:
            raise ValueError(f"schemes: unknown scheme {item!r}; choose from "
                             f"{', '.join(SCHEMES)}")
        schemes.append(item)
    return schemes


def _positive(option: str, raw, maximum: int | None = None) -> int:
    value = _number(option, raw, int)
    _check(option, value, "positive")
    return integer(option, value, minimum=1, maximum=maximum)


def read_config(path: str) -> dict:
    """The TOML file as {"axes": {...}, "cells": [...] or None, key: value}, keys with "_"."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        try:
            import tomli as tomllib
        except ImportError:
            raise ValueError("config: reading TOML needs Python 3.11 or the tomli package") \
                from None
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ValueError(f"config: cannot read {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"config: {path} is not valid TOML: {error}") from None

    def normal(table: dict, where: str, allowed) -> dict:
        out = {}
        for key, value in table.items():
            name = key.replace("-", "_")
            if name not in allowed:
                raise ValueError(f"config: {path}: unknown key {key!r}{where}; choose from "
                                 f"{', '.join(k.replace('_', '-') for k in allowed)}")
            out[name] = value
        return out

    top = {k: v for k, v in data.items() if k not in ("axes", "cells")}
    out = normal(top, "", (*CONFIG_KEYS, "axes", "cells"))
    axes = data.get("axes", {})
    if not isinstance(axes, dict):
        raise ValueError(f"config: {path}: axes must be a table ([axes])")
    out["axes"] = normal(axes, " in [axes]", AXIS_OPTIONS)
    cells = data.get("cells")
    if cells is not None:
        if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
            raise ValueError(f"config: {path}: cells must be an array of tables ([[cells]])")
        if not cells:
            raise ValueError(f"config: {path}: cells: no cells given")
        out["cells"] = [normal(c, f" in cells[{i}]", AXIS_OPTIONS) for i, c in enumerate(cells)]
    return out


def build_sweep(args: argparse.Namespace):
    """The Sweep and the run settings from the options and the config file (options win)."""
    from ..._sweep._model import DEFAULT_ITERATIONS, Sweep

    config: dict[str, Any] = {"axes": {}}
    if args.config is not None:
        config = read_config(args.config)
    where = f"config: {args.config}: " if args.config is not None else ""

    def pick(name: str, default=None):
        given = getattr(args, name)
        if given is not None:
            return given, ""
        if name in config:
            return config[name], where
        return default, ""

    axes = {}
    for option in AXIS_OPTIONS:
        raw, prefix = (getattr(args, option), "") if getattr(args, option) is not None else (
            config["axes"].get(option), where)
        if raw is None:
            continue
        try:
            axes[AXIS_OPTIONS[option][0]] = axis_values(option, raw)
        except ValueError as error:
            raise ValueError(f"{prefix}{error}") from None
    cells = None
    if config.get("cells") is not None:
        if axes:
            raise ValueError(f"{where}cells: give either axes or [[cells]], not both")
        cells = []
        for i, cell in enumerate(config["cells"]):
            settings = {}
            for option, raw in cell.items():
                try:
                    values = axis_values(option, raw)
                except ValueError as error:
                    raise ValueError(f"{where}cells[{i}]: {error}") from None
                if len(values) != 1:
                    raise ValueError(f"{where}cells[{i}]: {option}: one value per cell")
                settings[AXIS_OPTIONS[option][0]] = values[0]
            cells.append(settings)

    def parsed(name, parse, default):
        raw, prefix = pick(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as error:
            raise ValueError(f"{prefix}{error}") from None

    seeds = parsed("seeds", seed_values, [0])
    from ..._allocation import SCHEMES
    schemes = parsed("schemes", scheme_values, list(SCHEMES))
    iterations = parsed("iterations", lambda r: _positive("iterations", r, MAX_ITERATIONS),
                        DEFAULT_ITERATIONS)
    threads = parsed("threads", lambda r: _positive("threads", r, MAX_THREADS), 1)
    run = {
        "executor": parsed("executor", _executor_name, "process"),
        "address": parsed("address", _address, None),
        "jobs": parsed("jobs", lambda r: _positive("jobs", r, 4096), None),
        "chunk_size": parsed("chunk_size", lambda r: _positive("chunk_size", r), None),
        "out": parsed("out", _out, "paba-sweep"),
    }
    if run["address"] is not None and run["executor"] != "dask":
        raise ValueError("address: a Dask scheduler's address needs --executor dask")
    try:
        sweep = Sweep(axes if cells is None else None, cells=cells, seeds=seeds,
                      schemes=schemes, iterations=iterations, n_threads=threads)
        sweep.check()
    except ValueError as error:
        raise ValueError(_option_message(str(error))) from None
    return sweep, run


def _executor_name(raw) -> str:
    if raw not in EXECUTORS:
        raise ValueError(f"executor: must be one of {', '.join(EXECUTORS)}, got {raw!r}")
    return raw


def _address(raw) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"address: must be a scheduler address such as tcp://host:8786, got "
                         f"{raw!r}")
    return raw.strip()


def _out(raw) -> str:
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"out: must be a directory path, got {raw!r}")
    return raw


def _option_message(message: str) -> str:
    """A Sweep's message, which starts with a Scenario field or Scheduler option, with the
    command line's name of it instead."""
    head, sep, rest = message.partition(":")
    option = OPTION_OF.get(head)
    return f"{option}{sep}{rest}" if option and sep else message


def _dask_executor(address: str | None, jobs: int | None):
    """A Dask executor and a closer: a client of the scheduler at ``address``, or of a
    LocalCluster of ``jobs`` single-threaded worker processes (default: one per core) on
    loopback."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("executor: dask needs dask[distributed] "
                         "(pip install 'paba[cluster]')") from None
    import logging

    cluster = None
    try:
        if address is not None:
            client = Client(address, timeout="20s")
        else:
            # Loopback only; the HTTP server on a free port (8787 may be another cluster's).
            cluster = LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1,
                                   processes=True, host="127.0.0.1",
                                   dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
            client = Client(cluster)
    except (OSError, TimeoutError) as error:
        if cluster is not None:
            cluster.close()
        raise ValueError(f"address: cannot connect to the Dask scheduler at {address}: "
                         f"{error}") from None

    def close():
        client.close()
        if cluster is not None:
            cluster.close()

    return client.get_executor(), close


def main(args: argparse.Namespace) -> int:
    from ..._validation import output_directory
    from ._report import PROGRESS, check_directory, output_files, run_to

    sweep, run = build_sweep(args)
    out = run["out"]
    output_directory("out", out, files=[*output_files(sweep, not args.no_figures), PROGRESS])
    close = None
    executor = run["executor"]
    if executor == "process" and run["jobs"] is not None:
        import concurrent.futures as cf
        import multiprocessing

        executor = cf.ProcessPoolExecutor(max_workers=run["jobs"],
                                          mp_context=multiprocessing.get_context("spawn"))
        close = executor.shutdown
    started = time.perf_counter()
    try:
        if executor == "dask":
            # The directory and the resume check come first: a cluster starts in seconds.
            check_directory(sweep, out, args.resume)
            executor, close = _dask_executor(run["address"], run["jobs"])
        summary = run_to(sweep, out, executor, chunk_size=run["chunk_size"],
                                   resume=args.resume, figures=not args.no_figures,
                                   progress=False if args.quiet else None)
    except KeyboardInterrupt:
        sys.stderr.write(f"{_fresh_line()}paba: error: interrupted; the completed cells are "
                         f"in {Path(out) / PROGRESS}: run the same command with --resume to "
                         "continue\n")
        return 130
    finally:
        if close is not None:
            close()
    if not args.quiet:
        timing = summary["timing"]
        size = summary["size"]
        print(f"paba sweep: {size['cells']} cells x {size['seeds']} seeds x {size['schemes']} "
              f"schemes = {size['rows']} rows; {timing['units_run']} (cell, seed) units run "
              f"({timing['units_resumed']} resumed) on {timing['executor']} in "
              f"{time.perf_counter() - started:.1f} s")
        joint = summary["schemes"].get("joint", {}).get("median_reduction_vs_equal", {})
        if joint.get("mean_over_cells") is not None:
            print(f"joint vs equal, median latency: {-100 * joint['mean_over_cells']:+.1f}% "
                  f"on average over the cells ({-100 * joint['max']['value']:+.1f}% to "
                  f"{-100 * joint['min']['value']:+.1f}%)")
        print(f"wrote {out}/results.csv, summary.json, report.md"
              f"{'' if args.no_figures else ' and figures'}")
    return 0


def _fresh_line() -> str:
    return "\n" if getattr(sys.stderr, "isatty", lambda: False)() else ""


def add_arguments(sweep: argparse.ArgumentParser) -> None:
    """The options of ``paba sweep``."""
    axes = sweep.add_argument_group("axes (comma lists; one value fixes a setting)")
    helps = {
        "workers": "numbers of workers K (20)",
        "params": "model sizes L in parameters (1000000)",
        "bandwidth": "total bandwidths B in MHz (10)",
        "fading": "block fading: rayleigh, rician, none (rayleigh)",
        "k_factor": "Rician K-factors, linear (1)",
        "shadowing_db": "std of log-normal shadowing in dB (0)",
        "fading_correlation": "correlation of fading between iterations, in [0, 1) (0)",
        "csi": "channel knowledge: perfect, delayed, noisy (perfect)",
        "delay": "iterations of delay for csi delayed (1)",
        "csi_error_db": "std of the channel estimate's error in dB for csi noisy (2)",
        "availability": "probabilities that a worker is present in an iteration (1)",
        "jitter": "sigmas of the log-normal compute-time factor (0)",
    }
    for option in AXIS_OPTIONS:
        axes.add_argument(_flag(option), dest=option, default=None, metavar="LIST",
                          help=helps[option])
    sweep.add_argument("--seeds", default=None, metavar="LIST",
                       help="seeds: ranges and values, e.g. 0-19 or 0,5,7-9 (0)")
    sweep.add_argument("--schemes", default=None, metavar="LIST",
                       help="schemes, comma separated; equal is always added (all)")
    sweep.add_argument("--iterations", default=None, metavar="N",
                       help=f"iterations per run (200; at most {MAX_ITERATIONS:,})")
    sweep.add_argument("--config", default=None, metavar="FILE.toml",
                       help="read the sweep from a TOML file; options given here win")
    sweep.add_argument("--executor", default=None, metavar="NAME",
                       help="serial, process (a process pool, the default) or dask")
    sweep.add_argument("--address", default=None, metavar="URL",
                       help="an existing Dask scheduler, e.g. tcp://host:8786 (default: a "
                            "LocalCluster of one single-threaded process per core)")
    sweep.add_argument("--jobs", default=None, metavar="N",
                       help="processes of the process pool or of the LocalCluster (cores)")
    sweep.add_argument("--chunk-size", dest="chunk_size", default=None, metavar="N",
                       help="(cell, seed) units per task (default: tasks of about 0.25 s by an "
                            "estimate, at least 4 per worker)")
    sweep.add_argument("--threads", default=None, metavar="N",
                       help="native solver threads per task (1: one per task, no "
                            "oversubscription)")
    sweep.add_argument("--out", default=None, metavar="DIR", help="output directory "
                                                                  "(paba-sweep)")
    sweep.add_argument("--resume", action="store_true",
                       help="continue the sweep in --out, skipping the cells already written")
    sweep.add_argument("--no-figures", action="store_true", help="write no PNG figures")
    sweep.add_argument("--quiet", action="store_true",
                       help="no progress bar and no summary on the terminal")
