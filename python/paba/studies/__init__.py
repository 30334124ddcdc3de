"""The studies: what the command line runs, built on the library and never imported by it.

- :mod:`~paba.studies.compare`: every scheme on one draw of the default cell (``paba compare``).
- :mod:`~paba.studies.latency`: the latency study (``paba simulate``).
- :mod:`~paba.studies.accuracy`: the accuracy study, partitioned training with every scheme
  (``paba train``; needs the ``train`` extra).
- :mod:`~paba.studies.reproduce`: both studies and the report beside the paper's headline
  (``paba reproduce``).

Each module exposes ``add_arguments(parser)`` and ``main(args)``; :mod:`paba.cli` only
dispatches. The paper's figures are in :mod:`~paba.studies.paper`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["reproduce", "run_accuracy_study", "run_study"]


def __getattr__(name: str) -> Any:
    # The studies import matplotlib and PyTorch where they run; importing the wing does not.
    if name == "run_study":
        from .latency import run_study
        return run_study
    if name == "run_accuracy_study":
        from .accuracy import run_accuracy_study
        return run_accuracy_study
    if name == "reproduce":
        from .reproduce import reproduce as function
        return function
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
