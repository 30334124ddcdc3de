"""paba: joint parameter-and-bandwidth allocation for partitioned edge learning.

>>> import paba
>>> system = paba.System(beta=[8.0, 16.0], compute=[2e-6, 1e-6], params=10**6,
...                      bandwidth=1e7)
>>> allocation = paba.allocate(system, "joint")
>>> int(allocation.loads.sum())
1000000
"""

from ._allocation import METHODS, SCHEMES, Allocation, Latency, allocate, evaluate
from ._batch import BatchAllocation, allocate_batch
from ._granules import Granules, round_to_granules
from ._records import History, IterationRecord
from ._scenario import Scenario, static_cell
from ._scheduler import Scheduler, SchedulerRun
from ._sweep import Sweep
from ._system import System
from ._validation import InfeasibleError

__version__ = "0.1.0"

__all__ = ["METHODS", "SCHEMES", "Allocation", "BatchAllocation", "Granules", "History",
           "InfeasibleError", "IterationRecord", "Latency", "Scenario", "Scheduler",
           "SchedulerRun", "Sweep", "System", "allocate", "allocate_batch", "evaluate",
           "round_to_granules", "static_cell", "__version__"]

