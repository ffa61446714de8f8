"""Hypothesis settings for the test suite (KERAS_BACKEND is set by the root conftest.py)."""

from hypothesis import settings

settings.register_profile("relukit", deadline=None, max_examples=200, derandomize=True)
settings.load_profile("relukit")
