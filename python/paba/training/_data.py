"""Data sets for partitioned training, and their sharding across workers.

Pure NumPy: the loaders of the builtin and LIBSVM/svmlight data sets import scikit-learn lazily,
and nothing here imports torch. Every :class:`Dataset` holds read-only, C-contiguous arrays:
float32 features of shape (samples, features) and int64 labels in 0..n_classes-1.

Every public function checks its arguments and fails with a :class:`ValueError` whose message
starts with the argument's name and a colon (``"test_fraction: must be in (0, 1), got 1.5"``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os

import numpy as np

from .._validation import boolean, fraction, integer, readonly, real_array
from .._validation import seed as seed_check
from ._names import BUILTIN_DATASETS, SHARDING

#: Distance between two class means of :func:`synthetic`, in noise standard deviations, per unit
#: of ``separation`` (when the means are orthogonal, that is ``n_classes <= n_features``).
CLASS_DISTANCE = 4.0


# ---------------------------------------------------------------------------------------------
# Argument checks


def _check_path(name: str, value) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"{name}: must be a path (str or os.PathLike), got {value!r}")
    path = os.fspath(value)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not os.path.isfile(path):
        raise ValueError(f"{name}: no such file: {path!r}")
    return path


def _owned_readonly(array) -> bool:
    """Whether ``array`` is a read-only view of a read-only base (what ``readonly`` makes)."""
    return (isinstance(array, np.ndarray) and not array.flags.writeable
            and isinstance(array.base, np.ndarray) and not array.base.flags.writeable)


# ---------------------------------------------------------------------------------------------
# Dataset


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A classification data set split into training and test samples.

    Parameters
    ----------
    name : str
        Name of the data set (a builtin name, or a file's base name).
    x_train : numpy.ndarray, float32, shape (n_train, n_features)
        Training features (standardised by the loaders unless told otherwise).
    y_train : numpy.ndarray, int64, shape (n_train,)
        Training labels in 0..n_classes-1.
    x_test : numpy.ndarray, float32, shape (n_test, n_features)
        Test features, transformed with the training set's statistics.
    y_test : numpy.ndarray, int64, shape (n_test,)
        Test labels in 0..n_classes-1.
    n_classes : int
        Number of classes C (at least 2); the models have C outputs.

    Notes
    -----
    The arrays are stored read-only and C-contiguous. Arrays given to the constructor are copied
    (and converted to float32 / int64), so later changes to them do not reach the data set.
    Both splits must be non-empty, and the features finite.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name: must be a non-empty string, got {self.name!r}")
        n_classes = integer("n_classes", self.n_classes, minimum=2)
        object.__setattr__(self, "n_classes", n_classes)
        x_train = _features("x_train", self.x_train)
        x_test = _features("x_test", self.x_test)
        if x_test.shape[1] != x_train.shape[1]:
            raise ValueError(f"x_test: must have {x_train.shape[1]} features like x_train, "
                             f"got {x_test.shape[1]}")
        y_train = _labels("y_train", self.y_train, x_train.shape[0], n_classes)
        y_test = _labels("y_test", self.y_test, x_test.shape[0], n_classes)
        for field, value in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test),
                             ("y_test", y_test)):
            object.__setattr__(self, field, value)

    @property
    def n_features(self) -> int:
        """Number of features d (columns of the feature matrices)."""
        return int(self.x_train.shape[1])

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return int(self.x_test.shape[0])

    def to_dict(self) -> dict:
        """A JSON-ready summary: ``{name, n_train, n_test, n_features, n_classes}`` (str and
        ints; no arrays)."""
        return {"name": str(self.name), "n_train": self.n_train, "n_test": self.n_test,
                "n_features": self.n_features, "n_classes": int(self.n_classes)}

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, n_train={self.n_train}, n_test={self.n_test}, "
                f"n_features={self.n_features}, n_classes={self.n_classes})")


def _features(name: str, value) -> np.ndarray:
    if _owned_readonly(value) and value.dtype == np.float32 and value.ndim == 2 \
            and value.flags.c_contiguous:
        array = value
    else:
        original = real_array(name, value, "a 2-D array of real numbers")
        if original.ndim != 2:
            raise ValueError(f"{name}: must be two-dimensional (samples, features), "
                             f"got shape {original.shape}")
        array = readonly(np.array(original, dtype=np.float32, order="C", copy=True))
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"{name}: must have at least one sample and one feature, "
                         f"got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: must be finite (no NaN or infinity, also after the conversion "
                         f"to float32)")
    return array


def _labels(name: str, value, size: int, n_classes: int) -> np.ndarray:
    if _owned_readonly(value) and value.dtype == np.int64 and value.ndim == 1:
        array = value
    else:
        try:
            original = np.asarray(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}: must be a 1-D array of integers ({error})") from None
        if original.dtype.kind not in "iu":
            raise ValueError(f"{name}: must hold integers, not {original.dtype}")
        if original.ndim != 1:
            raise ValueError(f"{name}: must be one-dimensional, got shape {original.shape}")
        if original.size and original.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{name}: labels must be in [0, {n_classes - 1}]")
        array = readonly(np.array(original, dtype=np.int64, order="C", copy=True))
    if array.shape[0] != size:
        raise ValueError(f"{name}: must have one label per sample ({size}), "
                         f"got {array.shape[0]}")
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        raise ValueError(f"{name}: labels must be in [0, {n_classes - 1}], got "
                         f"[{array.min()}, {array.max()}]")
    return array


# ---------------------------------------------------------------------------------------------
# Splitting and standardising


def _split_sizes(n_samples: int, test_fraction: float, source: str) -> tuple[int, int]:
    """(n_train, n_test) with n_test = ceil(test_fraction * n), as scikit-learn rounds."""
    n_test = math.ceil(test_fraction * n_samples)
    n_train = n_samples - n_test
    if n_train < 1 or n_test < 1:
        raise ValueError(f"test_fraction: {test_fraction} of the {n_samples} samples of "
                         f"{source} leaves an empty training or test set")
    return n_train, n_test


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int, source: str):
    """Seeded train/test split, stratified by label where scikit-learn can stratify."""
    from sklearn.model_selection import train_test_split

    n_train, n_test = _split_sizes(len(y), test_fraction, source)
    counts = np.bincount(y)
    counts = counts[counts > 0]
    stratify = (y if counts.min() >= 2 and min(n_train, n_test) >= counts.size else None)
    train, test = train_test_split(np.arange(len(y)), test_size=n_test, random_state=seed,
                                   shuffle=True, stratify=stratify)
    return x[train], y[train], x[test], y[test]


def _standardize(x_train: np.ndarray, x_test: np.ndarray):
    """Both sets centred and scaled by the training set's per-feature mean and standard
    deviation (a constant training feature is only centred), computed in float64."""
    x_train = np.asarray(x_train, dtype=np.float64)
    x_test = np.asarray(x_test, dtype=np.float64)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    constant = np.ptp(x_train, axis=0) == 0
    scale = np.where(constant | (std == 0), 1.0, std)
    return (x_train - mean) / scale, (x_test - mean) / scale


def _build(name: str, x_train, y_train, x_test, y_test, n_classes: int,
           standardize: bool) -> Dataset:
    if standardize:
        x_train, x_test = _standardize(x_train, x_test)
    # The callers hand over fresh arrays that nobody else holds: convert without copying twice.
    return Dataset(name, readonly(np.ascontiguousarray(x_train, dtype=np.float32)),
                   readonly(np.ascontiguousarray(y_train, dtype=np.int64)),
                   readonly(np.ascontiguousarray(x_test, dtype=np.float32)),
                   readonly(np.ascontiguousarray(y_test, dtype=np.int64)),
                   n_classes=int(n_classes))


# ---------------------------------------------------------------------------------------------
# Loaders


def load_dataset(name: str | os.PathLike = "digits", *, test_fraction: float = 0.2,
                 seed: int = 0, standardize: bool = True) -> Dataset:
    """Load a builtin data set, or a LIBSVM/svmlight file, split into training and test sets.

    Parameters
    ----------
    name : str or os.PathLike, default "digits"
        One of :data:`BUILTIN_DATASETS` (shipped inside scikit-learn, never downloaded:
        ``"digits"`` 1797 samples x 64 features, 10 classes; ``"iris"`` 150 x 4, 3;
        ``"wine"`` 178 x 13, 3; ``"breast_cancer"`` 569 x 30, 2), or the path of an existing
        LIBSVM/svmlight file, read with :func:`load_svmlight`.
    test_fraction : float, default 0.2
        Fraction of the samples held out for testing, in (0, 1); the test set has
        ceil(test_fraction * samples) of them.
    seed : int, default 0
        Seed of the split, in [0, 2**32 - 1]: the same seed gives the same split.
    standardize : bool, default True
        Centre and scale every feature by the training set's mean and standard deviation
        (a constant feature is only centred); the test set gets the same transformation.

    Returns
    -------
    Dataset
        float32 features, int64 labels in 0..C-1. The split is stratified by label when every
        class has at least two samples and both sets can hold one sample of each class.

    Raises
    ------
    ValueError
        ``name`` neither a builtin nor an existing file, or any other bad argument (the message
        starts with the argument's name).
    """
    test_fraction = fraction("test_fraction", test_fraction)
    seed = seed_check("seed", seed)
    standardize = boolean("standardize", standardize)
    if isinstance(name, str) and name in BUILTIN_DATASETS:
        import sklearn.datasets

        loader = getattr(sklearn.datasets, f"load_{name}")
        x, y = loader(return_X_y=True)
        y = np.asarray(y, dtype=np.int64)
        x_train, y_train, x_test, y_test = _split(np.asarray(x, dtype=np.float64), y,
                                                  test_fraction, seed, name)
        return _build(name, x_train, y_train, x_test, y_test, int(y.max()) + 1, standardize)
    is_file = isinstance(name, (str, os.PathLike)) and os.path.isfile(os.fspath(name))
    if not is_file:
        raise ValueError(f"name: {name!r} is neither a builtin data set {BUILTIN_DATASETS} nor "
                         f"an existing LIBSVM/svmlight file")
    try:
        return load_svmlight(name, test_fraction=test_fraction, seed=seed,
                             standardize=standardize)
    except ValueError as error:
        message = str(error)
        if message.startswith("path: "):
            raise ValueError("name: " + message[len("path: "):]) from error
        raise


def load_svmlight(path: str | os.PathLike, *, test_path: str | os.PathLike | None = None,
                  n_features: int | None = None, test_fraction: float = 0.2, seed: int = 0,
                  standardize: bool = True, name: str | None = None) -> Dataset:
    """Load a LIBSVM/svmlight classification file (dense), with its own test file or split.

    Parameters
    ----------
    path : str or os.PathLike
        The training file (or the whole data set when ``test_path`` is None), one sample a
        line: ``label index:value ...`` (zero- or one-based indices, detected as scikit-learn
        does, jointly for both files).
    test_path : str or os.PathLike, optional
        A separate test file; it is read with the same number of features and nothing is split.
    n_features : int, optional
        Number of features d (at least 1); default: the largest index found in the file(s).
    test_fraction : float, default 0.2
        Without ``test_path``: fraction of the samples held out for testing, in (0, 1).
    seed : int, default 0
        Without ``test_path``: seed of the (stratified where possible) split, in [0, 2**32 - 1].
    standardize : bool, default True
        Centre and scale the features by the training set's statistics (see
        :func:`load_dataset`).
    name : str, optional
        Name of the data set; default: the training file's base name.

    Returns
    -------
    Dataset
        float32 features of shape (samples, d); labels remapped to 0..C-1 in the sorted order of
        the distinct label values (so -1/+1 become 0/1 and 1..k become 0..k-1), the same map for
        both sets.

    Raises
    ------
    ValueError
        A missing file or one scikit-learn cannot parse (message ``"path: ..."``, or
        ``"test_path: ..."`` for the test file), labels that are not whole numbers, fewer than
        two classes, a test label absent from the training file, or any other bad argument.
    """
    path = _check_path("path", path)
    if test_path is not None:
        test_path = _check_path("test_path", test_path)
    if n_features is not None:
        n_features = integer("n_features", n_features, minimum=1)
    test_fraction = fraction("test_fraction", test_fraction)
    seed = seed_check("seed", seed)
    standardize = boolean("standardize", standardize)
    if name is None:
        name = os.path.basename(path) or path
    elif not isinstance(name, str) or not name:
        raise ValueError(f"name: must be a non-empty string, got {name!r}")

    if test_path is None:
        x, y = _read_svmlight([path], n_features, ("path",))[0]
        codes, n_classes = _remap_labels(y, "path", path)
        if x.shape[0] < 2:
            raise ValueError(f"path: {path!r} has {x.shape[0]} sample(s); a train/test split "
                             f"needs at least two")
        x_train, y_train, x_test, y_test = _split(x, codes, test_fraction, seed, repr(path))
    else:
        (x_train, y_raw), (x_test, y_test_raw) = _read_svmlight(
            [path, test_path], n_features, ("path", "test_path"))
        y_train, n_classes = _remap_labels(y_raw, "path", path)
        classes = np.unique(y_raw)
        _check_whole("test_path", test_path, y_test_raw)
        unseen = np.setdiff1d(np.unique(y_test_raw), classes)
        if unseen.size:
            raise ValueError(f"test_path: label(s) {_format_labels(unseen)} of {test_path!r} "
                             f"do not occur in the training file {path!r}")
        y_test = np.searchsorted(classes, y_test_raw).astype(np.int64)
    return _build(name, x_train, y_train, x_test, y_test, n_classes, standardize)


def _read_svmlight(paths: list[str], n_features: int | None, names: tuple[str, ...]):
    """[(dense float64 features, raw float labels)] for each file, with a common width; a file
    that cannot be parsed is reported under its argument's name."""
    from sklearn.datasets import load_svmlight_file, load_svmlight_files

    try:
        loaded = load_svmlight_files(paths, n_features=n_features, dtype=np.float64)
    except Exception as error:  # any parser failure becomes a ValueError naming the file
        # Find the file to blame: the first that fails on its own (else the first).
        culprit = 0
        for index, path in enumerate(paths):
            try:
                load_svmlight_file(path, n_features=n_features, dtype=np.float64)
            except Exception:
                culprit = index
                break
        detail = str(error)
        if len(detail) > 200:
            detail = detail[:200] + "..."
        raise ValueError(f"{names[culprit]}: cannot read {paths[culprit]!r} as a LIBSVM/svmlight "
                         f"file ({type(error).__name__}: {detail})") from error
    result = []
    for index in range(len(paths)):
        x, y = loaded[2 * index], loaded[2 * index + 1]
        x = np.asarray(x.toarray(), dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.shape[0] == 0:
            raise ValueError(f"{names[index]}: {paths[index]!r} holds no samples")
        if x.shape[1] == 0:
            raise ValueError(f"{names[index]}: {paths[index]!r} holds no features")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{names[index]}: {paths[index]!r} has non-finite feature values")
        result.append((x, y))
    return result


def _check_whole(name: str, path: str, y: np.ndarray) -> None:
    if y.ndim != 1:
        raise ValueError(f"{name}: {path!r} must have one label per sample")
    if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
        bad = y[~np.isfinite(y) | (y != np.round(y))]
        raise ValueError(f"{name}: {path!r} has label {float(bad[0]):g}; class labels must be "
                         f"whole numbers (regression data is not supported)")


def _remap_labels(y: np.ndarray, name: str, path: str) -> tuple[np.ndarray, int]:
    """Labels as codes 0..C-1 in the sorted order of their distinct values, and C."""
    _check_whole(name, path, y)
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"{name}: {path!r} must hold at least two classes, found "
                         f"{classes.size}")
    return codes.astype(np.int64).reshape(-1), int(classes.size)


