"""``python -m paba.distributed [paba train options]``: one process of distributed training,
started by torchrun (``torchrun --standalone --nproc-per-node P -m paba.distributed ...``) or by
``paba train --processes P``. Rank 0 is the server, the other ranks are worker processes."""

import sys

from ._main import main

if __name__ == "__main__":
    sys.exit(main())
