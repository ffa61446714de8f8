"""``python -m relukit``: the same as the ``relukit`` console script."""

import sys

from relukit.cli import main

sys.exit(main())
