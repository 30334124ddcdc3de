"""paba.Scenario: the default cell, path loss, fading statistics, the SNR-to-efficiency
conversion, the layout, reproducibility and validation (docs/scenarios.md)."""

import dataclasses
import math

import numpy as np
import pytest

import paba
from paba._radio import spectral_efficiency as efficiency
from paba._scenario import STREAMS


def test_default_is_spec_section_5():
    s = paba.Scenario.default()
    assert (s.n_workers, s.params, s.bandwidth) == (20, 10**6, 10e6)
    assert (s.cell_radius, s.min_distance) == (500.0, 50.0)
    assert s.fading == "rayleigh" and s.shadowing_std_db == 0.0
    assert s.noise_dbm_per_hz == -174.0
    assert (s.uplink_power_dbm, s.downlink_power_dbm) == (23.0, 30.0)
    assert s.cpu_frequency_range == (0.1e9, 1.0e9)
    assert (s.cycles_per_parameter, s.bits_per_parameter, s.samples) == (20.0, 32.0, 100.0)
    assert paba.Scenario.default(n_workers=7).n_workers == 7


def test_path_loss_closed_form():
    # 128.1 + 37.6 log10(d / 1 km): 128.1 dB at 1 km, 37.6 dB less per decade closer.
    distances = np.array([50.0, 100.0, 316.2277660168379, 500.0])
    s = paba.Scenario(n_workers=4, distances=distances, fading="none")
    expected_db = np.array([128.1 + 37.6 * math.log10(0.05), 128.1 - 37.6, 128.1 - 18.8,
                            128.1 + 37.6 * math.log10(0.5)])
    np.testing.assert_allclose(-10 * np.log10(s.path_gain), expected_db, rtol=1e-12)
    np.testing.assert_allclose(s.distance, distances)


def test_snr_to_spectral_efficiency_closed_form():
    # 30 dBm = 1 W over 10 MHz is 1e-7 W/Hz; -174 dBm/Hz is 10^-20.4 W/Hz; a gain of 1e-12 gives
    # SNR = 1e-19 / 10^-20.4 = 10^1.4.
    e = efficiency(30.0, np.array([1e-12]), 10e6, -174.0)
    assert e[0] == pytest.approx(math.log2(1 + 10**1.4), rel=1e-12)
    # Another noise PSD takes the general branch: -164 dBm/Hz is 10 dB more noise.
    e = efficiency(30.0, np.array([1e-12]), 10e6, -164.0)
    assert e[0] == pytest.approx(math.log2(1 + 10**0.4), rel=1e-12)
    # Scenario.efficiencies: uplink 23 dBm, downlink 30 dBm over the scenario's band.
    s = paba.Scenario(n_workers=1, distances=[100.0], fading="none", bandwidth=5e6)
    down, up = s.efficiencies([1e-10])
    noise = 10 ** ((-174 - 30) / 10)
    assert down[0] == pytest.approx(math.log2(1 + 1.0 / 5e6 * 1e-10 / noise), rel=1e-12)
    assert up[0] == pytest.approx(math.log2(1 + 10 ** (-0.7) / 5e6 * 1e-10 / noise), rel=1e-12)
    # A fade so deep that 1 + SNR rounds to 1 keeps a positive first-order efficiency.
    tiny = efficiency(23.0, np.array([1e-40]), 10e6)
    assert 0 < tiny[0] < 1e-15


def test_beta_and_compute_match_system_from_radio():
    s = paba.Scenario.default(samples=np.arange(1.0, 21.0))
    gain = s.draw_gains()
    system = s.system(gain)
    down, up = s.efficiencies(gain)
    np.testing.assert_allclose(system.beta, 32.0 * (1 / down + 1 / up), rtol=1e-15)
    np.testing.assert_allclose(s.beta(gain), system.beta, rtol=1e-15)
    np.testing.assert_allclose(system.compute, 20.0 * np.arange(1.0, 21.0) / s.cpu_frequency,
                               rtol=1e-15)
    np.testing.assert_allclose(s.compute_per_parameter, system.compute, rtol=1e-15)
    assert (system.params, system.bandwidth) == (s.params, s.bandwidth)
    # A subset of workers, by mask or by indices, in increasing index order.
    mask = np.zeros(20, dtype=bool)
    mask[[3, 1, 7]] = True
    for workers in (mask, [7, 3, 1]):
        part = s.system(gain, workers=workers)
        np.testing.assert_array_equal(part.beta, system.beta[[1, 3, 7]])
        np.testing.assert_array_equal(part.compute, system.compute[[1, 3, 7]])


