"""``python -m collapse_theory`` runs the command-line interface."""

import sys

from .cli.shell import main

sys.exit(main())
