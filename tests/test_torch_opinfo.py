"""PyTorch's own OpInfo samples, run through relukit.torch (issue #11 item 2).

For every catalog entry that PyTorch has an OpInfo for (``nn.functional.<name>``), each of its
sample inputs goes through relukit's function: values agree with torch's (the case table's
tolerances and known divergences), and in float64 ``gradcheck``/``gradgradcheck`` pass with the
batched-gradient checks on (vmap over backward, as torch's own test suite runs them).
"""

from __future__ import annotations

import warnings

import pytest
from cases import TOLERANCES, default_case

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # torch.testing._internal needs it

import relukit  # noqa: E402
from relukit.torch import functional as F  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from torch.testing._internal.common_methods_invocations import op_db

OPINFOS = {o.name: o for o in op_db if not o.variant_test_name}
ENTRIES = [a for a in relukit.catalog if f"nn.functional.{a.name}" in OPINFOS]


def _samples(activation, dtype, requires_grad):
    opinfo = OPINFOS[f"nn.functional.{activation.name}"]
    return list(opinfo.sample_inputs("cpu", dtype, requires_grad=requires_grad))


def _ours(activation, sample):
    return getattr(F, activation.name)(sample.input, *sample.args, **sample.kwargs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("activation", ENTRIES, ids=lambda a: a.name)
def test_opinfo_samples_agree_with_torch(activation, dtype):
    theirs_fn = getattr(torch.nn.functional, activation.name)
    rtol, atol = TOLERANCES[str(dtype).removeprefix("torch.")]
    atol = max(atol, default_case(activation.name).oracle_atol.get(str(dtype)[6:], 0.0))
    where = default_case(activation.name).oracle_where
    for sample in _samples(activation, dtype, requires_grad=False):
        ours = _ours(activation, sample)
        theirs = theirs_fn(sample.input, *sample.args, **sample.kwargs)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        if where is not None:  # a known divergence, as case data (Softplus' threshold)
            mask = where(sample.input, *sample.args, **sample.kwargs)
            ours, theirs = ours[mask], theirs[mask]
        torch.testing.assert_close(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("activation", ENTRIES, ids=lambda a: a.name)
def test_opinfo_samples_gradcheck_with_batched_gradients(activation):
    for sample in _samples(activation, torch.float64, requires_grad=True):
        x = sample.input
        # Away from the kink: finite differences straddling 0 cannot see the kink rule.
        with torch.no_grad():
            x.copy_(torch.where(x.abs() < 1e-3, torch.full_like(x, 0.5), x))
        tensors = [x, *(a for a in sample.args if isinstance(a, torch.Tensor))]
        tensors += [v for v in sample.kwargs.values() if isinstance(v, torch.Tensor)]
        tensors = [t for t in tensors if t.requires_grad]

        def fn(*ts, sample=sample, tensors=tensors):
            inputs = dict(zip(map(id, tensors), ts, strict=True))
            args = [inputs.get(id(a), a) for a in sample.args]
            kwargs = {k: inputs.get(id(v), v) for k, v in sample.kwargs.items()}
            return getattr(F, activation.name)(ts[0], *args, **kwargs)

        assert torch.autograd.gradcheck(fn, tensors, check_batched_grad=True)
        assert torch.autograd.gradgradcheck(fn, tensors, check_batched_grad=True)
