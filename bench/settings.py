"""The sizes, tolerances and table columns of bench/compare.py, shared by its measurements
(compare.py), its child processes (children.py) and its report (report.py)."""

from __future__ import annotations

from peers import CVXPY_BISECTION_RTOL

FULL_SIZES = (10, 100, 1000, 10**4, 10**5, 10**6)
QUICK_SIZES = (10, 100, 1000)
GENERAL_SIZES = (1000, 10**5)
QUICK_GENERAL_SIZES = (100,)
HEADLINE_K = 1000       # the end-to-end comparison with numpy_basic_joint
FLOOR_K = 10**6         # the end-to-end comparison with the floor
LIMIT_S = 60.0          # skip a solve estimated to take longer (reference, cvxpy)
CVXPY_TRY_S = 180.0     # cvxpy is still tried (with a LIMIT_S timeout) up to this estimate

CVXPY_RTOL = 1e-4       # cvxpy's basic T* at most this below the exact method's
# and at most this above it: Clarabel's accuracy, which falls with size (1.6e-4 at 10^6 workers)
CVXPY_BASIC_ABOVE = 1e-3
EXACT_RTOL = 1e-9       # exact against bisection, relaxed latency
BISECTION_RTOL = 1e-8   # native against reference bisection: 10 tol (paba.testing)
CHECK_TOL = 1e-12       # tol of the bisection every general answer is checked against
GENERAL_RTOL = 1e-8     # paba's general solve against it: 10 times the default tol 1e-9
NUMPY_GENERAL_RTOL = 1e-6  # numpy_general_joint against it (it agrees to about 1e-12)
# cvxpy's general latency: its bisection stops at most CVXPY_BISECTION_RTOL above the convex
# relaxation's optimum (plus Clarabel's accuracy), and that relaxation is a lower bound.
CVXPY_GENERAL_ABOVE = 2 * CVXPY_BISECTION_RTOL
CVXPY_GENERAL_BELOW = 1e-3

BASIC_COLUMNS = ("exact", "bisection", "cvxpy")
BASIC_HEADERS = {"exact": "native exact", "bisection": "native bisection",
                 "cvxpy": "cvxpy + Clarabel"}
E2E_COLUMNS = ("end to end", "System", "allocate", "numpy", "floor")
E2E_HEADERS = {"end to end": "paba end to end", "System": "System(...) alone",
               "allocate": "allocate on the prebuilt System", "numpy": "numpy_basic_joint",
               "floor": "NumPy floor"}
REFERENCE_COLUMNS = ("reference exact", "reference bisection")
GENERAL_CASES = (("singletons", False), ("groups of 1-10", True))
