"""relukit.torch where a model leaves the notebook: fx, jit.trace, jit.script, torch.export, ONNX.

Every path is exercised on a small model per catalog activation; what each path gives (relukit's
exact kernels or plain ATen ops) is stated in the README's "Export" section.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import relukit  # noqa: E402
import relukit.torch as rt  # noqa: E402
from relukit import init  # noqa: E402
from relukit.torch import functional as F  # noqa: E402

ENTRIES = list(relukit.catalog)
# torch 2.13 deprecates TorchScript (trace, script, save, load) in favour of torch.export; the
# paths still ship and users still take them, so they are tested with the warning allowed.
torchscript = pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:DeprecationWarning")
IDS = [a.name for a in ENTRIES]


# The entries with save="output" (the output alone saved for backward), exported with it too.
SAVING = [a for a in ENTRIES if a.offers_output_save]


def _module(activation, **options):
    cls = getattr(rt, activation.class_name)
    return cls(num_parameters=4) if cls._weights else cls(**options)


def _model(activation, **options):
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 4), _module(activation, **options), torch.nn.Linear(4, 2)
    ).eval()


def _x():
    return torch.linspace(-6, 6, 24).reshape(6, 4)


@pytest.mark.parametrize("activation", ENTRIES, ids=IDS)
def test_fx_traces_modules_and_functions_and_init_pairs_them(activation):
    model = _model(activation)
    traced = torch.fx.symbolic_trace(model)
    calls = [n.target for n in traced.graph.nodes if n.op == "call_function"]
    assert getattr(F, activation.name) in calls
    torch.testing.assert_close(traced(_x()), model(_x()))

    class Functional(torch.nn.Module):  # not a Sequential: init_model_ pairs through fx
        def __init__(self):
            super().__init__()
            self.a, self.act, self.b = (
                torch.nn.Linear(4, 4),
                _module(activation),
                torch.nn.Linear(4, 1),
            )

        def forward(self, x):
            return self.b(self.act(self.a(x)))

    report = init.init_model_(Functional())
    assert [(r.name, r.activation) for r in report.initialised] == [
        ("a", activation.name),
        ("b", None),
    ], report.unpaired


@torchscript
@pytest.mark.slow  # a subprocess that must not import relukit
@pytest.mark.parametrize("activation", ENTRIES, ids=IDS)
def test_jit_trace_saves_a_file_that_runs_without_relukit(activation, tmp_path):
    model = _model(activation)
    traced = torch.jit.trace(model, _x())  # its sanity check runs (check_trace=True)
    assert "relukit::" not in str(traced.inlined_graph)  # no custom op: plain ATen ops
    path = tmp_path / "model.pt"
    traced.save(str(path))
    torch.save(model(_x()).detach(), tmp_path / "want.pt")
    code = (
        "import sys, warnings, torch\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        f"m = torch.jit.load({str(path)!r})\n"
        f"want = torch.load({str(tmp_path / 'want.pt')!r})\n"
        "torch.testing.assert_close(m(torch.linspace(-6, 6, 24).reshape(6, 4)), want)\n"
        "assert not any(k.startswith('relukit') for k in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@torchscript
def test_jit_script_says_what_to_do_and_scripts_the_reverted_model():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), rt.GELU(), rt.PReLU(4))
    with pytest.raises(RuntimeError, match=r"torch\.jit\.trace.*relukit\.torch\.revert"):
        torch.jit.script(model)
    weight = model[2].weight
    reverted = rt.revert(model)
    assert type(reverted[1]) is torch.nn.GELU and reverted[2].weight is weight
    scripted = torch.jit.script(reverted)
    torch.testing.assert_close(scripted(_x()), reverted(_x()))


@pytest.mark.parametrize("activation", ENTRIES, ids=IDS)
def test_torch_export_runs_and_matches_eager(activation):
    model = _model(activation)
    exported = torch.export.export(model, (_x(),))
    torch.testing.assert_close(exported.module()(_x()), model(_x()))


@pytest.mark.parametrize("activation", SAVING, ids=[a.name for a in SAVING])
def test_torch_export_with_save_output_matches_eager(activation):
    model = _model(activation, save="output")
    exported = torch.export.export(model, (_x(),))
    torch.testing.assert_close(exported.module()(_x()), model(_x()), rtol=0, atol=0)


# torch 2.13's ONNX exporter trips its own pytree deprecation (a torch internal).
@pytest.mark.filterwarnings("ignore:`isinstance.treespec, LeafSpec.` is deprecated:FutureWarning")
@pytest.mark.slow  # ONNX export and onnxruntime take ~1 s per model
@pytest.mark.parametrize(
    ("activation", "options"),
    [(a, {}) for a in ENTRIES] + [(a, {"save": "output"}) for a in SAVING],
    ids=IDS + [f"{a.name}-save-output" for a in SAVING],
)
def test_onnx_export_runs_in_onnxruntime(activation, options, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = _model(activation, **options)
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, (_x(),), str(path), dynamo=True, verbose=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: _x().numpy()})
    torch.testing.assert_close(torch.from_numpy(got), model(_x()).detach(), rtol=2e-6, atol=2e-6)


def test_revert_inverts_convert_with_parameters_and_hooks():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.PReLU(3), torch.nn.LeakyReLU(0.2))
    seen = []
    handle = model[2].register_forward_hook(lambda m, i, o: seen.append(type(m).__module__))
    weight = model[1].weight
    rt.convert(model)
    model(torch.ones(1, 3))
    assert seen == ["relukit.torch"] and model[1].weight is weight
    rt.revert(model)
    model(torch.ones(1, 3))
    assert seen[-1] == "torch.nn.modules.activation" and model[1].weight is weight
    handle.remove()  # the handle still reaches the hook after two swaps
    model(torch.ones(1, 3))
    assert len(seen) == 2


@torchscript  # torch.func.jvp scripts a helper of its own on first use
@pytest.mark.parametrize("name", [n for n in F.__all__ if n.endswith("_")])
def test_inplace_functions_mirror_torch_nn_functional(name):
    x = torch.tensor([-2.0, 0.0, 3.0])
    y = x.clone()
    assert getattr(F, name)(y) is y
    torch.testing.assert_close(y, getattr(torch.nn.functional, name)(x.clone()))
    # under forward-mode AD too (torch.func.jvp), with relukit's kink rule
    base = getattr(F, name.rstrip("_"))
    want = torch.func.jvp(base, (x,), (torch.ones(3),))
    got = torch.func.jvp(lambda v: getattr(F, name)(v * 1), (x,), (torch.ones(3),))
    torch.testing.assert_close(got, want)
