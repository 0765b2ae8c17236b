"""``python -m trainguard.cli``."""

import sys

from trainguard.cli.app import main

sys.exit(main())
