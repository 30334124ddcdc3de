"""Hypothesis strategies for paba instances."""

import numpy as np
from hypothesis import strategies as st

import paba


def _positive(low_exp, high_exp):
    return st.floats(min_value=low_exp, max_value=high_exp).map(lambda e: 10.0**e)


@st.composite
def systems(draw, *, max_workers=12, groups=True, fixed_costs=True, max_params=10**9,
            beta_exp=(-6.0, 6.0), compute_exp=(-6.0, 6.0)):
    """Random instances: log-uniform beta and compute over wide ranges, optional groups and
    fixed costs, any model size from one parameter up."""
    K = draw(st.integers(1, max_workers))
    beta = np.array(draw(st.lists(_positive(*beta_exp), min_size=K, max_size=K)))
    compute = np.array(draw(st.lists(_positive(*compute_exp), min_size=K, max_size=K)))
    params = draw(st.one_of(st.integers(1, 50), st.integers(1, max_params)))
    bandwidth = draw(_positive(4.0, 8.0))
    group_ids = None
    if groups and draw(st.booleans()):
        N = draw(st.integers(1, K))
        extra = draw(st.lists(st.integers(0, N - 1), min_size=K - N, max_size=K - N))
        group_ids = np.array(draw(st.permutations(list(range(N)) + extra)))
    alpha = tau = None
    if fixed_costs and draw(st.booleans()):
        alpha = np.array(draw(st.lists(
            st.one_of(st.just(0.0), _positive(0.0, 6.0)), min_size=K, max_size=K)))
        tau = np.array(draw(st.lists(
            st.one_of(st.just(0.0), st.floats(0.0, 10.0)), min_size=K, max_size=K)))
    return paba.System(beta, compute, params, bandwidth, groups=group_ids, alpha=alpha, tau=tau)
