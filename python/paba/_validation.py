"""Input checks shared by the public API: every failure is a ValueError that names the argument."""

from __future__ import annotations

import numbers
import operator

import numpy as np

MAX_PARAMS = 2**53  # integers above this are not exact in float64, the kernels' arithmetic


class InfeasibleError(ValueError):
    """Raised when an instance has no feasible allocation (for example, a bandwidth split that
    leaves no group with bandwidth for all its members)."""


def _real_vector(name: str, value, size: int | None, what: str) -> np.ndarray:
    """``value`` as an array, checked to be 1-D, of a real (or boolean) dtype, of ``size``."""
    try:
        original = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: must be a 1-D array of {what} ({error})") from None
    if original.dtype.kind not in "biuf":
        raise ValueError(f"{name}: must hold {what}, not {original.dtype}")
    if original.ndim != 1:
        raise ValueError(f"{name}: must be one-dimensional, got shape {original.shape}")
    if size is not None and original.size != size:
        raise ValueError(f"{name}: must have {size} entries, got {original.size}")
    return original


def float_array(name: str, value, *, size: int | None = None, positive: bool = False,
                nonnegative: bool = False, allow_empty: bool = False) -> np.ndarray:
    """A read-only, contiguous float64 copy of a 1-D array of finite real numbers."""
    array = np.array(_real_vector(name, value, size, "real numbers"), dtype=np.float64,
                     copy=True, order="C")
    if array.size == 0 and not allow_empty:
        raise ValueError(f"{name}: must not be empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: must be finite (no NaN or infinity)")
    if positive and not np.all(array > 0):
        raise ValueError(f"{name}: every entry must be positive")
    if nonnegative and not np.all(array >= 0):
        raise ValueError(f"{name}: every entry must be non-negative")
    return readonly(array)


def int_array(name: str, value, *, size: int | None = None) -> np.ndarray:
    """A read-only, contiguous int64 copy of a 1-D array of integers (integral floats pass)."""
    original = _real_vector(name, value, size, "integers")
    if original.dtype.kind == "f":
        values = original.astype(np.float64)
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise ValueError(f"{name}: entries must be whole numbers")
        if values.size and np.max(np.abs(values)) > MAX_PARAMS:
            raise ValueError(f"{name}: entries must be at most 2**53 in magnitude")
    if original.dtype.kind == "u" and original.size and original.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name}: entries out of the int64 range")
    return readonly(np.array(original, dtype=np.int64, copy=True, order="C"))


def readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view of an array that nobody else holds: since its base is read-only too, the
    view cannot be made writeable again (``flags.writeable = True`` raises)."""
    array.flags.writeable = False
    view = array.view()
    view.flags.writeable = False
    return view


def positive_integer(name: str, value, *, maximum: int = MAX_PARAMS) -> int:
    """A Python int in [1, maximum]; integral floats are accepted, booleans are not."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: must be an integer, not a boolean")
    if isinstance(value, numbers.Integral):
        result = operator.index(value)
    elif isinstance(value, numbers.Real) and float(value).is_integer():
        result = int(value)
    else:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    if not 1 <= result <= maximum:
        raise ValueError(f"{name}: must be in [1, {maximum}], got {result}")
    return result


def integer(name: str, value, *, minimum: int, maximum: int | None = None) -> int:
    """``value`` as a Python int in [minimum, maximum]; booleans and floats are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: must be an integer, got {value!r}")
    result = int(value)
    if result < minimum:
        raise ValueError(f"{name}: must be at least {minimum}, got {result}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{name}: must be at most {maximum}, got {result}")
    return result


def positive_float(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: must be a positive real number, got {value!r}")
    result = float(value)
    if not np.isfinite(result) or result <= 0:
        raise ValueError(f"{name}: must be positive and finite, got {value!r}")
    return result


def tolerance(name: str, value) -> float:
    result = positive_float(name, value)
    if not 1e-15 <= result <= 0.1:
        raise ValueError(f"{name}: must be in [1e-15, 0.1], got {value!r}")
    return result
