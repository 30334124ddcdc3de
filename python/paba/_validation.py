"""Input checks shared by the public API: every failure is a ValueError that names the argument."""

from __future__ import annotations

import math
import numbers
import operator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable, Iterable
    from pathlib import Path

MAX_PARAMS = 2**53  # integers above this are not exact in float64, the kernels' arithmetic
MAX_SEED = 2**32 - 1  # scikit-learn's random_state takes 32-bit seeds
MAX_THREADS = 1024  # threads of the native pool


class InfeasibleError(ValueError):
    """Raised when an instance has no feasible allocation (for example, a bandwidth split that
    leaves no group with bandwidth for all its members)."""


#: Messages of the value checks of a float array, shared with the native check of
#: :class:`paba.System` (``_core.check_workers``), which reports the same faults.
NOT_FINITE = "{}: must be finite (no NaN or infinity)"
NOT_POSITIVE = "{}: every entry must be positive"
NEGATIVE = "{}: every entry must be non-negative"


def real_array(name: str, value: Any, expected: str, what: str = "real numbers",
               kinds: str = "iuf") -> np.ndarray:
    """``value`` as an array (no copy where none is needed) whose dtype kind is in ``kinds``;
    the messages say it must be ``expected`` (when it cannot be an array) and hold ``what``."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: must be {expected} ({error})") from None
    if array.dtype.kind not in kinds:
        raise ValueError(f"{name}: must hold {what}, not {array.dtype}")
    return array


def _real_vector(name: str, value: Any, size: int | None, what: str, boolean: bool) -> np.ndarray:
    """``value`` as an array, checked to be 1-D, of a real (or, with ``boolean``, boolean) dtype,
    of ``size``."""
    original = real_array(name, value, f"a 1-D array of {what}", what,
                          "biuf" if boolean else "iuf")
    if original.ndim != 1:
        raise ValueError(f"{name}: must be one-dimensional, got shape {original.shape}")
    if size is not None and original.size != size:
        raise ValueError(f"{name}: must have {size} entries, got {original.size}")
    return original


def float_vector(name: str, value: Any, *, size: int | None = None, allow_empty: bool = False,
                 boolean: bool = True) -> np.ndarray:
    """A fresh, writeable, contiguous float64 copy of a 1-D array of real numbers (boolean ones
    too, unless ``boolean`` is False), its values not yet checked."""
    array = np.array(_real_vector(name, value, size, "real numbers", boolean), dtype=np.float64,
                     copy=True, order="C")
    if array.size == 0 and not allow_empty:
        raise ValueError(f"{name}: must not be empty")
    return array


def float_array(name: str, value: Any, *, size: int | None = None, positive: bool = False,
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


def int_array(name: str, value: Any, *, size: int | None = None,
              boolean: bool = True) -> np.ndarray:
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
    view: np.ndarray = array.view()
    view.flags.writeable = False
    return view


def positive_integer(name: str, value: Any, *, maximum: int = MAX_PARAMS) -> int:
    """A Python int in [1, maximum]; integral floats are accepted, booleans are not."""
    if type(value) is int and 1 <= value <= maximum:  # the usual case, without the ABC checks
        return value
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: must be an integer, not a boolean")
    if isinstance(value, numbers.Integral):
        result = operator.index(value)
    elif isinstance(value, numbers.Real) and float(value).is_integer():
        result = int(float(value))
    else:
        raise ValueError(f"{name}: must be a positive integer, got {describe(value)}")
    if not 1 <= result <= maximum:
        raise ValueError(f"{name}: must be in [1, {maximum}], got {result}")
    return result


def integer(name: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    """``value`` as a Python int in [minimum, maximum]; booleans and floats are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: must be an integer, got {describe(value)}")
    result = int(value)
    if result < minimum:
        raise ValueError(f"{name}: must be at least {minimum}, got {describe(result)}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{name}: must be at most {maximum}, got {describe(result)}")
    return result


def positive_float(name: str, value: Any) -> float:
    if type(value) is float and 0.0 < value < math.inf:  # the usual case, without the ABC checks
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: must be a positive real number, got {describe(value)}")
    try:
        result = float(value)
    except OverflowError:  # an integer (or fraction) beyond the largest float
        raise ValueError(f"{name}: must be positive and finite, got a value beyond the float "
                         f"range") from None
    if not math.isfinite(result) or result <= 0:
        raise ValueError(f"{name}: must be positive and finite, got {describe(value)}")
    return result


def tolerance(name: str, value: Any) -> float:
    result = positive_float(name, value)
    if not 1e-15 <= result <= 0.1:
        raise ValueError(f"{name}: must be in [1e-15, 0.1], got {describe(value)}")
    return result


