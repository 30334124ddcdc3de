"""Pure-NumPy reference twins of the native kernels, one module per C++ file:

- :mod:`.internal`: ``paba.hpp`` and ``internal.hpp`` (constants, the normalised instance, the
  worker latency, the shared parameter-aware and rounding steps);
- :mod:`.check`: the argument checks of a direct call (``check.cpp`` and the binding);
- :mod:`.allocation`: ``allocation.cpp`` (every scheme; entry points ``allocate`` and
  ``evaluate``);
- :mod:`.exact`: ``exact.cpp`` (the exact joint method);
- :mod:`.batch`: ``batch.cpp`` (``allocate_batch``).

The twins import nothing from the rest of paba (a leaf of the package, checked by
import-linter); importing this package imports none of them.
"""
