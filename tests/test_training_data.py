"""paba.training's data sets, sharding and models (_data.py, _models.py).

Builtin data sets (shipped with scikit-learn), LIBSVM/svmlight files, the synthetic generator,
the IID and label-skew sharding, the model builders; and the ValueError of every bad argument,
whose message starts with the argument's name.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")

from paba.training._data import (  # noqa: E402
    BUILTIN_DATASETS,
    SHARDING,
    Dataset,
    load_dataset,
    load_svmlight,
    shard,
    synthetic,
)
from paba.training._models import (  # noqa: E402
    MODELS,
    build_model,
    logistic_regression,
    mlp,
    parameter_count,
)


def named(name: str) -> str:
    """Regex for a message that starts with the argument name and a colon."""
    return rf"^{re.escape(name)}: "


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


# ---------------------------------------------------------------------------------------------
# Builtin data sets


@pytest.mark.parametrize("name, samples, features, classes", [
    ("digits", 1797, 64, 10), ("iris", 150, 4, 3), ("wine", 178, 13, 3),
    ("breast_cancer", 569, 30, 2)])
def test_builtin_shapes(name, samples, features, classes):
    data = load_dataset(name, test_fraction=0.25, seed=3)
    n_test = math.ceil(0.25 * samples)
    assert (data.n_train, data.n_test) == (samples - n_test, n_test)
    assert data.n_features == features and data.n_classes == classes
    assert data.x_train.shape == (samples - n_test, features)
    assert data.x_test.shape == (n_test, features)
    for x in (data.x_train, data.x_test):
        assert x.dtype == np.float32 and x.flags.c_contiguous and not x.flags.writeable
    for y in (data.y_train, data.y_test):
        assert y.dtype == np.int64 and y.flags.c_contiguous and not y.flags.writeable
    assert set(np.unique(data.y_train)) == set(range(classes))
    assert set(np.unique(data.y_test)) == set(range(classes))  # stratified
    summary = data.to_dict()
    assert summary == {"name": name, "n_train": samples - n_test, "n_test": n_test,
                       "n_features": features, "n_classes": classes}
    assert json.loads(json.dumps(summary)) == summary
    assert all(type(value) in (str, int) for value in summary.values())
    assert name in repr(data) and len(repr(data)) < 200


def test_builtins_listed():
    assert BUILTIN_DATASETS == ("digits", "iris", "wine", "breast_cancer")


def test_split_is_stratified(digits):
    train = np.bincount(digits.y_train) / digits.n_train
    test = np.bincount(digits.y_test) / digits.n_test
    assert np.max(np.abs(train - test)) < 0.01


def test_standardisation_uses_training_statistics():
    raw = load_dataset("wine", standardize=False, seed=5)
    data = load_dataset("wine", seed=5)
    np.testing.assert_array_equal(raw.y_train, data.y_train)
    assert np.max(np.abs(data.x_train.mean(axis=0))) < 1e-5
    np.testing.assert_allclose(data.x_train.std(axis=0), 1.0, rtol=1e-5)
    mean = raw.x_train.astype(np.float64).mean(axis=0)
    std = raw.x_train.astype(np.float64).std(axis=0)
    np.testing.assert_allclose(data.x_test, (raw.x_test - mean) / std, rtol=1e-4, atol=1e-5)
    assert np.max(np.abs(data.x_test.mean(axis=0))) > 1e-3  # test statistics were not used


def test_constant_feature_is_only_centred(digits):
    raw = load_dataset("digits", standardize=False)
    constant = np.ptp(raw.x_train, axis=0) == 0
    assert constant.any()  # digits has blank border pixels
    assert np.all(digits.x_train[:, constant] == 0)
    assert np.all(np.isfinite(digits.x_test))


def test_split_is_seeded():
    first, again = load_dataset("iris", seed=1), load_dataset("iris", seed=1)
    other = load_dataset("iris", seed=2)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.x_test, other.x_test)


def test_dataset_is_immutable(digits):
    with pytest.raises(dataclasses.FrozenInstanceError):
        digits.name = "other"
    with pytest.raises(ValueError):
        digits.x_train[0, 0] = 1.0
    with pytest.raises(ValueError):
        digits.x_train.flags.writeable = True


def test_dataset_constructor_copies_and_converts():
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    y = np.array([0, 1, 0, 1, 2, 2])
    data = Dataset("toy", x[:4], y[:4], x[4:], y[4:], 3)
    x[0, 0] = 99.0
    assert data.x_train[0, 0] == 0.0 and data.x_train.dtype == np.float32
    assert data.y_train.dtype == np.int64 and not data.y_train.flags.writeable
    assert (data.n_train, data.n_test, data.n_features) == (4, 2, 2)


@pytest.mark.parametrize("changes, name", [
    (dict(name=""), "name"), (dict(n_classes=1), "n_classes"), (dict(n_classes=True), "n_classes"),
    (dict(x_train=np.zeros(4)), "x_train"), (dict(x_test=np.zeros((2, 3))), "x_test"),
    (dict(x_train=np.full((4, 2), np.nan)), "x_train"), (dict(x_test=np.zeros((0, 2))), "x_test"),
    (dict(y_train=[0, 1, 2]), "y_train"), (dict(y_train=[0.0, 1.0, 0.0, 1.0]), "y_train"),
    (dict(y_test=[0, 3]), "y_test"), (dict(y_test=[-1, 0]), "y_test")])
def test_dataset_constructor_checks(changes, name):
    kwargs = dict(name="toy", x_train=np.zeros((4, 2)), y_train=[0, 1, 0, 1],
                  x_test=np.zeros((2, 2)), y_test=[0, 1], n_classes=2)
    kwargs.update(changes)
    with pytest.raises(ValueError, match=named(name)):
        Dataset(**kwargs)


# ---------------------------------------------------------------------------------------------
# LIBSVM/svmlight files


def write_svmlight(path, x, y, **kwargs):
    from sklearn.datasets import dump_svmlight_file

    dump_svmlight_file(x, y, str(path), **kwargs)
    return path


def test_svmlight_round_trip_with_test_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6))
    y = np.where(x[:, 0] > 0, 1, -1)
    train = write_svmlight(tmp_path / "train.svm", x[:40], y[:40])
    test = write_svmlight(tmp_path / "test.svm", x[40:], y[40:])
    data = load_svmlight(train, test_path=test, standardize=False)
    assert data.name == "train.svm"
    assert (data.n_train, data.n_test, data.n_features, data.n_classes) == (40, 10, 6, 2)
    np.testing.assert_allclose(data.x_train, x[:40], rtol=1e-6)
    np.testing.assert_allclose(data.x_test, x[40:], rtol=1e-6)
    np.testing.assert_array_equal(data.y_train, (y[:40] + 1) // 2)  # -1 -> 0, +1 -> 1
    np.testing.assert_array_equal(data.y_test, (y[40:] + 1) // 2)
    standardized = load_svmlight(train, test_path=test, name="toy")
    assert standardized.name == "toy"
    assert np.max(np.abs(standardized.x_train.mean(axis=0))) < 1e-5


def test_svmlight_split_and_label_remap(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3))
    y = np.repeat([3.0, 7.0, 11.0], 20)  # integral floats, not 0-based
    path = write_svmlight(tmp_path / "data.txt", x, y, zero_based=False)
    data = load_svmlight(path, test_fraction=0.25, seed=4, n_features=5)
    assert (data.n_train, data.n_test, data.n_features, data.n_classes) == (45, 15, 5, 3)
    np.testing.assert_array_equal(np.bincount(data.y_test), [5, 5, 5])
    again = load_dataset(str(path), test_fraction=0.25, seed=4)  # a path through load_dataset
    assert again.n_features == 3 and again.n_classes == 3
    raw = load_svmlight(path, test_fraction=0.25, seed=4, standardize=False)
    # every sample's class follows its features through the remap
    for features, label in zip(raw.x_train, raw.y_train, strict=True):
        row = np.flatnonzero(np.all(np.isclose(x, features, rtol=1e-6), axis=1))
        assert [3.0, 7.0, 11.0][label] == y[row[0]]


def test_svmlight_unseen_test_label(tmp_path):
    x = np.eye(4)
    train = write_svmlight(tmp_path / "train", x, [1, 2, 1, 2])
    test = write_svmlight(tmp_path / "test", x, [1, 2, 3, 2])
    with pytest.raises(ValueError, match=named("test_path")):
        load_svmlight(train, test_path=test)


@pytest.mark.parametrize("content, match", [
    (b"abc def\n1 x:y\n", "cannot read"), (bytes(range(256)) * 3, "cannot read"),
    (b"", "no samples"), (b"0.5 1:1\n1 1:2\n", "whole numbers"), (b"1 1:1\n1 2:3\n", "two classes"),
    (b"1 1:1\n", "two classes")])
def test_svmlight_bad_file(tmp_path, content, match):
    path = tmp_path / "bad.svm"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=named("path") + ".*" + match):
        load_svmlight(path)
    with pytest.raises(ValueError, match=named("name")):
        load_dataset(str(path))
    if match != "two classes":  # a test file may hold a single class
        good = write_svmlight(tmp_path / "good.svm", np.eye(2), [0, 1])
        with pytest.raises(ValueError, match=named("test_path") + ".*" + match):
            load_svmlight(good, test_path=path)


def test_svmlight_missing_file(tmp_path):
    with pytest.raises(ValueError, match=named("path") + "no such file"):
        load_svmlight(tmp_path / "missing.svm")
    with pytest.raises(ValueError, match=named("path")):
        load_svmlight(tmp_path)  # a directory
    good = write_svmlight(tmp_path / "good.svm", np.eye(2), [0, 1])
    with pytest.raises(ValueError, match=named("test_path")):
        load_svmlight(good, test_path=tmp_path / "missing.svm")


def test_svmlight_too_few_features(tmp_path):
    path = write_svmlight(tmp_path / "wide.svm", np.eye(5), [0, 1, 0, 1, 0])
    with pytest.raises(ValueError, match=named("path")):
        load_svmlight(path, n_features=2)


# ---------------------------------------------------------------------------------------------
# Synthetic data


def test_synthetic_is_seeded():
    first, again = synthetic(300, 8, 4, seed=7), synthetic(300, 8, 4, seed=7)
    other = synthetic(300, 8, 4, seed=8)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.x_train, other.x_train)
    assert (first.n_train, first.n_test, first.n_features, first.n_classes) == (240, 60, 8, 4)
    assert first.name == "synthetic" and first.x_train.dtype == np.float32
    counts = np.bincount(np.concatenate([first.y_train, first.y_test]))
    assert counts.max() - counts.min() <= 1


def softmax_regression_accuracy(data: Dataset, steps: int = 300, rate: float = 0.5) -> float:
    """Test accuracy of multinomial logistic regression fitted by full-batch gradient descent
    (on one BLAS thread: these products are small, and threads only contend on a busy machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _softmax_regression_accuracy(data, steps, rate)


def _softmax_regression_accuracy(data: Dataset, steps: int, rate: float) -> float:
    x = np.hstack([data.x_train, np.ones((data.n_train, 1), np.float32)]).astype(np.float64)
    onehot = np.eye(data.n_classes)[data.y_train]
    weights = np.zeros((x.shape[1], data.n_classes))
    for _ in range(steps):
        logits = x @ weights
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        weights -= rate * x.T @ (prob - onehot) / data.n_train
    x_test = np.hstack([data.x_test, np.ones((data.n_test, 1), np.float32)])
    return float(np.mean(np.argmax(x_test @ weights, axis=1) == data.y_test))


@pytest.mark.parametrize("features, classes", [(20, 3), (5, 10), (2, 2)])
def test_synthetic_is_learnable(features, classes):
    data = synthetic(1000, features, classes, seed=2)
    accuracy = softmax_regression_accuracy(data)
    assert accuracy > 1.0 / classes + 0.4, accuracy


def test_synthetic_without_separation_is_noise():
    data = synthetic(1000, 10, 2, separation=0.0)
    assert softmax_regression_accuracy(data) < 0.62


def test_builtin_is_learnable(digits):
    assert softmax_regression_accuracy(digits, steps=200) > 0.9


# ---------------------------------------------------------------------------------------------
# Sharding


@st.composite
def shard_cases(draw):
    n = draw(st.integers(1, 200))
    labels = np.array(draw(st.lists(st.integers(-3, 6), min_size=n, max_size=n)), np.int64)
    scheme = draw(st.sampled_from(SHARDING))
    classes_per_worker = draw(st.integers(1, 4))
    top = n if scheme == "iid" else n // classes_per_worker
    if top < 1:
        classes_per_worker, top = 1, n
    n_workers = draw(st.integers(1, top))
    return labels, n_workers, scheme, classes_per_worker, draw(st.integers(0, 2**32 - 1))


@settings(deadline=None)
@given(shard_cases())
def test_shards_partition_the_samples(case):
    labels, n_workers, scheme, classes_per_worker, seed = case
    shards = shard(labels, n_workers, scheme=scheme, classes_per_worker=classes_per_worker,
                   seed=seed)
    assert len(shards) == n_workers
    for part in shards:
        assert part.dtype == np.int64 and part.ndim == 1 and part.size > 0
        assert np.all(np.diff(part) > 0)  # sorted, no repeats
    np.testing.assert_array_equal(np.sort(np.concatenate(shards)), np.arange(labels.size))
    if scheme == "iid":
        sizes = [part.size for part in shards]
        assert max(sizes) - min(sizes) <= 1


def test_iid_sizes(digits):
    shards = shard(digits.y_train, 11, seed=3)
    sizes = [part.size for part in shards]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == digits.n_train
    # an IID shard of ~130 samples sees every digit
    assert all(np.unique(digits.y_train[part]).size == 10 for part in shards)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_label_skew_limits_the_labels_per_worker(digits, seed):
    n_workers, per_worker = 50, 2
    shards = shard(digits.y_train, n_workers, scheme="label_skew",
                   classes_per_worker=per_worker, seed=seed)
    distinct = np.array([np.unique(digits.y_train[part]).size for part in shards])
    # at most C - 1 = 9 of the 100 pieces straddle a label boundary, one extra label each
    assert np.sum(distinct <= per_worker) >= n_workers - 9
    assert distinct.max() <= 2 * per_worker
    sizes = [part.size for part in shards]
    assert max(sizes) - min(sizes) <= 2


def test_label_skew_with_few_workers(digits):
    shards = shard(digits.y_train, 10, scheme="label_skew", classes_per_worker=1, seed=0)
    distinct = [np.unique(digits.y_train[part]).size for part in shards]
    assert np.mean(distinct) <= 2.0  # a piece about one class long spans one or two labels


@pytest.mark.parametrize("scheme", SHARDING)
def test_shards_are_seeded(digits, scheme):
    first = shard(digits.y_train, 7, scheme=scheme, seed=5)
    again = shard(digits.y_train, 7, scheme=scheme, seed=5)
    other = shard(digits.y_train, 7, scheme=scheme, seed=6)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_shard_single_worker_and_one_sample_each():
    labels = np.array([2, 0, 1, 0, 2])
    np.testing.assert_array_equal(shard(labels, 1)[0], np.arange(5))
    for scheme in SHARDING:
        shards = shard(labels, 5, scheme=scheme, classes_per_worker=1)
        assert sorted(int(part[0]) for part in shards) == list(range(5))


# ---------------------------------------------------------------------------------------------
# Argument checks of the data functions


LABELS = np.array([0, 1, 2, 0, 1, 2, 0, 1])


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_workers=0), "n_workers"), (dict(n_workers=9), "n_workers"),
    (dict(n_workers=True), "n_workers"), (dict(n_workers=2.0), "n_workers"),
    (dict(scheme="dirichlet"), "scheme"), (dict(scheme=None), "scheme"),
    (dict(classes_per_worker=0), "classes_per_worker"),
    (dict(classes_per_worker=False), "classes_per_worker"),
    (dict(scheme="label_skew", n_workers=3, classes_per_worker=3), "classes_per_worker"),
    (dict(seed=-1), "seed"), (dict(seed=2**32), "seed"), (dict(seed=True), "seed"),
    (dict(labels=LABELS.astype(float)), "labels"), (dict(labels=LABELS.reshape(2, 4)), "labels"),
    (dict(labels=LABELS.astype(bool)), "labels"), (dict(labels=[]), "labels"),
    (dict(labels=["a", "b"]), "labels")])
