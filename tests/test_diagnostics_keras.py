"""relukit.keras.DeadUnitCallback: ground truth through fit on arrays, generators and PyDatasets;
activation= inside layers and separate activation layers; batch norm in between."""

import re

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import relukit.keras  # noqa: E402
from relukit.diagnostics import UnitStats  # noqa: E402
from relukit.diagnostics._keras import DeadUnitWarning  # noqa: E402

# Keras' torch backend converts tensors with np.array(tensor) in fit; NumPy 2 warns because
# torch's Tensor.__array__ takes no copy= keyword (as tests/test_keras.py notes). Not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 5)).astype("float32")
Y = RNG.normal(size=(96, 1)).astype("float32")


def model_with_dead_units():
    """Dense(relu) with units 0, 3 killed; Conv-like Dense → BatchNorm → relukit LeakyReLU with
    unit 2 killed (batch norm's shift); Keras' ELU layer alive."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(6, activation="relu", name="hidden"),
            keras.layers.Dense(4, name="dense2"),
            keras.layers.BatchNormalization(name="bn"),
            relukit.keras.LeakyReLU(negative_slope=0.1, name="leaky"),
            keras.layers.Dense(3, name="dense3"),
            keras.layers.ELU(name="elu"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    hidden = model.get_layer("hidden")
    hidden.bias.assign(np.where(np.isin(np.arange(6), [0, 3]), -1e3, 0.0).astype("float32"))
    bn = model.get_layer("bn")
    bn.beta.assign(np.array([0, 0, -1e3, 0], dtype="float32"))
    dense3 = model.get_layer("dense3")  # the dead leaky unit's −100 must not reach the ELU
    dense3.kernel.assign(np.where(np.arange(4)[:, None] == 2, 0.0, dense3.kernel).astype("float32"))
    model.compile(keras.optimizers.SGD(0.0), "mse")  # the ground truth must not drift
    return model


def fit(model, data, callback, **kwargs):
    with pytest.warns(DeadUnitWarning) as warned:
        history = model.fit(data, epochs=2, verbose=0, callbacks=[callback], **kwargs)
    return history, [str(w.message) for w in warned]


def check(history, callback, warned):
    logs = history.history
    assert logs["dead_fraction/hidden"] == [2 / 6, 2 / 6]
    assert logs["dead_fraction/leaky"] == [1 / 4, 1 / 4]
    assert logs["dead_fraction/elu"] == [0.0, 0.0]
    assert logs["dead_fraction/overall"] == [3 / 13, 3 / 13]
    assert "dormant_fraction/hidden" in logs
    report = callback.report
    assert report.dead_units("hidden").tolist() == [0, 3]
    assert report.dead_units("leaky").tolist() == [2]
    assert report.kinds == {"hidden": "relu", "leaky": "leaky_relu", "elu": "elu"}
    assert any("layer 'hidden' has 2 of 6 units dead" in w for w in warned)
    assert not any("'elu'" in w for w in warned)


def test_arrays():
    model = model_with_dead_units()
    callback = relukit.keras.DeadUnitCallback(X, batch_size=40)
    history, warned = fit(model, X, callback, y=Y, batch_size=32)
    check(history, callback, warned)
    assert callback.report.summary()[0].seen == 96


def test_generator_needs_steps_and_draws_them():
    def batches():
        while True:
            for i in range(0, 96, 32):
                yield X[i : i + 32], Y[i : i + 32]

    with pytest.raises(ValueError, match="pass steps="):
        relukit.keras.DeadUnitCallback(batches())
    model = model_with_dead_units()
    callback = relukit.keras.DeadUnitCallback(batches(), steps=2)
    history, warned = fit(model, batches(), callback, steps_per_epoch=3, shuffle=False)
    check(history, callback, warned)
    assert callback.report.summary()[0].seen == 64


class Dataset(keras.utils.PyDataset):
    def __len__(self):
        return 3

    def __getitem__(self, i):
        return X[32 * i : 32 * (i + 1)], Y[32 * i : 32 * (i + 1)]


def test_pydataset_and_list():
    model = model_with_dead_units()
    callback = relukit.keras.DeadUnitCallback(Dataset())
    check(*fit(model, Dataset(), callback)[:1], callback, fit(model, Dataset(), callback)[1])
    callback = relukit.keras.DeadUnitCallback([(X[:50], Y[:50]), (X[50:], Y[50:])])
    callback.set_model(model)
    assert callback.measure().summary()[0].seen == 96


def test_statistics_equal_numpy():
    model = model_with_dead_units()
    callback = relukit.keras.DeadUnitCallback(X, batch_size=17)
    callback.set_model(model)
    report = callback.measure()
    hidden = model.get_layer("hidden")
    pre = np.asarray(keras.ops.stop_gradient(keras.ops.matmul(X, hidden.kernel) + hidden.bias))
    want = UnitStats.observe(np.maximum(pre, 0), pre=pre)
    got = report.stats["hidden"]
    assert got.n == want.n
    np.testing.assert_array_equal(got.active, want.active)
    np.testing.assert_allclose(got.abs_sum, want.abs_sum, rtol=1e-5)
    assert hidden.activation is keras.activations.relu  # restored after the pass


def test_conv_with_batch_norm_before_relu_layer():
    """keras-contrib#261: batch norm between a conv and its ReLU."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.ReLU(name="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1),
        ]
    )
    model.get_layer("bn").beta.assign(np.array([0, -1e3, 0, 0], dtype="float32"))
    x = RNG.normal(size=(8, 6, 6, 2)).astype("float32")
    callback = relukit.keras.DeadUnitCallback(x, warn_above=0.5)
    callback.set_model(model)
    report = callback.measure()
    assert report.dead_units("relu").tolist() == [1]
    assert report.summary()[0].seen == 8 * 4 * 4


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"every": 0}, "every must be an int ≥ 1"),
        ({"batch_size": 2.0}, "batch_size must be an int ≥ 1"),
        ({"steps": 0}, "steps must be None or an int ≥ 1"),
        ({"tau": -1}, "tau must be a real number in [0, inf)"),
        ({"warn_above": 1.5}, "warn_above must be a real number in [0, 1]"),
    ],
)
def test_bad_arguments_are_named(kwargs, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        relukit.keras.DeadUnitCallback(X, **kwargs)


def test_every():
    model = model_with_dead_units()
    callback = relukit.keras.DeadUnitCallback(X, every=2, warn_above=1.0)
    history = model.fit(X, Y, epochs=2, verbose=0, callbacks=[callback])
    assert len(history.history["loss"]) == 2
    assert history.history["dead_fraction/hidden"] == [2 / 6]  # measured at epoch 2 only


@pytest.mark.slow  # Keras' TensorBoard callback and the event reader import tensorflow
def test_values_reach_keras_tensorboard_callback(tmp_path):
    pytest.importorskip("tensorflow")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    model = model_with_dead_units()
    callbacks = [
        relukit.keras.DeadUnitCallback(X, warn_above=1.0),  # before TensorBoard: logs first
        keras.callbacks.TensorBoard(log_dir=str(tmp_path)),
    ]
    model.fit(X, Y, epochs=2, verbose=0, callbacks=callbacks)
    events = EventAccumulator(str(tmp_path / "train"), size_guidance={"tensors": 0})
    events.Reload()
    tags = events.Tags()["tensors"]
    assert "epoch_dead_fraction/hidden" in tags, tags
    values = [
        float(tensor_util.make_ndarray(event.tensor_proto))
        for event in events.Tensors("epoch_dead_fraction/hidden")
    ]
    np.testing.assert_allclose(values, [2 / 6, 2 / 6], rtol=1e-6)
