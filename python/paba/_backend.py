"""Backend selection: the native kernels (default) or their NumPy reference twin."""

from __future__ import annotations

import os

BACKENDS = ("native", "reference")


def resolve(backend: str | None) -> str:
    """The backend to use: the argument, else the PABA_BACKEND environment variable, else native."""
    name = backend if backend is not None else os.environ.get("PABA_BACKEND", "native")
    if name not in BACKENDS:
        source = "backend" if backend is not None else "PABA_BACKEND"
        raise ValueError(f"{source}: must be one of {BACKENDS}, got {name!r}")
    return name


def module(name: str):
    """The module implementing ``allocate`` and ``evaluate`` for a backend name."""
    if name == "native":
        from . import _core
        return _core
    from .reference import allocation
    return allocation
