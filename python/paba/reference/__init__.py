"""Pure-NumPy reference twins of the native kernels (see ``allocation``)."""

from . import allocation

__all__ = ["allocation"]
