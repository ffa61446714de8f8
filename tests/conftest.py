"""Hypothesis settings for the test suite (KERAS_BACKEND is set by the root conftest.py)."""

import pytest
from hypothesis import settings

settings.register_profile("relukit", deadline=None, max_examples=200, derandomize=True)
settings.load_profile("relukit")


@pytest.hookimpl(trylast=True)  # after -m/-k deselection
def pytest_collection_modifyitems(config, items):
    """Start the Keras-backend subprocesses (tests/test_keras_backends.py) now, if selected, and
    move the tests that wait for them to the end, so they run beside the rest of the suite."""
    waiting = [
        item
        for item in items
        if getattr(item, "originalname", None) == "test_keras_tests_pass_on_backend"
    ]
    if config.option.collectonly:
        return
    for item in waiting:
        item.module.start(item.callspec.params["backend"])
    items[:] = [item for item in items if item not in waiting] + waiting