def describe(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages: never fails, even for an
    integer too long for ``str`` or an object whose ``repr`` raises."""
    try:
        if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) \
                and abs(int(value)).bit_length() > 4 * limit:
            return f"an integer of about {int(abs(int(value)).bit_length() * 0.30103)} digits"
        text = repr(value)
    except Exception:  # noqa: BLE001 - a message must not fail on a hostile object
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def real_number(name: str, value: Any) -> float:
    """``value`` as a Python float: a real number (not a boolean) within float64's range (NaN and
    infinity pass through, for the caller's own bounds); an integer too large for float64 is a
    ValueError, not an OverflowError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: must be a real number, got {describe(value)}")
    try:
        return float(value)
    except (OverflowError, ValueError, TypeError):
        raise ValueError(f"{name}: {describe(value)} is too large for float64") from None


def integer_in(name: str, value: Any, *, minimum: int, maximum: int) -> int:
    """``value`` as a Python int in [minimum, maximum]; booleans and floats are refused, and an
    integer of any size gets a short message."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: must be an integer, got {describe(value)}")
    result = operator.index(value)
    if not minimum <= result <= maximum:
        raise ValueError(f"{name}: must be in [{minimum}, {maximum}], got {describe(result)}")
    return result


def boolean(name: str, value: Any) -> bool:
    """``value`` when it is a bool (Python's or NumPy's); anything else, ``"no"`` or 0 included, is
    refused, since its truth value is not what its writer meant."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: must be True or False, got {describe(value)}")
    return bool(value)


def callback(name: str, value: Any) -> Any:
    """``value`` when it is None or callable."""
    if value is not None and not callable(value):
        raise ValueError(f"{name}: must be callable or None, got {describe(value)}")
    return value


def output_directory(name: str, path: Any, files: Iterable[str] = ()) -> Path:
    """Create the directory ``path`` (with its parents) where needed and check, before any work is
    done, that files can be written in it and that none of ``files`` (names inside it) is a
    directory. Returns it as a :class:`pathlib.Path`; any failure is a ValueError naming
    ``name``."""
    import os
    import tempfile
    from pathlib import Path

    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"{name}: must be a directory path, got {describe(path)}")
    directory = Path(path)
    shown = os.fspath(path)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{name}: {shown!r} exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"{name}: cannot create the directory {shown!r}: "
                         f"{error.strerror or error}") from None
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise ValueError(f"{name}: cannot write in the directory {shown!r}: "
                         f"{error.strerror or error}") from None
    for file in files:
        target = directory / file
        if target.is_dir():
            raise ValueError(f"{name}: {os.fspath(target)!r} is a directory; it is where the "
                             f"file {file} is written")
    return directory


def choice(name: str, value: Any, options: Any) -> str:
    """``value`` when it is one of the strings ``options`` (an array or any other object is refused
    without being compared element by element)."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}: must be one of {tuple(options)}, got {describe(value)}")
    return value


def count(name: str, value: Any, maximum: int = MAX_PARAMS) -> int:
    """A positive integer up to ``maximum`` as a Python int; integral floats pass, booleans do
    not, and a number of any size gets a short message (the safe twin of positive_integer)."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_,
                                                                  numbers.Integral)):
        number = real_number(name, value)
        if not number.is_integer():
            raise ValueError(f"{name}: must be a positive integer, got {describe(value)}")
        value = int(number)
    return integer_in(name, value, minimum=1, maximum=maximum)


def plain_differences(there: Any, here: Any, prefix: str = "", limit: int = 5) -> list[str]:
    """Where two structures of plain data (dicts, lists, tuples, str, int, float, bool, None)
    differ, as ``"key: X there, Y here"`` lines (at most ``limit``). Types must match exactly,
    so that a hostile value (a tensor, an array) is a difference, never an element-wise
    comparison."""
    out: list[str] = []

    def walk(a: Any, b: Any, key: str) -> None:
        if len(out) >= limit:
            return
        if type(a) is not type(b):
            out.append(f"{key or 'value'}: {describe(a, 40)} there, {describe(b, 40)} here")
        elif isinstance(b, dict):
            for name in list(dict.fromkeys([*a, *b])):
                if not isinstance(name, str):
                    out.append(f"{key or 'value'}: a key {describe(name, 20)} that is not a name")
                elif name not in a or name not in b:
                    side = "here only" if name not in a else "there only"
                    out.append(f"{key + '.' if key else ''}{name}: {side}")
                else:
                    walk(a[name], b[name], f"{key}.{name}" if key else name)
                if len(out) >= limit:
                    return
        elif isinstance(b, (list, tuple)):
            if len(a) != len(b):
                out.append(f"{key or 'value'}: {len(a)} entries there, {len(b)} here")
                return
            for index, (x, y) in enumerate(zip(a, b, strict=True)):
                before = len(out)
                walk(x, y, f"{key}[{index}]")
                if len(out) > before:
                    return  # one line per list is enough
        elif b is None or isinstance(b, (str, int, float, bool)):
            if a != b:
                out.append(f"{key or 'value'}: {describe(a, 40)} there, {describe(b, 40)} here")
        else:
            out.append(f"{key or 'value'}: holds {type(b).__name__}, not plain data")

    walk(there, here, prefix)
    return out