def _format_labels(values: np.ndarray) -> str:
    return ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if values.size > 5 else "")


# ---------------------------------------------------------------------------------------------
# Synthetic data


def synthetic(n_samples: int = 1000, n_features: int = 20, n_classes: int = 3, *,
              seed: int = 0, test_fraction: float = 0.2, separation: float = 1.0) -> Dataset:
    """Gaussian blobs: a seeded, learnable classification data set of any size.

    Every class c has a mean m_c in R^d, and its samples are m_c + z with z ~ N(0, I_d). When
    ``n_classes <= n_features`` the means are orthogonal with equal norms, all pairwise
    distances equal to ``4 * separation`` noise standard deviations (two classes alone are then
    told apart by a linear rule with error Phi(-2 * separation), about 2.3 % at 1); otherwise they
    are random directions of the same norm. The classes are balanced (sizes differ by at most
    one), the samples shuffled, and the split stratified.

    Parameters
    ----------
    n_samples : int, default 1000
        Number of samples, training and test together (at least ``n_classes``).
    n_features : int, default 20
        Number of features d (at least 1).
    n_classes : int, default 3
        Number of classes C (at least 2).
    seed : int, default 0
        Seed of the generator and of the split, in [0, 2**32 - 1].
    test_fraction : float, default 0.2
        Fraction of the samples held out for testing, in (0, 1).
    separation : float, default 1.0
        Spread of the class means (non-negative; 0 gives pure noise, unlearnable).

    Returns
    -------
    Dataset
        Named ``"synthetic"``, float32 features of shape (samples, d) roughly centred with unit
        noise (not standardised further), int64 labels in 0..C-1. Memory: about 4 bytes per
        feature value.
    """
    n_samples = integer("n_samples", n_samples, minimum=2)
    n_features = integer("n_features", n_features, minimum=1)
    n_classes = integer("n_classes", n_classes, minimum=2)
    if n_samples < n_classes:
        raise ValueError(f"n_samples: must be at least n_classes = {n_classes} (one sample of "
                         f"each class), got {n_samples}")
    seed = seed_check("seed", seed)
    test_fraction = fraction("test_fraction", test_fraction)
    if isinstance(separation, (bool, np.bool_)) or not isinstance(separation, numbers.Real) \
            or not math.isfinite(float(separation)) or float(separation) < 0:
        raise ValueError(f"separation: must be a finite non-negative number, got {separation!r}")
    separation = float(separation)
    _split_sizes(n_samples, test_fraction, "the synthetic data set")

    rng = np.random.default_rng(seed)
    radius = CLASS_DISTANCE * separation / math.sqrt(2.0)
    directions = rng.standard_normal((n_features, n_classes))
    if n_classes <= n_features:
        directions, _ = np.linalg.qr(directions)  # orthonormal columns
    else:
        directions /= np.maximum(np.linalg.norm(directions, axis=0), 1e-300)
    means = (radius * directions.T).astype(np.float32)  # (C, d)
    labels = rng.permutation(np.arange(n_samples, dtype=np.int64) % n_classes)
    features = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    rows = max(1, (1 << 20) // n_features)  # add the means in chunks of about 4 MB
    for start in range(0, n_samples, rows):
        features[start:start + rows] += means[labels[start:start + rows]]
    x_train, y_train, x_test, y_test = _split(features, labels, test_fraction, seed,
                                              "the synthetic data set")
    return _build("synthetic", x_train, y_train, x_test, y_test, n_classes, standardize=False)


# ---------------------------------------------------------------------------------------------
# Sharding


def shard(labels, n_workers: int, *, scheme: str = "iid", classes_per_worker: int = 2,
          seed: int = 0) -> list[np.ndarray]:
    """Deal the training samples out to ``n_workers`` workers.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Label of every training sample (any integers; only their order and equality matter).
    n_workers : int
        Number of workers K, in [1, n].
    scheme : {"iid", "label_skew"}, default "iid"
        ``"iid"``: a seeded random permutation cut into K parts whose sizes differ by at most
        one. ``"label_skew"`` (non-IID, McMahan et al. 2017): the samples sorted by label
        (shuffled within each label, seeded), cut into K * classes_per_worker contiguous pieces
        of near-equal size (differing by at most one), and each worker given
        ``classes_per_worker`` pieces drawn by a seeded permutation; a piece spans one label
        unless it straddles a label boundary (at most C - 1 pieces do), so most workers see
        about ``classes_per_worker`` labels when pieces are small next to classes.
    classes_per_worker : int, default 2
        Pieces per worker of ``"label_skew"`` (at least 1, and K * classes_per_worker <= n);
        ignored (but still checked to be a positive integer) by ``"iid"``.
    seed : int, default 0
        Seed, in [0, 2**32 - 1]: the same seed gives the same shards.

    Returns
    -------
    list of numpy.ndarray
        K sorted, non-empty int64 arrays of indices into ``labels`` that partition range(n):
        every sample is in exactly one shard.
    """
    try:
        labels = np.asarray(labels)
    except (TypeError, ValueError) as error:
        raise ValueError(f"labels: must be a 1-D array of integers ({error})") from None
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels: must hold integers, not {labels.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"labels: must be one-dimensional, got shape {labels.shape}")
    n = labels.shape[0]
    if n == 0:
        raise ValueError("labels: must not be empty")
    n_workers = integer("n_workers", n_workers, minimum=1)
    if n_workers > n:
        raise ValueError(f"n_workers: must be at most the number of samples ({n}), "
                         f"got {n_workers}")
    if not isinstance(scheme, str) or scheme not in SHARDING:
        raise ValueError(f"scheme: must be one of {SHARDING}, got {scheme!r}")
    classes_per_worker = integer("classes_per_worker", classes_per_worker, minimum=1)
    seed = seed_check("seed", seed)
    rng = np.random.default_rng(seed)

    if scheme == "iid":
        parts = np.array_split(rng.permutation(n), n_workers)
    else:
        n_pieces = n_workers * classes_per_worker
        if n_pieces > n:
            raise ValueError(f"classes_per_worker: n_workers * classes_per_worker = {n_pieces} "
                             f"exceeds the number of samples ({n})")
        shuffled = rng.permutation(n)
        by_label = shuffled[np.argsort(labels[shuffled], kind="stable")]
        pieces = np.array_split(by_label, n_pieces)
        order = rng.permutation(n_pieces).reshape(n_workers, classes_per_worker)
        parts = [np.concatenate([pieces[p] for p in row]) for row in order]
    return [np.sort(part).astype(np.int64, copy=False) for part in parts]
