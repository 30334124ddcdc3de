"""Input checks shared by the public API: every failure is a ValueError that names the argument."""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

MAX_PARAMS = 2**53  # integers above this are not exact in float64, the kernels' arithmetic


class InfeasibleError(ValueError):
    """Raised when an instance has no feasible allocation (for example, a bandwidth split that
    leaves no group with bandwidth for all its members)."""


#: Messages of the value checks of a float array, shared with the native check of
#: :class:`paba.System` (``_core.check_workers``), which reports the same faults.
NOT_FINITE = "{}: must be finite (no NaN or infinity)"
NOT_POSITIVE = "{}: every entry must be positive"
NEGATIVE = "{}: every entry must be non-negative"


def _real_vector(name: str, value, size: int | None, what: str, boolean: bool) -> np.ndarray:
    """``value`` as an array, checked to be 1-D, of a real (or, with ``boolean``, boolean) dtype,
    of ``size``."""
    try:
        original = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: must be a 1-D array of {what} ({error})") from None
    if original.dtype.kind not in ("biuf" if boolean else "iuf"):
        raise ValueError(f"{name}: must hold {what}, not {original.dtype}")
    if original.ndim != 1:
        raise ValueError(f"{name}: must be one-dimensional, got shape {original.shape}")
    if size is not None and original.size != size:
        raise ValueError(f"{name}: must have {size} entries, got {original.size}")
    return original


def float_vector(name: str, value, *, size: int | None = None, allow_empty: bool = False,
                 boolean: bool = True) -> np.ndarray:
    """A fresh, writeable, contiguous float64 copy of a 1-D array of real numbers (boolean ones
    too, unless ``boolean`` is False), its values not yet checked."""
    array = np.array(_real_vector(name, value, size, "real numbers", boolean), dtype=np.float64,
                     copy=True, order="C")
    if array.size == 0 and not allow_empty:
        raise ValueError(f"{name}: must not be empty")
    return array


def float_array(name: str, value, *, size: int | None = None, positive: bool = False,
                nonnegative: bool = False, allow_empty: bool = False,
                boolean: bool = True) -> np.ndarray:
    """A read-only, contiguous float64 copy of a 1-D array of finite real numbers."""
    array = float_vector(name, value, size=size, allow_empty=allow_empty, boolean=boolean)
    if not np.all(np.isfinite(array)):
        raise ValueError(NOT_FINITE.format(name))
    if positive and not np.all(array > 0):
        raise ValueError(NOT_POSITIVE.format(name))
    if nonnegative and not np.all(array >= 0):
        raise ValueError(NEGATIVE.format(name))
    return readonly(array)


def int_array(name: str, value, *, size: int | None = None, boolean: bool = True) -> np.ndarray:
    """A read-only, contiguous int64 copy of a 1-D array of integers (integral floats pass;
    boolean ones too, unless ``boolean`` is False)."""
    original = _real_vector(name, value, size, "integers", boolean)
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
    if type(value) is int and 1 <= value <= maximum:  # the usual case, without the ABC checks
        return value
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
    if type(value) is float and 0.0 < value < math.inf:  # the usual case, without the ABC checks
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: must be a positive real number, got {value!r}")
    try:
        result = float(value)
    except OverflowError:  # an integer (or fraction) beyond the largest float
        raise ValueError(f"{name}: must be positive and finite, got a value beyond the float "
                         f"range") from None
    if not math.isfinite(result) or result <= 0:
        raise ValueError(f"{name}: must be positive and finite, got {value!r}")
    return result


def tolerance(name: str, value) -> float:
    result = positive_float(name, value)
    if not 1e-15 <= result <= 0.1:
        raise ValueError(f"{name}: must be in [1e-15, 0.1], got {value!r}")
    return result