def test_static_cell_is_the_scenarios_mean_channel():
    # The formulas static_cell has always used, written out independently.
    for n, seed, bandwidth in ((20, 0, 10e6), (7, 3, 2e6), (1000, 20, 10e6)):
        rng = np.random.default_rng(seed)
        distance = np.sqrt(rng.uniform(50.0**2, 500.0**2, n))
        gain = 10.0 ** (-(128.1 + 37.6 * np.log10(distance / 1000.0)) / 10.0)
        frequency = rng.uniform(0.1e9, 1e9, n)
        noise = 10.0 ** ((-174.0 - 30.0) / 10.0)
        down = np.log2(1.0 + 10.0 ** ((30.0 - 30.0) / 10.0) / bandwidth * gain / noise)
        up = np.log2(1.0 + 10.0 ** ((23.0 - 30.0) / 10.0) / bandwidth * gain / noise)
        expected = paba.System.from_radio(down, up, frequency, np.full(n, 100.0), 10**6,
                                          bandwidth)
        assert paba.static_cell(n, bandwidth=bandwidth, seed=seed) == expected
        assert paba.Scenario(n_workers=n, bandwidth=bandwidth, seed=seed).system() == expected


def test_positions_respect_radius_and_min_distance():
    s = paba.Scenario(n_workers=20000, cell_radius=300.0, min_distance=20.0, seed=5)
    assert s.distance.min() >= 20.0 and s.distance.max() <= 300.0
    # Uniform in the annulus: P(d <= r) = (r^2 - m^2) / (R^2 - m^2).
    r = 150.0
    expected = (r**2 - 20.0**2) / (300.0**2 - 20.0**2)
    assert np.mean(s.distance <= r) == pytest.approx(expected, abs=4 * math.sqrt(0.25 / 20000))
    assert np.all((s.cpu_frequency >= 0.1e9) & (s.cpu_frequency <= 1e9))


def test_rayleigh_fading_statistics():
    s = paba.Scenario(n_workers=100, fading="rayleigh", seed=1)
    power = s.channel().fading_power(2000)          # 200,000 draws of |h|^2 ~ Exp(1)
    n = power.size
    assert power.mean() == pytest.approx(1.0, abs=5 / math.sqrt(n))
    assert power.var() == pytest.approx(1.0, abs=0.05)
    assert np.mean(power > 1.0) == pytest.approx(math.exp(-1), abs=5 * 0.5 / math.sqrt(n))
    np.testing.assert_allclose(s.draw_gains(3), s.path_gain * s.channel().fading_power(3))


@pytest.mark.parametrize("k_factor", [0.5, 3.0, 10.0])
def test_rician_mean_power_and_k_factor(k_factor):
    s = paba.Scenario(n_workers=100, fading="rician", k_factor=k_factor, seed=2)
    power = s.channel().fading_power(2000)
    assert power.mean() == pytest.approx(1.0, abs=0.01)
    # Moment estimate of K: with gamma = Var[|h|^2] / E[|h|^2]^2 = (2K + 1) / (K + 1)^2,
    # K = sqrt(1 - gamma) / (1 - sqrt(1 - gamma)).
    gamma = power.var() / power.mean() ** 2
    root = math.sqrt(1 - gamma)
    assert root / (1 - root) == pytest.approx(k_factor, rel=0.06)


