"""``python -m paba`` runs the command line (see paba.cli)."""

import sys

from .cli import main

sys.exit(main())
