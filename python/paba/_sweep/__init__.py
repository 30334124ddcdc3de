"""The sweep's engine: a grid of scenario and scheduler settings, times seeds, times schemes
(``_axes``, ``_model``), run in (cell, seed) units on any ``concurrent.futures.Executor``
(``_runner``) into one tidy table (``_table``). It sits below the studies, so that the package
root exports :class:`Sweep`; the command line and the output directory's report and figures are
``paba.studies.sweep`` (docs/sweeps.md, docs/architecture.md).

Importing this package imports neither pandas nor Dask; ``Sweep.run`` imports pandas when it is
installed.
"""

from ._model import AXES, Sweep, cell_key, scenario_seed
from ._runner import STATISTICS, SerialExecutor
from ._table import KEY_COLUMNS, TIMING_COLUMNS

__all__ = ["AXES", "KEY_COLUMNS", "STATISTICS", "TIMING_COLUMNS", "SerialExecutor", "Sweep",
           "cell_key", "scenario_seed"]
