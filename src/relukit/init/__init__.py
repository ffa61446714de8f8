"""Initialisation for the ReLU family: exact gains, He/Kaiming, RAI, an asymmetric init, LSUV.

``import relukit.init`` needs only NumPy: :func:`gain` and the NumPy side of the Kaiming
initialisers work for Keras and JAX users too (gains are plain floats; NumPy arrays take a
``numpy.random.Generator`` as ``rng=``). The functions that take PyTorch objects import torch
when called.

- :func:`gain` — forward 1/√E[f(z)²] and backward 1/√E[f'(z)²] gains of every catalog activation.
- :func:`kaiming_normal_`, :func:`kaiming_uniform_` — He init of NumPy arrays or torch tensors.
- :func:`init_model_` — initialise a PyTorch model's Linear/Conv layers by the activation after
  each (returns an :class:`InitReport` listing what it could not pair).
- :func:`rai_` — RAI (Lu et al. 2019), as published; :func:`asymmetric_` — relukit's asymmetric
  init, born dead as rarely as RAI (never past the first layer) without collapsing the signal.
  :func:`sample_rai` / :func:`sample_asymmetric` draw them as NumPy arrays.
- :func:`lsuv_` — LSUV (Mishkin & Matas 2016).

Example:
    >>> import numpy as np
    >>> from relukit import init
    >>> round(init.gain("elu"), 4), round(init.gain("elu", mode="backward"), 4)
    (1.2452, 1.2234)
    >>> w = init.kaiming_normal_(np.empty((128, 64)), "elu", rng=np.random.default_rng(0))
"""

from ._asymmetric import asymmetric_, rai_, sample_asymmetric, sample_rai
from ._gain import gain
from ._kaiming import kaiming_normal_, kaiming_std, kaiming_uniform_
from ._lsuv import LSUVLayer, LSUVReport, lsuv_
from ._pairing import InitReport, LayerInit, activation_of_module, init_model_

__all__ = [
    "InitReport",
    "LSUVLayer",
    "LSUVReport",
    "LayerInit",
    "activation_of_module",
    "asymmetric_",
    "gain",
    "init_model_",
    "kaiming_normal_",
    "kaiming_std",
    "kaiming_uniform_",
    "lsuv_",
    "rai_",
    "sample_asymmetric",
    "sample_rai",
]
