"""The radio model: the default cell's constants (docs/algorithms.md section 5) and the radio
formulas.

These are the project's defaults, not the paper's constants (which the paper does not list in
full): they make realistic instances for the demonstration and the test corpus. The full
scenario machinery (``paba.Scenario``: fading, shadowing; ``paba.Scheduler``: churn, the online
scheduler) builds on the same numbers, and on the radio formulas below, written once here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

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


def spectral_efficiency(power_dbm: float, gain, bandwidth: float,
                        noise_dbm_per_hz: float = NOISE_DBM_PER_HZ) -> np.ndarray:
    """Spectral efficiency log2(1 + SNR) in bit/s/Hz.

    SNR = (P / B) g / N0: the transmit power P (dBm) spread evenly over the whole band of B Hz,
    so that a worker's rate B_k log2(1 + SNR) is linear in its bandwidth B_k; g is the linear
    channel gain (path loss, shadowing and fading) and N0 the noise PSD (dBm/Hz).

    Where 1 + SNR rounds to 1 (an SNR below about 1e-16, a fade far deeper than any the default
    scenario draws), the first-order value SNR / ln 2 keeps the efficiency positive.
    """
    gain = np.asarray(gain, dtype=np.float64)
    psd_w_per_hz = 10.0 ** ((power_dbm - 30.0) / 10.0) / bandwidth
    noise_w_per_hz = 10.0 ** ((noise_dbm_per_hz - 30.0) / 10.0)
    snr = psd_w_per_hz * gain / noise_w_per_hz
    result = np.log2(1.0 + snr)
    if np.any(result == 0):
        result = np.where(result == 0, snr / math.log(2.0), result)
    return result


def seconds_hz_per_bit(efficiency_down: Any, efficiency_up: Any) -> Any:
    """Download and upload time of one bit over one hertz, 1/e_down + 1/e_up (seconds x Hz):
    a worker's communication cost per parameter is beta = q (1/e_down + 1/e_up) and its fixed
    communication alpha = s (1/e_down + 1/e_up) for q bits per parameter and s side bits
    (docs/algorithms.md 2)."""
    return 1.0 / efficiency_down + 1.0 / efficiency_up


def transfer_cost(bits: Any, efficiency_down: Any, efficiency_up: Any) -> Any:
    """The seconds x Hz that ``bits`` take down and up, bits (1/e_down + 1/e_up), spectral
    efficiencies in bit/s/Hz: beta for q bits per parameter, alpha for s side bits. The one
    place every radio profile (System.from_radio, Scenario, Scheduler) turns into them."""
    return bits * seconds_hz_per_bit(efficiency_down, efficiency_up)
