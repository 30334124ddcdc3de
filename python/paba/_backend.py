"""Backend selection: the native kernels (default) or their NumPy reference twin."""

from __future__ import annotations

from types import SimpleNamespace

from ._core import environment as _environment  # getenv: a fraction of os.environ.get's time

BACKENDS = ("native", "reference")


def resolve(backend: str | None) -> str:
    """The backend to use: the argument, else the PABA_BACKEND environment variable, else native."""
    if backend is None:
        backend_variable = _environment("PABA_BACKEND")
        name = "native" if backend_variable is None else backend_variable
    else:
        name = backend
    if not isinstance(name, str):  # an array would compare element by element below
        raise ValueError(f"backend: must be one of {BACKENDS}, got {type(name).__name__}")
    if name == "native":
        return name
    if name not in BACKENDS:
        source = "backend" if backend is not None else "PABA_BACKEND"
        raise ValueError(f"{source}: must be one of {BACKENDS}, got {name!r}")
    return name


_MODULES: dict = {}


def module(name: str):
    """The module implementing ``allocate``, ``allocate_batch`` and ``evaluate`` for a backend
    name (imported once)."""
    found = _MODULES.get(name)
    if found is None:
        if name == "native":
            from ._core import allocate, allocate_batch, evaluate
            found = SimpleNamespace(allocate=allocate, evaluate=evaluate,
                                    allocate_batch=allocate_batch)
        else:
            from .reference import allocation, batch
            found = SimpleNamespace(allocate=allocation.allocate, evaluate=allocation.evaluate,
                                    allocate_batch=batch.allocate_batch)
        _MODULES[name] = found
    return found
