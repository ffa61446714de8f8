"""Settings for every test and doctest (tests/ and src/relukit alike).

Keras reads KERAS_BACKEND once, at import: CI runs the Keras tests and doctests on the torch
backend; set the variable before pytest starts to choose jax or tensorflow instead.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
