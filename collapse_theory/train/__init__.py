"""Torch-trained DAEs (the ``trained`` verification tier). torch is imported here and in
:mod:`collapse_theory.claims.dae.trained` only; :mod:`collapse_theory.theory` never imports it.

- :mod:`.models`     batched linear, bottleneck and MLP DAEs (B independent models in one set of tensors)
- :mod:`.training`   the DAE loss, minibatch (Adam/SGD, fresh noise) and full-batch (GD, L-BFGS, CG, least squares)
                     training with a certified error bound for the linear DAE, and generation by both rules
- :mod:`.recursion`  recursive training from one :class:`RecursionConfig`, beside the closed-form recursion
"""

from .dae.models import MODELS, BottleneckDAE, LinearDAE, MLPDAE, make_model
from .dae.recursion import RecursionConfig, TrainedTrajectory, bottleneck_closed_form, run_trained_recursion
from .dae.training import METHODS, TrainReport, certified_error_bound, generate, train_dae

__all__ = ["METHODS", "MODELS", "BottleneckDAE", "LinearDAE", "MLPDAE", "RecursionConfig", "TrainReport",
           "TrainedTrajectory", "bottleneck_closed_form", "certified_error_bound", "generate", "make_model",
           "run_trained_recursion", "train_dae"]
