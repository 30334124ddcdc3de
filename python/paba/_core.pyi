"""Type stub of the private binding module (src/pabacore/_core.pyx)."""

from typing import Any

import numpy as np
import numpy.typing as npt

def allocate(
    scheme: str,
    beta: npt.NDArray[np.float64],
    compute: npt.NDArray[np.float64],
    alpha: npt.NDArray[np.float64],
    tau: npt.NDArray[np.float64],
    group: npt.NDArray[np.int64],
    n_groups: int,
    params: float,
    bandwidth: float,
    loads_in: npt.NDArray[np.int64] | None = None,
    bandwidth_in: npt.NDArray[np.float64] | None = None,
    tol: float = 1e-9,
) -> dict[str, Any]: ...
def evaluate(
    beta: npt.NDArray[np.float64],
    compute: npt.NDArray[np.float64],
    alpha: npt.NDArray[np.float64],
    tau: npt.NDArray[np.float64],
    group: npt.NDArray[np.int64],
    n_groups: int,
    loads: npt.NDArray[np.float64],
    bandwidth: npt.NDArray[np.float64],
) -> tuple[float, npt.NDArray[np.float64]]: ...
