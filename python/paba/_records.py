"""What a scheduler run records: one :class:`IterationRecord` per iteration and the
:class:`History` of a run, with the phase latencies (download, compute, upload) they hold."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._allocation import Allocation

#: Elements (iterations x workers) per chunk of the batch path: bounds its working memory to a
#: few tens of MB whatever the run's size.
CHUNK_ELEMENTS = 1 << 20


def reduction(value: float, baseline: float) -> float | None:
    """A latency's reduction against a baseline (the equal scheme's), ``1 - value / baseline``;
    None where either is not a finite positive latency. The one definition every study and the
    sweep's table use."""
    if not (math.isfinite(value) and math.isfinite(baseline)) or baseline <= 0:
        return None
    return 1.0 - value / baseline


def phase_latencies(loads, bandwidth, efficiency_down, efficiency_up, compute,
                    bits_per_parameter) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Download, compute and upload seconds of each worker, vectorised over any leading shape.

    download = q L_k / (B_k e_down_k), compute = c_k L_k, upload = q L_k / (B_k e_up_k), with
    loads L in parameters, bandwidth B in Hz, efficiencies e in bit/s/Hz, compute c in seconds per
    parameter and q bits per parameter. A worker without load takes no time (0 in every phase);
    one with load but no bandwidth takes forever (inf). One worker per group: L_k is the load of
    worker k's own block.

    Returns
    -------
    (download, compute, upload) : ndarrays of float64 shaped like ``loads``, in seconds
    """
    loads = np.asarray(loads, dtype=np.float64)
    bandwidth = np.asarray(bandwidth, dtype=np.float64)
    bits = bits_per_parameter * loads
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        download = np.where(loads > 0, bits / (bandwidth * efficiency_down), 0.0)
        upload = np.where(loads > 0, bits / (bandwidth * efficiency_up), 0.0)
    return download, np.asarray(compute) * loads, upload


def realised_latency(loads, download, compute, upload) -> np.ndarray:
    """The latency each iteration really took: the slowest loaded worker's download + compute +
    upload (the phases of :func:`phase_latencies`), over the last axis; NaN where no worker
    has load. Both of the scheduler's paths charge their allocations with it."""
    total = np.where(np.asarray(loads) > 0, download + compute + upload, -np.inf)
    latency = total.max(axis=-1, initial=-np.inf)
    return np.where(np.isneginf(latency), np.nan, latency)


@dataclass(frozen=True, eq=False)
class IterationRecord:
    """What happened in one iteration (arrays are per worker of the scenario, shape (K,)).

    Attributes
    ----------
    iteration : int
        0-based index of the iteration.
    allocation : Allocation or None
        The allocator's answer over the present workers (in increasing index order); None when
        no worker was present.
    present : ndarray of bool
        Workers available in this iteration.
    loads : ndarray of int64
        Parameters of each worker's block (0 for absent workers).
    bandwidth : ndarray of float64
        Hz of each worker (0 for absent workers).
    download, compute, upload : ndarray of float64
        Realised seconds of each phase of each worker on the true channel and with the jittered
        compute time (0 without load).
    latency : float
        Realised iteration latency in seconds (the slowest loaded worker); NaN without workers.
    planned_latency : float
        The latency the allocator expected from its channel knowledge and the compute profile.
    gain, known_gain : ndarray of float64
        The true linear channel gains of the iteration, and those the allocator used.
    unit_counts : ndarray of int64, shape (N, S), or None
        With ``granules``: the units of each size (``scheduler.granules.sizes``) in the block of
        each of the scheduler's N groups (0 for absent groups); None otherwise.
    """

    iteration: int
    allocation: Allocation | None
    present: np.ndarray
    loads: np.ndarray
    bandwidth: np.ndarray
    download: np.ndarray
    compute: np.ndarray
    upload: np.ndarray
    latency: float
    planned_latency: float
    gain: np.ndarray
    known_gain: np.ndarray
    unit_counts: np.ndarray | None = None