def test_shard_checks(kwargs, name):
    arguments = dict(labels=LABELS, n_workers=2)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=named(name)):
        shard(**arguments)


@pytest.mark.parametrize("kwargs, name", [
    (dict(name="mnist"), "name"), (dict(name=3), "name"), (dict(name=None), "name"),
    (dict(test_fraction=0.0), "test_fraction"), (dict(test_fraction=1.5), "test_fraction"),
    (dict(test_fraction=float("nan")), "test_fraction"),
    (dict(test_fraction=True), "test_fraction"),
    (dict(test_fraction="0.2"), "test_fraction"), (dict(seed=-1), "seed"), (dict(seed=1.0), "seed"),
    (dict(seed=False), "seed"), (dict(standardize=1), "standardize"),
    (dict(standardize="yes"), "standardize")])
def test_load_dataset_checks(kwargs, name):
    with pytest.raises(ValueError, match=named(name)) as error:
        load_dataset(**kwargs)
    if name == "name":
        assert "digits" in str(error.value)  # the builtins are listed


@pytest.mark.parametrize("kwargs, name", [
    (dict(path=3), "path"), (dict(test_path=3), "test_path"), (dict(n_features=0), "n_features"),
    (dict(n_features=True), "n_features"), (dict(test_fraction=1), "test_fraction"),
    (dict(seed=-2), "seed"), (dict(standardize=None), "standardize"), (dict(name=""), "name"),
    (dict(name=5), "name")])