def exactly(value: Any, expected: Any) -> bool:
    """``value == expected`` for a plain ``expected`` (str, int, ...), never comparing an array
    element by element: the types must match first."""
    return type(value) is type(expected) and value == expected


def real(name: str, value: Any, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number (not a boolean) as a Python float, within the bounds given: ``low``
    and ``high`` included unless ``low_open`` / ``high_open``."""
    result = real_number(name, value)
    if not math.isfinite(result):
        raise ValueError(f"{name}: must be finite, got {describe(value)}")
    below = low is not None and (result <= low if low_open else result < low)
    above = high is not None and (result >= high if high_open else result > high)
    if below or above:
        if low is not None and high is not None:
            bounds = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            raise ValueError(f"{name}: must be in {bounds}, got {describe(value)}")
        if below and low == 0:
            relation = "positive" if low_open else "non-negative"
        elif below:
            relation = f"{'above' if low_open else 'at least'} {low:g}"
        else:
            relation = f"{'below' if high_open else 'at most'} {high:g}"
        raise ValueError(f"{name}: must be {relation}, got {describe(value)}")
    return result


def fraction(name: str, value: Any) -> float:
    """A real number strictly between 0 and 1."""
    return real(name, value, low=0.0, high=1.0, low_open=True, high_open=True)


def seed(name: str, value: Any, maximum: int | None = MAX_SEED) -> int:
    """A seed: an integer in [0, maximum] (2**32 - 1 unless said; None: any non-negative integer,
    as ``numpy.random.SeedSequence`` takes)."""
    return integer(name, value, minimum=0, maximum=maximum)


def n_threads(name: str, value: Any) -> int:
    """A number of native threads: an integer in [1, 1024]."""
    return integer_in(name, value, minimum=1, maximum=MAX_THREADS)


def option(parse: Callable[[str], Any], check: Callable[..., Any],
           **bounds: Any) -> Callable[[str], Any]:
    """An argparse ``type`` made of a validator of this module: the text is ``parse``d (``int`` or
    ``float``) and checked with ``check(name, value, **bounds)``; a failure is argparse's error,
    which names the option, with the check's message."""
    import argparse

    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'an integer' if parse is int else 'a number'}, got {text!r}") from None
        try:
            return check("value", value, **bounds)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error).removeprefix("value: ")) from None

    convert.__name__ = f"{check.__name__.replace('_', ' ')}"  # argparse's "invalid X value"
    return convert


def group_ids(groups: Any, K: int) -> tuple[np.ndarray | None, int]:
    """Group ids of K workers checked (``groups``: ids 0..N-1, every group non-empty) as int64,
    and the number of groups N; (None, K) for one worker per group."""
    if groups is None:
        return None, K
    groups = int_array("groups", groups, size=K, boolean=False)
    if groups.min() < 0 or groups.max() >= K:
        raise ValueError(f"groups: ids must be in 0..K-1 (K = {K} workers)")
    n_groups = int(groups.max()) + 1
    counts = np.bincount(groups, minlength=n_groups)
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0)[:5].tolist()
        raise ValueError(f"groups: ids must be 0..N-1 with every group non-empty; "
                         f"no worker in {missing}")
    return groups, n_groups


def per_instance(name: str, values: Any, M: int, *, integral: bool) -> np.ndarray:
    """One positive finite number per instance of a batch of M (a scalar is broadcast), as
    contiguous float64; with ``integral``, integers in [1, 2**53]."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: must be a number or one number per instance ({error})") \
            from None
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer)
                                   or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"{name}: must be a number or one number per instance")
    array = np.broadcast_to(array.astype(np.float64), (M,)) if array.ndim == 0 else array
    if array.shape != (M,):
        raise ValueError(f"{name}: must be a number or have shape ({M},), got {array.shape}")
    array = np.ascontiguousarray(array, dtype=np.float64)
    if not np.all(np.isfinite(array) & (array > 0)):
        raise ValueError(f"{name}: entries must be positive and finite")
    if integral and not np.all((array == np.floor(array)) & (array <= MAX_PARAMS)):
        raise ValueError(f"{name}: entries must be integers in [1, 2**53]")
    return array
