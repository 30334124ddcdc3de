"""The random inputs of a scheduler run: channels, channel estimates, churn and compute jitter
drawn from the scenario's named streams in one fixed order (so both run paths and every scheme
see the same draws), and the checked restoring of a stream's state from a checkpoint."""

from __future__ import annotations

import numbers
from collections import deque

import numpy as np

from ._validation import describe, exactly


class Draws:
    """The random inputs of successive iterations, shared by both paths: a callable object (not
    a closure) so that a run in progress can be pickled."""

    def __init__(self, scheduler):
        scenario = scheduler.scenario
        self.scheduler = scheduler
        self.streams = scenario.generators()
        self.channel = scenario.channel(self.streams["channel"])
        self.past: deque[np.ndarray] = deque(maxlen=scheduler.delay)  # true gains, last `delay`
        self.start = 0

    def __call__(self, n: int):
        scheduler, streams = self.scheduler, self.streams
        scenario = scheduler.scenario
        K = scenario.n_workers
        start = self.start
        self.start = start + n
        gain = self.channel.draw(n)
        if scheduler.csi == "perfect":
            known = gain
        elif scheduler.csi == "noisy":
            error = streams["estimation"].standard_normal((n, K))
            known = gain * 10.0 ** (scheduler.csi_error_db * error / 10.0)
        else:
            known = np.empty_like(gain)
            for t in range(n):
                known[t] = (self.past[0] if len(self.past) == scheduler.delay
                            else scenario.path_gain)
                self.past.append(gain[t])
        if scheduler.trace is not None:
            present = np.array(scheduler.trace[start:start + n])
        elif scheduler.availability < 1.0:
            present = streams["churn"].random((n, K)) < scheduler.availability
        else:
            present = np.ones((n, K), dtype=bool)
        if scheduler.jitter == 0:
            factor = np.ones((n, K))
        elif scheduler.jitter_distribution == "lognormal":
            z = streams["jitter"].standard_normal((n, K))
            factor = np.exp(scheduler.jitter * z - 0.5 * scheduler.jitter**2)
        else:
            factor = 1.0 + scheduler.jitter * (2.0 * streams["jitter"].random((n, K)) - 1.0)
        return gain, known, present, factor


#: Keys of a PCG64 ``bit_generator.state`` (the generator of every stream).
_PCG64_KEYS = {"bit_generator", "state", "has_uint32", "uinteger"}


def generator_state(rng: np.random.Generator) -> dict:
    """A generator's ``bit_generator.state`` as a fresh dict of plain values."""
    state = rng.bit_generator.state
    return {"bit_generator": str(state["bit_generator"]),
            "state": {"state": int(state["state"]["state"]), "inc": int(state["state"]["inc"])},
            "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}


def plain_int(where: str, value, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"state: {where} must be an integer, got {describe(value)}")
    value = int(value)
    if not low <= value <= high:
        raise ValueError(f"state: {where} must be in [{low}, {high}], got {describe(value)}")
    return value


def generator_from_state(where: str, value) -> np.random.Generator:
    """A NumPy Generator (PCG64, the one every stream uses) restored from a
    ``bit_generator.state`` dict of plain values, checked; a ValueError starting with ``state:``
    otherwise."""
    if not isinstance(value, dict) or set(value) != _PCG64_KEYS \
            or not exactly(value["bit_generator"], "PCG64"):
        raise ValueError(f"state: {where} must be the state of a PCG64 generator")
    inner = value["state"]
    if not isinstance(inner, dict) or set(inner) != {"state", "inc"}:
        raise ValueError(f"state: {where} must be the state of a PCG64 generator")
    plain = {"bit_generator": "PCG64",
             "state": {"state": plain_int(f"{where}.state.state", inner["state"], 0,
                                           2**128 - 1),
                       "inc": plain_int(f"{where}.state.inc", inner["inc"], 0, 2**128 - 1)},
             "has_uint32": plain_int(f"{where}.has_uint32", value["has_uint32"], 0, 1),
             "uinteger": plain_int(f"{where}.uinteger", value["uinteger"], 0, 2**32 - 1)}
    rng = np.random.Generator(np.random.PCG64(0))
    try:
        rng.bit_generator.state = plain
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"state: {where} is not a valid PCG64 state ({error})") from None
    return rng