def test_load_svmlight_checks(tmp_path, kwargs, name):
    good = write_svmlight(tmp_path / "good.svm", np.eye(4), [0, 1, 0, 1])
    arguments = dict(path=good)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=named(name)):
        load_svmlight(**arguments)


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_samples=1), "n_samples"), (dict(n_samples=2, n_classes=3), "n_samples"),
    (dict(n_samples=10.0), "n_samples"), (dict(n_features=0), "n_features"),
    (dict(n_classes=1), "n_classes"), (dict(n_classes=True), "n_classes"), (dict(seed=-1), "seed"),
    (dict(test_fraction=1.0), "test_fraction"), (dict(n_samples=3, n_classes=2,
                                                      test_fraction=0.9), "test_fraction"),
    (dict(separation=-1.0), "separation"), (dict(separation=float("inf")), "separation"),
    (dict(separation=True), "separation")])
def test_synthetic_checks(kwargs, name):
    with pytest.raises(ValueError, match=named(name)):
        synthetic(**kwargs)


# ---------------------------------------------------------------------------------------------
# Models


def test_parameter_counts(digits):
    d, c = digits.n_features, digits.n_classes
    assert parameter_count(logistic_regression(d, c)) == 650
    assert parameter_count(mlp(d, c)) == 64 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10
    assert parameter_count(mlp(d, c)) == 1_126_410
    assert parameter_count(build_model("logistic", d, c)) == 650
    assert parameter_count(build_model("mlp", d, c)) == 1_126_410
    assert parameter_count(build_model("mlp", d, c, hidden=[8])) == 64 * 8 + 8 + 8 * 10 + 10
    model = build_model("mlp", d, c, hidden=(8,))
    model[0].weight.requires_grad_(False)
    assert parameter_count(model) == 8 + 8 * 10 + 10