class History:
    """Per-iteration records of a scheduler run, in NumPy arrays.

    Attributes
    ----------
    scheme : str
    record : {"full", "summary"}
    completed : int
        Iterations recorded so far.
    latency, planned_latency, relaxed_latency : ndarray of float64, shape (iterations,)
        Realised, expected and relaxed (pre-rounding) iteration latency in seconds; NaN for an
        iteration without workers (and for iterations not run yet).
    active, present_count : ndarray of int64, shape (iterations,)
        Workers given load, and workers available.
    present : ndarray of bool, shape (iterations, K)            (``record="full"`` only)
    loads : ndarray of int64, shape (iterations, K)             (``record="full"`` only)
    bandwidth, download, compute, upload : ndarray of float64, shape (iterations, K)
        Hz and realised seconds per phase of every worker       (``record="full"`` only)

    Notes
    -----
    Memory: ``"full"`` needs about 41 bytes per worker and iteration (400 MB for 10,000
    iterations of 1,000 workers); ``"summary"`` about 40 bytes per iteration.
    """

    _FULL = (("present", bool), ("loads", np.int64), ("bandwidth", np.float64),
             ("download", np.float64), ("compute", np.float64), ("upload", np.float64))

    def __init__(self, scheme: str, iterations: int, n_workers: int, record: str):
        self.scheme = scheme
        self.record = record
        self.completed = 0
        self.latency = np.full(iterations, np.nan)
        self.planned_latency = np.full(iterations, np.nan)
        self.relaxed_latency = np.full(iterations, np.nan)
        self.active = np.zeros(iterations, dtype=np.int64)
        self.present_count = np.zeros(iterations, dtype=np.int64)
        for name, dtype in self._FULL:
            setattr(self, name, np.zeros((iterations, n_workers), dtype=dtype)
                    if record == "full" else None)

    def _store(self, rows: slice, *, latency, planned, relaxed, present, loads, bandwidth,
               download, compute, upload) -> None:
        self.latency[rows] = latency
        self.planned_latency[rows] = planned
        self.relaxed_latency[rows] = relaxed
        self.active[rows] = np.count_nonzero(loads, axis=-1)
        self.present_count[rows] = np.count_nonzero(present, axis=-1)
        if self.record == "full":
            for name, value in (("present", present), ("loads", loads),
                                ("bandwidth", bandwidth), ("download", download),
                                ("compute", compute), ("upload", upload)):
                getattr(self, name)[rows] = value
        self.completed = rows.stop

    def summary(self) -> dict:
        """Statistics of the realised iteration latency over the iterations run, in seconds:
        mean, median, p95 (95th percentile), max, the mean planned latency, the mean number of
        active and present workers, and the number of iterations without workers (skipped)."""
        latency = self.latency[:self.completed]
        ran = latency[~np.isnan(latency)]
        out = {"iterations": int(self.completed), "skipped": int(latency.size - ran.size)}
        if ran.size == 0:
            nan = float("nan")
            return out | dict(mean=nan, median=nan, p95=nan, max=nan, planned_mean=nan,
                              mean_active=nan, mean_present=nan)
        planned = self.planned_latency[:self.completed]
        return out | dict(
            mean=float(ran.mean()), median=float(np.median(ran)),
            p95=float(np.percentile(ran, 95)), max=float(ran.max()),
            planned_mean=float(np.nanmean(planned)),
            mean_active=float(self.active[:self.completed].mean()),
            mean_present=float(self.present_count[:self.completed].mean()))

    def __repr__(self) -> str:
        return (f"History(scheme={self.scheme!r}, completed={self.completed}, "
                f"record={self.record!r})")


def history_fields(record: str) -> list[tuple[str, Any]]:
    """(name, dtype) of the History arrays a record mode keeps; (iterations,) or (iterations, K)."""
    fields: list[tuple[str, Any]] = [("latency", np.float64), ("planned_latency", np.float64),
              ("relaxed_latency", np.float64), ("active", np.int64),
              ("present_count", np.int64)]
    if record == "full":
        fields += list(History._FULL)
    return fields
