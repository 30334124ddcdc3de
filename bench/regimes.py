"""The regime grid's instances: families of workers, levels of fixed costs, groupings and K.

A speed claim holds on the worst cell of this grid (bench/grid.py), not on one benchmark cell:
how many workers carry load, how large the fixed costs are and how the workers are grouped
change what a solver does. Every instance is a function of (family, K, costs, grouping, seed),
so a cell can be rebuilt and re-timed alone.

Families (one worker per group, no fixed costs: the basic model):

- ``cell 0.05 MHz``, ``cell 0.5 MHz``, ``cell 5 MHz``: the default static cell
  (:func:`paba.static_cell`) with the pool scaled with K at that share per worker (0.5 MHz:
  K = 20 at 10 MHz, the paper's setting). A larger share puts more workers to work.
- ``faded cell 0.5 MHz #1``, ``#2``: Rayleigh-faded draws of the 0.5 MHz cell (the iterations
  the online scheduler solves).
- ``log-uniform 10 kHz``, ``log-uniform 1 MHz``: beta log-uniform in [1, 100] s Hz, compute in
  [1e-6, 1e-4] s, the model 1,000 K parameters and the pool 10 kHz or 1 MHz per worker: about
  16% and 75% of the workers carry load at every K.

Fixed costs (the general model): ``none``; ``light``, the rule of bench/peers.py (a few kbit of
side information each way, alpha = s beta / 32, and tau uniform in [0, 10 ms]); ``heavy``, tau
uniform up to 30% of the basic optimum T* of the same workers and alpha uniform up to 5% of
T* B / K (the fixed part of a worker's upload then takes up to 5% of T* on an equal share).

Groupings: ``singletons``; ``groups of 1-10`` (consecutive workers, 1 + Binomial(9, 2/9)
members, as bench/peers.py); ``one group`` (every worker trains the whole model: a plain
federated round).
"""

from __future__ import annotations

import math

import numpy as np

import paba
from peers import GROUP_SIZE_P, GROUP_SIZE_TRIALS, SIDE_BITS, TAU_S

#: Model size of the cell families (parameters); the active set does not depend on it.
CELL_PARAMS = 10**6
#: Per-worker pool of each cell family (Hz).
CELL_SHARES = {"cell 0.05 MHz": 0.05e6, "cell 0.5 MHz": 0.5e6, "cell 5 MHz": 5e6}
FADED = {"faded cell 0.5 MHz #1": 0, "faded cell 0.5 MHz #2": 1}
FADED_SHARE = 0.5e6
#: The log-uniform families: per-worker pool (Hz); the model is LOG_PARAMS_PER_WORKER K.
LOG_UNIFORM = {"log-uniform 10 kHz": 1e4, "log-uniform 1 MHz": 1e6}
LOG_PARAMS_PER_WORKER = 1000
LOG_BETA = (1.0, 100.0)
LOG_COMPUTE = (1e-6, 1e-4)

FAMILIES = (*CELL_SHARES, *FADED, *LOG_UNIFORM)
COSTS = ("none", "light", "heavy")
GROUPINGS = ("singletons", "groups of 1-10", "one group")
#: Heavy costs: tau up to this share of T*, alpha up to this share of T* B / K.
HEAVY_TAU, HEAVY_ALPHA = 0.3, 0.05


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float], size: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]), size))


def basic(family: str, K: int, seed: int = 0) -> paba.System:
    """The basic instance (one worker per group, alpha = tau = 0) of ``family`` at K workers."""
    if family in CELL_SHARES:
        return paba.static_cell(K, params=CELL_PARAMS, bandwidth=CELL_SHARES[family] * K,
                                seed=seed)
    if family in FADED:
        scenario = paba.Scenario(n_workers=K, params=CELL_PARAMS, bandwidth=FADED_SHARE * K,
                                 seed=seed, fading="rayleigh")
        gains = scenario.draw_gains(FADED[family] + 1)[FADED[family]]
        return scenario.system(gains)
    if family in LOG_UNIFORM:
        rng = np.random.default_rng([seed, K, 7])
        return paba.System(_log_uniform(rng, LOG_BETA, K), _log_uniform(rng, LOG_COMPUTE, K),
                           params=LOG_PARAMS_PER_WORKER * K, bandwidth=LOG_UNIFORM[family] * K)
    raise ValueError(f"family: one of {FAMILIES}, got {family!r}")


