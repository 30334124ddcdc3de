"""Parameter sweeps: a grid of scenario and scheduler settings, times seeds, times schemes, run on
any ``concurrent.futures.Executor`` (a process pool by default, Dask's ``Client.get_executor()``
for clusters) into one tidy table (docs/sweeps.md). The engine (:class:`paba.Sweep`, the runner
and the table) is ``paba._sweep``, below the studies; this package adds the output directory
(:func:`run_to`: the table, summary, report and figures) and ``paba sweep``.

>>> import paba
>>> sweep = paba.Sweep({"n_workers": [5, 10]}, seeds=[0, 1], schemes=["joint"], iterations=20)
>>> table = sweep.run("serial")
>>> len(table)                      # 2 cells x 2 seeds x 2 schemes (equal is always added)
8

Importing this package imports neither pandas nor Dask; ``run`` imports pandas when it is
installed, and only ``paba sweep --executor dask`` imports Dask.
"""

from ..._sweep import (
    AXES,
    KEY_COLUMNS,
    STATISTICS,
    TIMING_COLUMNS,
    SerialExecutor,
    Sweep,
    cell_key,
    scenario_seed,
)
from ._report import run_to

__all__ = ["AXES", "KEY_COLUMNS", "STATISTICS", "TIMING_COLUMNS", "SerialExecutor", "Sweep",
           "cell_key", "run_to", "scenario_seed"]
