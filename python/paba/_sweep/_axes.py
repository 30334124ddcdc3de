"""The axes a sweep can vary: Scenario fields and Scheduler options, with the type of their
values, and the values each string axis takes."""

from __future__ import annotations

from .._allocation import METHODS
from .._scenario import FADING
from .._scheduler import CSI_MODES, JITTER_DISTRIBUTIONS

#: Settings a cell can vary, with the type of their values: Scenario fields, then Scheduler
#: options. Units are those of Scenario and Scheduler (``bandwidth`` in Hz).
SCENARIO_AXES = {
    "n_workers": int, "params": int, "bandwidth": float, "cell_radius": float,
    "min_distance": float, "shadowing_std_db": float, "fading": str, "k_factor": float,
    "fading_correlation": float, "noise_dbm_per_hz": float, "downlink_power_dbm": float,
    "uplink_power_dbm": float, "samples": float, "cycles_per_parameter": float,
    "bits_per_parameter": float,
}
SCHEDULER_AXES = {
    "iterations": int, "csi": str, "delay": int, "csi_error_db": float, "availability": float,
    "jitter": float, "jitter_distribution": str, "method": str, "tol": float,
}
AXES = {**SCENARIO_AXES, **SCHEDULER_AXES}

#: The string values each string axis takes.
CHOICES = {"fading": FADING, "csi": CSI_MODES, "jitter_distribution": JITTER_DISTRIBUTIONS,
           "method": METHODS}