def test_model_structure():
    model = mlp(5, 3, hidden=(4, 6))
    assert isinstance(model, torch.nn.Sequential)
    assert [type(layer).__name__ for layer in model] == [
        "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    logistic = logistic_regression(5, 3)
    assert isinstance(logistic, torch.nn.Sequential) and len(logistic) == 1
    assert isinstance(logistic[0], torch.nn.Linear)
    for parameter in model.parameters():
        assert parameter.dtype == torch.float32 and parameter.device.type == "cpu"
        assert not parameter.is_meta and parameter.requires_grad


@pytest.mark.parametrize("name", MODELS)
def test_forward_shapes(digits, name):
    model = build_model(name, digits.n_features, digits.n_classes, hidden=None)
    logits = model(torch.tensor(digits.x_test[:17]))  # a copy: from_numpy warns on read-only
    assert logits.shape == (17, 10) and logits.dtype == torch.float32
    assert torch.all(torch.isfinite(logits))


@pytest.mark.parametrize("name", MODELS)
def test_build_model_is_deterministic(name):
    hidden = (32, 16) if name == "mlp" else None
    first = build_model(name, 12, 4, hidden=hidden, seed=3)
    again = build_model(name, 12, 4, hidden=hidden, seed=3)
    other = build_model(name, 12, 4, hidden=hidden, seed=4)
    for a, b, c in zip(first.parameters(), again.parameters(), other.parameters(), strict=True):
        assert torch.equal(a, b)
        assert not torch.equal(a, c)


def test_initialisation_bounds():
    model = mlp(100, 3, hidden=(400,), seed=1)
    for layer in (model[0], model[2]):
        bound = 1.0 / math.sqrt(layer.in_features)
        with torch.no_grad():
            for parameter in (layer.weight, layer.bias):
                assert parameter.abs().max() <= bound
            assert layer.weight.abs().max() > 0.9 * bound  # not a degenerate initialisation
            assert abs(float(layer.weight.std()) - bound / math.sqrt(3)) < 0.1 * bound


def test_building_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    build_model("mlp", 20, 5, hidden=(64,), seed=2)
    build_model("logistic", 20, 5, seed=2)
    mlp(3, 2)
    logistic_regression(3, 2)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("call, name", [
    (lambda: build_model("cnn", 4, 2), "name"), (lambda: build_model(None, 4, 2), "name"),
    (lambda: build_model("logistic", 4, 2, hidden=(8,)), "hidden"),
    (lambda: build_model("mlp", 4, 2, hidden=()), "hidden"),
    (lambda: build_model("mlp", 4, 2, hidden=(8, 0)), "hidden"),
    (lambda: build_model("mlp", 4, 2, hidden=(8, 2.5)), "hidden"),
    (lambda: build_model("mlp", 4, 2, hidden=(True,)), "hidden"),
    (lambda: build_model("mlp", 4, 2, hidden=8), "hidden"),
    (lambda: build_model("mlp", 4, 2, hidden="64"), "hidden"),
    (lambda: build_model("mlp", 0, 2), "n_features"),
    (lambda: build_model("logistic", 4, 1), "n_classes"),
    (lambda: build_model("logistic", 4.0, 2), "n_features"),
    (lambda: build_model("logistic", 4, True), "n_classes"),
    (lambda: build_model("logistic", 4, 2, seed=-1), "seed"),
    (lambda: logistic_regression(0, 2), "n_features"), (lambda: mlp(3, 2, hidden=[-1]), "hidden"),
    (lambda: parameter_count("model"), "model")])
def test_model_checks(call, name):
    with pytest.raises(ValueError, match=named(name)):
        call()


def test_logistic_accepts_empty_hidden():
    assert parameter_count(build_model("logistic", 4, 2, hidden=())) == 10
