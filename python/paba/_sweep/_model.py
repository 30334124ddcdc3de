"""What a sweep is: cells (settings of a :class:`paba.Scenario` and a :class:`paba.Scheduler`),
seeds and schemes; how each (cell, seed) gets its random streams (docs/sweeps.md section 2).

A *cell* is a dict of settings, each the name of a Scenario field or of a Scheduler option (the
:data:`AXES`); the sweep's other settings come from its base scenario and scheduler options. A
*unit* is one cell with one seed: every scheme of a unit runs on the same channel draws, so that
its reduction against ``equal`` compares like with like. Units are what the runner sends to the
executor, in chunks.

The seed of a unit's scenario comes from ``numpy.random.SeedSequence`` over the cell's key (the
SHA-256 of its settings as canonical JSON) and the sweep seed, never from where or when the unit
runs: the table is the same on any executor, with any number of workers, in any completion order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import numbers
from typing import Any

import numpy as np

from .._allocation import SCHEMES
from .._scenario import Scenario
from .._scheduler import Scheduler
from .._validation import describe
from ._axes import AXES, CHOICES, SCENARIO_AXES, SCHEDULER_AXES

#: Scheduler options of the base that no cell may vary and no base may set: the sweep fixes
#: them (summary records, one native thread per task unless ``n_threads``).
FIXED_OPTIONS = ("record", "n_threads", "backend", "trace", "groups", "granules", "warm_start")

#: The work of one (cell, seed, scheme): workers x iterations, as ``paba simulate`` allows.
MAX_WORKER_ITERATIONS = 10**9

#: Seeds are non-negative and below 2**63 (an int64 column of the table).
MAX_SEED = 2**63 - 1

DEFAULT_ITERATIONS = 200


def _value(name: str, value, kind):
    """One value of axis ``name`` in its canonical Python type (so that 10 and 10.0 of a float
    axis are the same cell and get the same seed)."""
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"{name}: must be a string, got {describe(value)}")
        options = CHOICES.get(name)
        if options is not None and value not in options:
            raise ValueError(f"{name}: unknown value {value!r}; choose from {options}")
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: must be a number, got {describe(value)}")
    if kind is int:
        if isinstance(value, numbers.Integral):
            return int(value)
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"{name}: must be an integer, got {describe(value)}")
        return int(number)
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{name}: {describe(value)} is beyond float64's range") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}: must be finite, got {describe(value)}")
    return number


def _cell(where: str, settings) -> dict:
    if not isinstance(settings, dict):
        raise ValueError(f"{where}: a cell must be a dict of settings, got {describe(settings)}")
    out = {}
    for name, value in settings.items():
        if name not in AXES:
            raise ValueError(f"{where}: unknown setting {name!r}; a cell sets Scenario fields "
                             f"or Scheduler options: {', '.join(AXES)}")
        out[name] = _value(name, value, AXES[name])
    return out


def cell_key(cell: dict) -> str:
    """The cell's key: its settings as canonical JSON (sorted names; each value in its axis's
    type, so that ``{"bandwidth": 10e6}`` and ``{"bandwidth": 10**7}`` are the same cell)."""
    return json.dumps(_cell("cell", cell), sort_keys=True, separators=(",", ":"))


def scenario_seed(cell: dict, seed: int) -> int:
    """The seed of the scenario of ``cell`` for the sweep seed ``seed``: the first 64-bit word of
    ``SeedSequence([seed, *w])``, w the first four 32-bit words of the SHA-256 of the cell's key.
    It depends on nothing else (not the executor, not the other cells)."""
    digest = hashlib.sha256(cell_key(cell).encode()).digest()
    words = np.frombuffer(digest[:16], dtype="<u4").tolist()
    sequence = np.random.SeedSequence([int(seed), *words])
    return int(sequence.generate_state(1, np.uint64)[0])


@dataclasses.dataclass(frozen=True)
class Unit:
    """One cell with one seed: the work of one executor call's inner loop."""

    cell: int          # index of the cell in the sweep's order
    seed: int          # the sweep seed
    scenario_seed: int  # what the scenario is built with (scenario_seed(cell, seed))