def arrays(family: str, K: int, seed: int = 0):
    """(beta, compute, params, bandwidth) of :func:`basic`, beta and compute as fresh writeable
    float64 arrays: the inputs of an end-to-end call that builds its own System."""
    system = basic(family, K, seed)
    return system.beta.copy(), system.compute.copy(), system.params, system.bandwidth


def group_ids(grouping: str, K: int, rng: np.random.Generator) -> np.ndarray | None:
    """Group ids of ``grouping`` (None for singletons)."""
    if grouping == "singletons":
        return None
    if grouping == "groups of 1-10":
        sizes = 1 + rng.binomial(GROUP_SIZE_TRIALS, GROUP_SIZE_P, K)
        return np.repeat(np.arange(K), sizes)[:K]
    if grouping == "one group":
        return np.zeros(K, dtype=np.int64)
    raise ValueError(f"grouping: one of {GROUPINGS}, got {grouping!r}")


def fixed_costs(costs: str, system: paba.System, rng: np.random.Generator):
    """(alpha, tau) of the level ``costs`` for the workers of ``system`` (None, None for none)."""
    K = system.n_workers
    if costs == "none":
        return None, None
    if costs == "light":
        side_bits = _log_uniform(rng, SIDE_BITS, K)
        return side_bits * system.beta / paba.Scenario.bits_per_parameter, rng.uniform(*TAU_S, K)
    if costs == "heavy":
        T = paba.allocate(system, "joint").relaxed_latency
        alpha = rng.uniform(0.0, HEAVY_ALPHA * T * system.bandwidth / K, K)
        return alpha, rng.uniform(0.0, HEAVY_TAU * T, K)
    raise ValueError(f"costs: one of {COSTS}, got {costs!r}")


def general(family: str, K: int, costs: str, grouping: str, seed: int = 0) -> paba.System:
    """The instance of ``family`` at K workers with fixed costs ``costs`` and ``grouping``."""
    system = basic(family, K, seed)
    rng = np.random.default_rng([seed, K, COSTS.index(costs), GROUPINGS.index(grouping)])
    alpha, tau = fixed_costs(costs, system, rng)
    return system.replace(groups=group_ids(grouping, K, rng), alpha=alpha, tau=tau)


def batch(K: int, M: int, grouping: str, costs: str = "light", seed: int = 0):
    """Keyword arguments of ``paba.allocate_batch`` for M Rayleigh-faded iterations of the
    0.5 MHz cell of K workers, with fixed costs ``costs`` and ``grouping`` (the same groups and
    costs in every instance): beta, compute, alpha, tau and groups of shape (M, K)."""
    scenario = paba.Scenario(n_workers=K, params=CELL_PARAMS, bandwidth=FADED_SHARE * K,
                             seed=seed, fading="rayleigh")
    beta = scenario.beta(scenario.draw_gains(M))
    shape = beta.shape
    compute = np.ascontiguousarray(np.broadcast_to(scenario.compute_per_parameter, shape))
    rng = np.random.default_rng([seed, K, M])
    alpha, tau = fixed_costs(costs, scenario.system(), rng)
    out = {"beta": beta, "compute": compute, "params": scenario.params,
           "bandwidth": scenario.bandwidth}
    if alpha is not None:
        out["alpha"] = np.ascontiguousarray(np.broadcast_to(alpha, shape))
        out["tau"] = np.ascontiguousarray(np.broadcast_to(tau, shape))
    ids = group_ids(grouping, K, rng)
    if ids is not None:
        out["groups"] = np.ascontiguousarray(np.broadcast_to(ids, shape))
    return out
