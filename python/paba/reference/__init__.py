"""Pure-NumPy reference twins of the native kernels, one module per C++ file:

- :mod:`.internal`: ``paba.hpp`` and ``internal.hpp`` (constants, the normalised instance, the
  worker latency, the shared parameter-aware and rounding steps);
- :mod:`.check`: the argument checks of a direct call (``check.cpp`` and the binding);
- :mod:`.allocation`: ``allocation.cpp`` (the dispatch of every scheme; entry points
  ``allocate`` and ``evaluate``);
- :mod:`.simple`: ``simple.cpp`` (the two-step building blocks);
- :mod:`.price_search`: ``price_search.cpp`` (the joint scheme at a fixed latency);
- :mod:`.bisection`: ``bisection.cpp`` (the nested bisection);
- :mod:`.newton`: ``newton.cpp`` (Newton steps on the latency, the certificate);
- :mod:`.screen`: ``screen.cpp`` (the Newton method on candidate groups);
- :mod:`.exact`: ``exact.cpp`` (the exact joint method);
- :mod:`.batch`: ``batch.cpp`` (``allocate_batch``).

The twins import nothing from the rest of paba (a leaf of the package, checked by
import-linter); importing this package imports none of them.
"""
