"""``python -m relukit``: the same as the ``relukit`` console script."""

import sys

from relukit.cli import main

if __name__ == "__main__":  # also imported by pytest's doctest collection, which must not run it
    sys.exit(main())