class Sweep:
    """A grid (or an explicit list) of scenario and scheduler settings, times seeds, times schemes.

    Parameters
    ----------
    axes : dict of str to sequence, optional
        The grid: for each setting (a Scenario field such as ``n_workers`` or ``bandwidth`` in
        Hz, or a Scheduler option such as ``csi`` or ``availability``; :data:`AXES`), the values
        it takes. Cells are the product of the axes in the order given, the last axis varying
        fastest. A setting with one value is a column of the table like the others.
    cells : sequence of dict, optional
        An explicit list of cells instead of a grid, each a dict of settings (different cells may
        set different settings; a cell that does not set one uses the base).
    seeds : sequence of int, default (0,)
        Sweep seeds, each in [0, 2**63); every cell runs once per seed.
    schemes : sequence of str, default every scheme
        Schemes to run; ``"equal"`` (the baseline of the reductions) is always added, first.
    iterations : int, default 200
        Iterations of every run (a cell may set its own through an ``iterations`` axis).
    scenario : dict or Scenario, optional
        Base settings of the scenario (Scenario fields); a Scenario's ``seed`` is not used.
    scheduler : dict, optional
        Base Scheduler options (``csi``, ``delay``, ``availability``, ``jitter``, ...).
    n_threads : int, default 1
        Threads of paba's native solver in each task. Keep 1 when the executor runs one task per
        core (a process pool, Dask workers with one thread each): more would oversubscribe.

    Notes
    -----
    :meth:`run` returns one row per cell, seed and scheme, sorted by (cell, seed, scheme) in the
    sweep's order. The seed of every (cell, seed) is :func:`scenario_seed`: the same wherever and
    whenever it runs.
    """

    def __init__(self, axes: dict | None = None, *, cells=None, seeds=(0,), schemes=SCHEMES,
                 iterations: int = DEFAULT_ITERATIONS, scenario=None, scheduler=None,
                 n_threads: int = 1):
        if (axes is None) == (cells is None):
            if axes is None:
                axes = {}
            else:
                raise ValueError("cells: give either axes (a grid) or cells (a list), not both")
        self.axes: dict[str, list[Any]] | None
        if axes is not None:
            if not isinstance(axes, dict):
                raise ValueError(f"axes: must be a dict of setting to values, got "
                                 f"{describe(axes)}")
            grid: dict[str, list[Any]] = {}
            for name, values in axes.items():
                if name not in AXES:
                    raise ValueError(f"{name}: unknown axis; choose from {', '.join(AXES)}")
                if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                    values = [values]
                values = [_value(name, v, AXES[name]) for v in values]
                if not values:
                    raise ValueError(f"{name}: the axis has no values")
                if len(set(values)) != len(values):
                    raise ValueError(f"{name}: the axis repeats a value: {values}")
                grid[name] = values
            self.axes = grid
            cell_list = [dict(zip(grid, combination, strict=True))
                         for combination in itertools.product(*grid.values())]
        else:
            if isinstance(cells, dict) or not hasattr(cells, "__iter__"):
                raise ValueError(f"cells: must be a list of dicts, got {describe(cells)}")
            cell_list = [_cell(f"cells[{i}]", c) for i, c in enumerate(cells)]
            if not cell_list:
                raise ValueError("cells: the list is empty")
            keys = [cell_key(c) for c in cell_list]
            if len(set(keys)) != len(keys):
                raise ValueError("cells: the list repeats a cell")
            self.axes = None
        self.cells = cell_list

        if isinstance(seeds, numbers.Integral):
            seeds = [seeds]
        seed_list = []
        for seed in seeds:
            if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) \
                    or not 0 <= int(seed) <= MAX_SEED:
                raise ValueError(f"seeds: each must be an integer in [0, 2**63), got "
                                 f"{describe(seed)}")
            seed_list.append(int(seed))
        if not seed_list:
            raise ValueError("seeds: no seed given")
        self.seeds = sorted(set(seed_list))

        if isinstance(schemes, str):
            schemes = [schemes]
        schemes = list(schemes)
        if not schemes:
            raise ValueError("schemes: no scheme given")
        for scheme in schemes:
            if scheme not in SCHEMES:
                raise ValueError(f"schemes: unknown scheme {scheme!r}; choose from {SCHEMES}")
        self.schemes = list(dict.fromkeys(["equal", *schemes]))

        self.iterations = _value("iterations", iterations, int)
        if isinstance(scenario, Scenario):
            scenario = {k: v for k, v in scenario.to_dict().items() if k != "seed"}
        scenario = dict(scenario or {})
        if "seed" in scenario:
            raise ValueError("scenario: the seed of each cell comes from seeds= and the cell "
                             "(docs/sweeps.md section 2); leave it out of the base scenario")
        known = {f.name for f in dataclasses.fields(Scenario)}
        for name in scenario:
            if name not in known:
                raise ValueError(f"scenario: unknown field {name!r}")
        self.scenario = scenario
        scheduler = dict(scheduler or {})
        for name in scheduler:
            if name in FIXED_OPTIONS or name == "iterations":
                raise ValueError(f"scheduler: the sweep sets {name!r} itself (iterations: use "
                                 "iterations= or an axis)")
            if name not in SCHEDULER_AXES:
                raise ValueError(f"scheduler: unknown option {name!r}; choose from "
                                 f"{', '.join(n for n in SCHEDULER_AXES if n != 'iterations')}")
        self.scheduler = {k: _value(k, v, SCHEDULER_AXES[k]) for k, v in scheduler.items()}
        if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral) \
                or not 1 <= n_threads <= 1024:
            raise ValueError(f"n_threads: must be an integer in [1, 1024], got "
                             f"{describe(n_threads)}")
        self.n_threads: int = int(n_threads)

    # -- the cells' settings ---------------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        """The settings that are columns of the table: the axes, or every setting any cell of
        the list sets, in order of first appearance."""
        if self.axes is not None:
            return list(self.axes)
        return list(dict.fromkeys(name for cell in self.cells for name in cell))

    def resolved(self, index: int) -> tuple[dict, dict]:
        """The keyword arguments (without the seed) of cell ``index``'s Scenario and Scheduler
        (without the scheme)."""
        cell = self.cells[index]
        scenario = dict(self.scenario)
        scheduler = {"iterations": self.iterations, **self.scheduler}
        for name, value in cell.items():
            (scenario if name in SCENARIO_AXES else scheduler)[name] = value
        scheduler.update(record="summary", n_threads=self.n_threads)
        return scenario, scheduler

    def value(self, index: int, name: str):
        """The value of setting ``name`` in cell ``index`` (the base value where the cell does
        not set it)."""
        cell = self.cells[index]
        if name in cell:
            return cell[name]
        scenario, scheduler = self.resolved(index)
        if name in scenario:
            return scenario[name]
        if name in scheduler:
            return scheduler[name]
        default = {f.name: f.default for f in dataclasses.fields(Scenario)}.get(name)
        if default is None:
            import inspect
            default = inspect.signature(Scheduler).parameters[name].default
        return default

    def units(self) -> list[Unit]:
        """Every (cell, seed) in the table's order."""
        return [Unit(c, s, scenario_seed(cell, s)) for c, cell in enumerate(self.cells)
                for s in self.seeds]

    def check(self) -> None:
        """Build every cell's Scenario and Scheduler once, before any work, so that a bad setting
        is a ValueError naming it (the Scenario field or Scheduler option first) now and not in
        a task later."""
        for index, cell in enumerate(self.cells):
            scenario_options, scheduler_options = self.resolved(index)
            try:
                scenario = Scenario(seed=0, **scenario_options)
                iterations = scheduler_options["iterations"]
                Scheduler(scenario, "equal", **{**scheduler_options, "iterations": 1})
                if scenario.n_workers * iterations > MAX_WORKER_ITERATIONS:
                    raise ValueError(
                        f"iterations: {scenario.n_workers:,} workers x {iterations:,} "
                        f"iterations is more than a sweep's limit of {MAX_WORKER_ITERATIONS:,} "
                        "worker-iterations per run (docs/sweeps.md section 2)")
            except ValueError as error:
                where = f" (cell {index}: {cell_key(cell)})" if cell else ""
                raise ValueError(f"{error}{where}") from None

    def to_dict(self) -> dict:
        """The definition as JSON-ready data: what ``sweep.json`` holds, and what ``--resume``
        compares."""
        return {
            "axes": self.axes, "cells": None if self.axes is not None else self.cells,
            "seeds": self.seeds, "schemes": self.schemes, "iterations": self.iterations,
            "scenario": {k: (v.tolist() if isinstance(v, np.ndarray) else
                             list(v) if isinstance(v, tuple) else v)
                         for k, v in self.scenario.items()},
            "scheduler": self.scheduler, "n_threads": self.n_threads,
        }

    def __len__(self) -> int:
        """Rows of the table: cells x seeds x schemes."""
        return len(self.cells) * len(self.seeds) * len(self.schemes)

    def __repr__(self) -> str:
        return (f"Sweep({len(self.cells)} cells x {len(self.seeds)} seeds x "
                f"{len(self.schemes)} schemes, iterations={self.iterations})")

    # -- running -------------------------------------------------------------------------------

    def run(self, executor=None, *, chunk_size: int | None = None, progress=None):
        """Run every (cell, seed, scheme) on ``executor`` and return the table.

        Parameters
        ----------
        executor : concurrent.futures.Executor or {"serial", "process"}, optional
            Where the tasks run: any Executor (a ``ProcessPoolExecutor``, Dask's
            ``Client.get_executor()``, mpi4py's ``MPIPoolExecutor``, ...), used as given and
            left open; ``"serial"`` runs them here, one after another; default (None or
            ``"process"``): a ``ProcessPoolExecutor`` with one process per core, shut down at
            the end.
        chunk_size : int, optional
            (cell, seed) units per task. Default: tasks of about a quarter of a second by a
            rough estimate of the work, but at least four per worker of the executor where
            there are units enough (docs/sweeps.md section 3).
        progress : bool or callable, optional
            A tqdm progress bar on stderr (True; default: when stderr is a terminal and tqdm is
            installed), or a callable given the number of units done after each task.

        Returns
        -------
        pandas.DataFrame, or a NumPy structured array without pandas
            One row per cell, seed and scheme (the columns of docs/sweeps.md section 4), sorted
            by (cell, seed, scheme) in the sweep's order.
        """
        from ._runner import execute
        from ._table import to_table

        results = execute(self, executor, chunk_size=chunk_size, progress=progress)
        return to_table(self, results)
