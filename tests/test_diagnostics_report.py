"""Report: the table, JSON, plots, and TensorBoard's SummaryWriter read back from its event file."""

import json
import math
import re

import numpy as np
import pytest

from relukit.diagnostics import Report, UnitStats


def example_report(gradients=True):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 8))
    x[:, [0, 5]] -= 100.0  # dead
    x[:, 3] *= 1e-3  # dormant
    g = rng.normal(size=x.shape) if gradients else None
    conv = rng.normal(size=(4, 3, 5, 5))
    return Report(
        {
            "fc1": UnitStats.observe(np.maximum(x, 0), pre=x, grad=g),
            "block.act": UnitStats.observe(np.maximum(conv, 0), pre=conv, unit_axis=1),
        },
        {"fc1": "relu", "block.act": "relu"},
        tau=0.1,
    )


def test_table():
    text = str(example_report())
    lines = text.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "layer", "kind", "units", "seen", "dead", "dormant(τ=0.1)", "sparsity", "grad-dormant"
    ]  # fmt: skip
    assert lines[1].split()[:6] == ["fc1", "relu", "8", "50", "2", "(25.0%)"]
    assert lines[2].split()[:5] == ["block.act", "relu", "3", "100", "0"]
    assert lines[3].split()[:4] == ["overall", "11", "2", "(18.2%)"]
    assert "grad-dormant" not in str(example_report(gradients=False))


def test_to_dict_is_json_and_complete():
    report = example_report()
    data = json.loads(json.dumps(report.to_dict()))
    fc1 = data["layers"]["fc1"]
    assert fc1["dead"] == [0, 5] and fc1["dormant"] == [0, 3, 5]
    assert fc1["units"] == 8 and fc1["seen"] == 50 and len(fc1["score"]) == 8
    assert math.isclose(fc1["dead_fraction"], 0.25)
    assert data["layers"]["block.act"]["grad_score"] is None
    assert data["overall"]["dead"] == 2 and data["tau"] == 0.1
    assert report.dormant_units("fc1", tau=0.0).tolist() == [0, 5]


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_plot(tmp_path, suffix):
    path = tmp_path / f"scores.{suffix}"
    example_report().plot(path)
    head = path.read_bytes()[:100]
    assert head.startswith(b"\x89PNG") if suffix == "png" else b"<svg" in path.read_bytes()[:2000]
    with pytest.raises(ValueError, match=r"path must end in \.png or \.svg"):
        example_report().plot(tmp_path / "scores.pdf")


@pytest.mark.slow  # importing the writer and the event reader loads tensorflow: ~5 s
def test_log_to_tensorboard_summary_writer(tmp_path):
    pytest.importorskip("tensorboard")
    pytest.importorskip("torch")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    report = example_report()
    with SummaryWriter(str(tmp_path)) as writer:
        report.log(writer, 3)
        report.log(writer, 4, prefix="later")
    events = EventAccumulator(str(tmp_path), size_guidance={"histograms": 0, "scalars": 0})
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert "relukit/dead_fraction/fc1" in scalars and "later/sparsity/overall" in scalars
    (point,) = events.Scalars("relukit/dead_fraction/fc1")
    assert point.step == 3 and math.isclose(point.value, 0.25, rel_tol=1e-6)
    (point,) = events.Scalars("relukit/dormant_fraction/fc1")
    assert math.isclose(point.value, 3 / 8, rel_tol=1e-6)
    (hist,) = events.Histograms("relukit/score/fc1")
    assert hist.step == 3 and hist.histogram_value.num == 8
    np.testing.assert_allclose(hist.histogram_value.sum, report.stats["fc1"].score.sum(), rtol=1e-5)
    assert "relukit/grad_score/fc1" in events.Tags()["histograms"]
    assert "relukit/grad_score/block.act" not in events.Tags()["histograms"]


def test_log_needs_a_writer():
    with pytest.raises(TypeError, match="writer must have add_scalar and add_histogram"):
        example_report().log(object(), 0)
