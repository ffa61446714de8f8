"""Keras' own layer tests (``keras.src.testing.TestCase.run_layer_test``) for every relukit.keras
layer, generated from the catalog: config/serialization round trip, Keras' build protocol
(stateless layers built at construction unless ``build`` is overridden), symbolic and eager
calls, a compiled training step, masking, and (where the backend supports it) mixed precision.

relukit's documented differences from Keras' layers are passed explicitly: PReLU has one
trainable weight (one slope per channel, so it is not built at construction); ReLU is also
tested with Keras' ``max_value``/``negative_slope``/``threshold`` and GELU with Keras'
``approximate=True``.
"""

from __future__ import annotations

import keras
import pytest
from keras.src.testing import TestCase

import relukit
import relukit.keras as rk

# Warnings of Keras' own test harness, not of the layers: keras.ops.convert_to_numpy on torch
# passes copy=False, which NumPy 2 warns about; its training step fits a generator with
# shuffle=True, and warns that a stateless layer's model has no trainable weights.
pytestmark = [
    pytest.mark.filterwarnings("ignore:The model does not have any trainable weights:UserWarning"),
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
    pytest.mark.filterwarnings("ignore:`shuffle=True` was passed:UserWarning"),
]

ENTRIES = list(relukit.catalog)
# Keras' arguments beyond the catalog defaults, per entry (each run as well as the defaults).
EXTRA_KWARGS = {
    "relu": [{"max_value": 6.0, "negative_slope": 0.1, "threshold": 0.5}],
    "gelu": [{"approximate": True}, {"approximate": "tanh"}],
    "leaky_relu": [{"negative_slope": 0.3}],
    "elu": [{"alpha": 0.5}],
    "prelu": [{"shared_axes": [1], "alpha_initializer": "zeros"}],
}
RUNS = [(a, {}) for a in ENTRIES] + [(a, k) for a in ENTRIES for k in EXTRA_KWARGS.get(a.name, [])]


class _Case(TestCase):
    def runTest(self):  # unittest needs one; the layer tests are called directly
        pass


@pytest.mark.parametrize(
    ("activation", "kwargs"),
    RUNS,
    ids=[f"{a.name}-{','.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for a, kw in RUNS],
)
def test_keras_layer_test_passes(activation, kwargs):
    weighted = any(p.kind == "weight" for p in activation.params)
    case = _Case()
    case.setUp()
    try:
        case.run_layer_test(
            rk.layer(activation),
            init_kwargs=kwargs,
            input_shape=(2, 3, 4),
            expected_output_shape=(2, 3, 4),
            expected_num_trainable_weights=1 if weighted else 0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
            assert_built_after_instantiation=not weighted,
        )
    finally:
        case.tearDown()
        keras.backend.clear_session()
