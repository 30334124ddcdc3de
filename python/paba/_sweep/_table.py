"""The tidy table of a sweep: its columns, the pandas or NumPy form, and its files (CSV, Parquet,
the progress journal that ``--resume`` reads; docs/sweeps.md section 4)."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np

from ._axes import AXES
from ._runner import STATISTICS

#: Columns after the cell's settings: the key, then the statistics of :data:`STATISTICS`.
KEY_COLUMNS = ("seed", "scenario_seed", "scheme")
INTEGER_STATISTICS = ("iterations", "skipped_iterations")

#: Wall-clock columns: they differ from run to run; everything else is a function of the sweep.
TIMING_COLUMNS = ("solve_time_s",)


def columns(sweep) -> list[str]:
    """Every column of the table, in order."""
    return ["cell", *sweep.columns, *KEY_COLUMNS, *STATISTICS]


def _dtype(sweep, name: str):
    if name in ("cell", "seed", *INTEGER_STATISTICS):
        return np.int64
    if name == "scenario_seed":
        return np.uint64
    if name == "scheme" or AXES.get(name) is str:
        return str
    if AXES.get(name) is int:
        return np.int64
    return np.float64


def arrays(sweep, results: dict) -> dict[str, np.ndarray]:
    """The table as a dict of column arrays, rows sorted by (cell, seed, scheme) in the sweep's
    order; ``results`` maps every (cell, seed) to its rows."""
    data: dict[str, list] = {name: [] for name in columns(sweep)}
    settings = sweep.columns
    for unit in sweep.units():
        rows = results[(unit.cell, unit.seed)]
        values = [sweep.value(unit.cell, name) for name in settings]
        for scheme, row in zip(sweep.schemes, rows, strict=True):
            data["cell"].append(unit.cell)
            for name, value in zip(settings, values, strict=True):
                data[name].append(value)
            data["seed"].append(unit.seed)
            data["scenario_seed"].append(unit.scenario_seed)
            data["scheme"].append(scheme)
            for name, value in zip(STATISTICS, row, strict=True):
                data[name].append(value)
    out = {}
    for name, values in data.items():
        dtype = _dtype(sweep, name)
        if dtype is str:
            width = max((len(v) for v in values), default=1)
            out[name] = np.array(values, dtype=f"<U{max(1, width)}")
        else:
            out[name] = np.array(values, dtype=dtype)
    return out


def to_table(sweep, results: dict):
    """A pandas DataFrame when pandas is installed, else a NumPy structured array."""
    data = arrays(sweep, results)
    try:
        import pandas as pd
    except ImportError:
        return structured(data)
    return pd.DataFrame({name: (column.astype(object) if column.dtype.kind == "U" else column)
                         for name, column in data.items()})


def structured(data: dict[str, np.ndarray]) -> np.ndarray:
    """The columns as one structured array."""
    names = list(data)
    size = len(next(iter(data.values()))) if data else 0
    out = np.empty(size, dtype=[(name, data[name].dtype) for name in names])
    for name in names:
        out[name] = data[name]
    return out


# -- files ---------------------------------------------------------------------------------------

def _text(value) -> str:
    """A CSV field: floats by repr (which reads back to the same float), NaN as empty."""
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return "" if math.isnan(value) else repr(value)
    return str(value)


def write_csv(path: Path, data: dict[str, np.ndarray]) -> None:
    names = list(data)
    size = len(data[names[0]])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        for i in range(size):
            writer.writerow([_text(data[name][i]) for name in names])


def write_parquet(path: Path, data: dict[str, np.ndarray]) -> bool:
    """Write the table as Parquet with pyarrow; False (and nothing written) without it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    table = pa.table({name: (pa.array(column.tolist(), type=pa.string())
                             if column.dtype.kind == "U" else pa.array(column))
                      for name, column in data.items()})
    pq.write_table(table, path)
    return True


class Journal:
    """``progress.jsonl``: one line per completed (cell, seed), appended and flushed as each task
    completes, in completion order, so that a sweep killed at any moment loses at most the tasks
    in flight. Floats are written by JSON (repr: read back exactly)."""

    def __init__(self, path: Path, sweep):
        self.path = Path(path)
        self.sweep = sweep
        self._units = {(u.cell, u.seed): u for u in sweep.units()}

    def read(self) -> dict:
        """The units written so far, {(cell, seed): rows}; a torn last line (the process killed
        mid-write) and units that are not this sweep's are left out, and the file is cut back to
        its complete lines."""
        sweep = self.sweep
        results: dict = {}
        if not self.path.exists():
            return results
        valid = self._units
        good_bytes = 0
        with open(self.path, "rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                try:
                    record = json.loads(line)
                    key = (int(record["cell"]), int(record["seed"]))
                    rows = [tuple(row) for row in record["rows"]]
                except (ValueError, KeyError, TypeError):
                    break
                unit = valid.get(key)
                if unit is None or record.get("scenario_seed") != unit.scenario_seed \
                        or len(rows) != len(sweep.schemes) \
                        or any(len(row) != len(STATISTICS) for row in rows):
                    raise ValueError(f"resume: {self.path} holds a unit (cell {key[0]}, seed "
                                     f"{key[1]}) that is not this sweep's")
                results[key] = rows
                good_bytes += len(line)
        if good_bytes != self.path.stat().st_size:
            with open(self.path, "r+b") as handle:
                handle.truncate(good_bytes)
        return results

    def append(self, result: list) -> None:
        """Write one task's result (a list of (cell, seed, rows)) and flush it to disk."""
        lines = "".join(
            json.dumps({"cell": cell, "seed": seed,
                        "scenario_seed": self._units[(cell, seed)].scenario_seed,
                        "rows": [list(row) for row in rows]}) + "\n"
            for cell, seed, rows in result)
        with open(self.path, "a") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def read_csv(path: Path, sweep) -> dict:
    """The units of a finished sweep's ``results.csv`` as {(cell, seed): rows} (what
    ``--resume`` reads when the sweep had finished)."""
    results: dict = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != columns(sweep):
            raise ValueError(f"resume: {path} does not have this sweep's columns")
        for record in reader:
            key = (int(record["cell"]), int(record["seed"]))
            row = tuple(int(record[name]) if name in INTEGER_STATISTICS else
                        (float(record[name]) if record[name] != "" else math.nan)
                        for name in STATISTICS)
            results.setdefault(key, []).append(row)
    return results
