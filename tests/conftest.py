"""Test-suite settings shared by every test module.

Keras reads KERAS_BACKEND once, at import: CI runs the Keras tests on the torch backend, and a
caller may choose jax or tensorflow by setting the variable before pytest starts.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

from hypothesis import settings

settings.register_profile("relukit", deadline=None, max_examples=200, derandomize=True)
settings.load_profile("relukit")
