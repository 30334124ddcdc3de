# Names and status codes of paba._core (included by _core.pyx): each list and code written once,
# beside its C++ enum in paba.hpp, and read from here by the Python layers.

_SCHEMES = {
    "equal": Scheme.equal,
    "bandwidth_aware": Scheme.bandwidth_aware,
    "parameter_aware": Scheme.parameter_aware,
    "sequential": Scheme.sequential,
    "joint": Scheme.joint,
}

_METHODS = {
    "auto": Method.automatic,
    "exact": Method.exact,
    "bisection": Method.bisection,
    "newton": Method.newton,
}
#: The names the binding takes, in the order of paba.hpp's enums: the Python layers read them
#: here (paba.SCHEMES, paba.METHODS), so each list is written once beside its C++ enum.
SCHEMES = tuple(_SCHEMES)
METHODS = tuple(_METHODS)
#: The method each result reports, by the code of paba.hpp's Method (automatic is never one).
METHOD_NAMES = (None, *METHODS[1:])

#: A result's status (paba.hpp's Status).
STATUS_OK = <int>Status.status_ok
STATUS_NOT_CONVERGED = <int>Status.status_not_converged
STATUS_INFEASIBLE = <int>Status.status_infeasible


# The faults and inputs of check_workers, named once beside their C++ enums (paba.hpp).
WORKER_FAULTS = {
    <int>WorkerFault.not_finite: "not_finite",
    <int>WorkerFault.not_positive: "not_positive",
    <int>WorkerFault.negative: "negative",
    <int>WorkerFault.out_of_range: "out_of_range",
}
WORKER_INPUTS = {
    <int>WorkerInput.beta: "beta",
    <int>WorkerInput.compute: "compute",
    <int>WorkerInput.alpha: "alpha",
    <int>WorkerInput.tau: "tau",
}

#: Joint's integer loads against the two-step schemes' (general.hpp; paba.round_to_granules does
#: the same in whole units): on at most COARSE_GROUPS groups, a scheme's answer replaces joint's
#: where it is faster by more than CANDIDATE_MARGIN, relative.
COARSE_GROUPS = <Py_ssize_t>kCoarseGroups
CANDIDATE_MARGIN = kCandidateMargin
