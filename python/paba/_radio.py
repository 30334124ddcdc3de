"""A static single-cell radio and compute draw with this project's defaults
(docs/algorithms.md section 5).

These are the project's defaults, not the paper's constants (which the paper does not list in
full): they make realistic instances for the demonstration and the test corpus. The full
scenario machinery (``paba.Scenario``: fading, shadowing; ``paba.Scheduler``: churn, the online
scheduler) builds on the same numbers.
"""

from __future__ import annotations

import numpy as np

from ._system import System
from ._validation import positive_float, positive_integer

#: Defaults of docs/algorithms.md section 5.
CELL_RADIUS_M = 500.0
MIN_DISTANCE_M = 50.0
NOISE_DBM_PER_HZ = -174.0
UPLINK_POWER_DBM = 23.0
DOWNLINK_POWER_DBM = 30.0
CPU_HZ_RANGE = (0.1e9, 1.0e9)
CYCLES_PER_PARAMETER = 20.0
BITS_PER_PARAMETER = 32.0
SAMPLES_PER_WORKER = 100.0


def path_loss_db(distance_m: np.ndarray) -> np.ndarray:
    """Path loss 128.1 + 37.6 log10(d / 1 km) in dB for distances in metres."""
    return 128.1 + 37.6 * np.log10(np.asarray(distance_m) / 1000.0)


def spectral_efficiency(power_dbm: float, gain: np.ndarray, bandwidth: float) -> np.ndarray:
    """log2(1 + SNR) in bit/s/Hz for a transmit power (dBm) spread evenly over ``bandwidth`` Hz,
    a linear channel gain, and the default noise PSD."""
    psd_w_per_hz = 10.0 ** ((power_dbm - 30.0) / 10.0) / bandwidth
    noise_w_per_hz = 10.0 ** ((NOISE_DBM_PER_HZ - 30.0) / 10.0)
    return np.log2(1.0 + psd_w_per_hz * np.asarray(gain) / noise_w_per_hz)


def static_cell(n_workers: int = 20, *, params: int = 10**6, bandwidth: float = 10e6,
                seed: int = 0) -> System:
    """A System for one draw of a static cell (path loss only, no fading).

    Workers uniform in the disc of radius 500 m at 50 m or more from the server; 23 dBm uplink
    and 30 dBm downlink over the whole band; noise -174 dBm/Hz; CPUs uniform in [0.1, 1] GHz;
    100 samples per worker, 20 cycles per parameter per sample, 32 bits per parameter.

    Parameters
    ----------
    n_workers : int
        K, the number of workers (one group each).
    params : int
        Model size in parameters.
    bandwidth : float
        Total bandwidth in Hz.
    seed : int
        Seed of the NumPy generator that draws positions and CPU frequencies.

    Notes
    -----
    The same as ``paba.Scenario(n_workers, params=params, bandwidth=bandwidth, seed=seed,
    fading="none").system()``: the scenario's mean channel.
    """
    n_workers = positive_integer("n_workers", n_workers, maximum=10**9)
    bandwidth = positive_float("bandwidth", bandwidth)
    from ._scenario import Scenario  # the scenario module builds on the constants above

    return Scenario(n_workers=n_workers, params=params, bandwidth=bandwidth, seed=seed,
                    fading="none").system()