def test_no_fading_and_correlated_fading():
    static = paba.Scenario(n_workers=5, fading="none")
    np.testing.assert_array_equal(static.draw_gains(4), np.tile(static.path_gain, (4, 1)))
    # Gauss-Markov scattering with correlation rho: the power's lag-1 correlation is rho^2.
    rho = 0.8
    s = paba.Scenario(n_workers=50, fading="rayleigh", fading_correlation=rho, seed=3)
    power = s.channel().fading_power(4000)
    lag = np.mean([np.corrcoef(power[:-1, k], power[1:, k])[0, 1] for k in range(50)])
    assert lag == pytest.approx(rho**2, abs=0.03)
    assert power.mean() == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("fading,correlation", [("rayleigh", 0.0), ("rician", 0.0),
                                                 ("rayleigh", 0.7), ("none", 0.0)])
def test_draws_reproducible_at_once_or_one_by_one(fading, correlation):
    s = paba.Scenario(n_workers=6, fading=fading, fading_correlation=correlation, seed=9)
    at_once = s.draw_gains(10)
    channel = s.channel()
    one_by_one = np.array([channel.draw() for _ in range(4)] + list(channel.draw(6)))
    np.testing.assert_array_equal(at_once, one_by_one)
    np.testing.assert_array_equal(at_once, paba.Scenario(
        n_workers=6, fading=fading, fading_correlation=correlation, seed=9).draw_gains(10))
    if fading != "none":
        assert not np.array_equal(at_once, s.replace(seed=10).draw_gains(10))


def test_streams_are_independent_and_layout_is_stable():
    s = paba.Scenario.default(seed=4)
    streams = s.generators()
    assert tuple(streams) == STREAMS
    firsts = [g.random() for g in streams.values()]
    assert len(set(firsts)) == len(firsts)
    # Shadowing or given frequencies do not move the other draws of the layout.
    shadowed = s.replace(shadowing_std_db=8.0)
    np.testing.assert_array_equal(shadowed.distance, s.distance)
    np.testing.assert_array_equal(shadowed.cpu_frequency, s.cpu_frequency)
    given = s.replace(cpu_frequencies=np.full(20, 5e8))
    np.testing.assert_array_equal(given.distance, s.distance)
    np.testing.assert_array_equal(given.cpu_frequency, np.full(20, 5e8))


def test_shadowing_statistics():
    s = paba.Scenario(n_workers=20000, shadowing_std_db=8.0, fading="none", seed=6)
    assert s.shadowing_db.std() == pytest.approx(8.0, rel=0.03)
    assert abs(s.shadowing_db.mean()) < 0.2
    loss_db = -10 * np.log10(s.path_gain)
    np.testing.assert_allclose(loss_db, paba._radio.path_loss_db(s.distance) + s.shadowing_db,
                               rtol=1e-12)
    assert np.all(paba.Scenario(n_workers=10).shadowing_db == 0)


