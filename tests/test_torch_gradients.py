"""relukit.torch's gradients against the exact derivative, per case and dtype (issue #11 item 5).

Whatever a backward saves (the input, the output, a mask), its gradient must be within a few
roundings of the dtype of f'(x) — relative, or absolute near an underflowing derivative — and
never of the wrong sign. ``benchmarks/grad_error.py`` writes the measured table.
"""

from __future__ import annotations

import numpy as np
import pytest
from cases import CASE_IDS, CASES
from helpers import torch_gradient_errors

torch = pytest.importorskip("torch")

DTYPES = ["float64", "float32", "float16", "bfloat16"]
# 4 roundings of the dtype (eps = 2 ulp of 1): the compute dtype's result rounded once, times g.
BOUND = {d: 4 * float(torch.finfo(getattr(torch, d)).eps) for d in DTYPES}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gradient_within_the_dtype_of_the_exact_derivative(case, dtype):
    err, wrong_sign = torch_gradient_errors(case, dtype)
    assert not wrong_sign
    assert err <= BOUND[dtype], (err, BOUND[dtype])
    assert np.isfinite(err)
