"""What every study shares: the scheme list with its baseline, line styles, matplotlib's pyplot
(or the error that says how to do without it), progress bars, strict JSON, and the formatting of
changes against the baseline."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .._allocation import SCHEMES
from .._records import reduction as reduction  # the studies' reports use it from here

#: Line style of each scheme in the figures (sequential often equals bandwidth_aware: dashed).
STYLES = {"equal": dict(marker="o"), "bandwidth_aware": dict(marker="s"),
          "parameter_aware": dict(marker="^"), "sequential": dict(marker="x", linestyle="--"),
          "joint": dict(marker="D")}


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (files, no display). Without matplotlib: a
    ValueError naming the figures option, raised before a study starts its work."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError("figures: matplotlib is needed for the figures "
                         "(pip install 'paba[plot]'), or pass --no-figures") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def with_baseline(schemes) -> list[str]:
    """The schemes of a study, checked, with ``"equal"`` (the baseline) first."""
    schemes = list(dict.fromkeys(["equal", *schemes]))
    for scheme in schemes:
        if scheme not in SCHEMES:
            raise ValueError(f"schemes: unknown scheme {scheme!r}; choose from {SCHEMES}")
    return schemes


def change(reduction: float | None) -> str:
    """A reduction against the baseline as a signed percentage of change: 0.25 -> ``-25.0%``."""
    return "n/a" if reduction is None else f"{-100 * reduction:+.1f}%"


def percent(fraction: float) -> str:
    """A fraction (an accuracy) as a percentage: 0.972 -> ``97.2%``."""
    return f"{100 * fraction:.1f}%"


def points(value: float | None, unit: str = "") -> str:
    """A gain in accuracy points, signed: 1.25 -> ``+1.2`` (``+1.2 points`` with a unit)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.1f}{' ' + unit if unit else ''}"


class Progress:
    """A progress bar on stderr (tqdm), shown only on a terminal unless ``enabled`` says.

    ``update(done, label)`` moves it to ``done`` of ``total`` steps; ``close()`` ends it.
    """

    def __init__(self, total: int, *, enabled: bool | None = None, file=None):
        from tqdm.auto import tqdm

        # disable=None: tqdm's own rule, drawn only where the stream is a terminal.
        self._bar = tqdm(total=max(1, int(total)), disable=None if enabled is None else
                         not enabled, file=file, leave=True, dynamic_ncols=True,
                         mininterval=0.1)

    def update(self, done: int, label: str | None = None) -> None:
        if label is not None:
            self._bar.set_description_str(label[:40], refresh=False)
        self._bar.update(min(int(done), self._bar.total) - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def json_ready(value):
    """NaN (a statistic over no iteration) as null, infinity as a string: strict JSON."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def write_summary(directory: Path, summary: dict, report: str) -> None:
    """Write a study's ``report.md`` and its ``summary.json`` (strict JSON) into ``directory``."""
    (directory / "report.md").write_text(report)
    with open(directory / "summary.json", "w") as handle:
        json.dump(json_ready(summary), handle, indent=2)
        handle.write("\n")