def test_immutable():
    s = paba.Scenario(n_workers=3, distances=[60.0, 70.0, 80.0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.n_workers = 4
    for array in (s.distances, s.distance, s.path_gain, s.cpu_frequency,
                  s.compute_per_parameter):
        with pytest.raises(ValueError):
            array[0] = 1.0
    assert s.to_dict()["distances"] == [60.0, 70.0, 80.0]


@pytest.mark.parametrize("field,value", [
    ("n_workers", 0), ("n_workers", 2.5), ("params", 0), ("bandwidth", -1.0),
    ("bandwidth", float("nan")), ("cell_radius", 0.0), ("min_distance", 600.0),
    ("min_distance", -1.0), ("distances", [10.0] * 20), ("distances", [100.0] * 3),
    ("shadowing_std_db", -1.0), ("fading", "nakagami"), ("k_factor", -0.1),
    ("fading_correlation", 1.0), ("noise_dbm_per_hz", float("inf")),
    ("downlink_power_dbm", "30"), ("uplink_power_dbm", True),
    ("cpu_frequency_range", (2e9, 1e9)), ("cpu_frequency_range", 1e9),
    ("cpu_frequencies", np.zeros(20)), ("samples", 0.0), ("samples", np.ones(3)),
    ("cycles_per_parameter", 0.0), ("bits_per_parameter", -32.0), ("seed", -1),
    ("seed", 1.5),
])
def test_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"^{field}:"):
        paba.Scenario(**{field: value})


def test_method_arguments_are_validated():
    s = paba.Scenario(n_workers=3)
    with pytest.raises(ValueError, match="^gain:"):
        s.system([1e-10, -1.0, 1e-10])
    with pytest.raises(ValueError, match="^workers:"):
        s.system(workers=np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match="^workers:"):
        s.system(workers=[0, 5])
    with pytest.raises(ValueError, match="^iterations:"):
        s.draw_gains(0)
    with pytest.raises(ValueError, match="^replace:"):
        s.replace(radius=3.0)


def _short_id(value):
    """Test ids for numbers too long to print."""
    if isinstance(value, int) and abs(value) > 10**20:
        return f"{'-' if value < 0 else ''}1e{len(str(abs(value))) - 1}-integer"
    return None


@pytest.mark.parametrize("field,value", [
    ("bandwidth", 10**400), ("cell_radius", 10**400), ("samples", 10**400),
    ("cycles_per_parameter", -(10**400)), ("shadowing_std_db", 10**400),
    ("k_factor", 10**400), ("cpu_frequency_range", (1e8, 10**400)),
    pytest.param("n_workers", 10**5000, id="n_workers-5000-digits"),
    pytest.param("params", 10**5000, id="params-5000-digits"),
    pytest.param("seed", -(10**5000), id="seed-5000-digits"),
    ("fading", np.array(["rayleigh", "none"])), ("samples", [[1.0], [1.0, 2.0]]),
], ids=_short_id)
def test_numbers_beyond_float64_and_odd_objects_name_the_field(field, value):
    # Issue 11: Scenario(bandwidth=10**400) raised OverflowError; a 5000-digit integer could not
    # even be formatted into the message.
    with pytest.raises(ValueError, match=f"^{field}:"):
        paba.Scenario(**{field: value})


@pytest.mark.parametrize("field,value", [
    ("samples", 1e308), ("bandwidth", 5e-324), ("shadowing_std_db", 1e308),
    ("cell_radius", 1e300), ("cycles_per_parameter", 1e300), ("bits_per_parameter", 1e300),
    ("cpu_frequency_range", (1e-300, 1e-300)),
])
def test_impossible_combinations_are_refused_at_construction(field, value):
    # Issue 11: each field was valid alone, so the scenario was accepted and its runs failed
    # later, naming beta or compute; now the construction names the field.
    with pytest.raises(ValueError, match=f"^{field}:"):
        paba.Scenario(**{field: value})


def test_extreme_but_workable_scenarios_still_run():
    for changes in (dict(bandwidth=1e300), dict(samples=1e20, params=2**53),
                    dict(noise_dbm_per_hz=400.0), dict(cell_radius=1e6, min_distance=1e3)):
        scenario = paba.Scenario(n_workers=4, **changes)
        history = paba.Scheduler(scenario, "joint", iterations=3).run()
        assert history.completed == 3


def test_gain_arguments_of_the_methods_are_checked():
    # Found by tests/test_fuzz.py: junk gains raised TypeError from numpy, junk worker lists
    # an unnamed ValueError.
    s = paba.Scenario(n_workers=3)
    for gain in ([object()], "abc", [1j, 2j, 3j], [[1.0], [1.0, 2.0]], [np.nan] * 3, [-1.0] * 3):
        for method in (s.efficiencies, s.beta):
            with pytest.raises(ValueError, match="^gain:"):
                method(gain)
    with pytest.raises(ValueError, match="^workers:"):
        s.system(workers=[[0], [0, 1]])
    assert np.all(np.isinf(s.beta([0.0, 1e-10, 1e-10])[:1]))  # no gain: infinite cost
    with pytest.raises(ValueError, match="^backend:"):
        paba.allocate(s.system(), backend=np.array(["native", "reference"]))
