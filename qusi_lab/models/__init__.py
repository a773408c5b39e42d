"""Neural networks for light curves: plain ``torch.nn.Module`` s returning logits.

Every model takes float32 curves of shape ``(batch, input_length)`` (or ``(batch, 1, input_length)``)
and returns logits ``(batch, n_outputs)``; each scales its pooling to ``input_length`` by itself.

============================  =====================================================================
``Hadryss``                   qusi's CNN (filters 8 ... 128, 20; dense 20, 20), auto pooling
``HadryssPassages``           Hadryss + a conv column on the curve's autocorrelation (sums passages)
``ResNet1D``                  residual CNN, auto strides, global average + max pooling
``AstronetGlobalLocal``       Shallue & Vanderburg (2018) global + local view, local = deepest-dip crop
``TransformerClassifier``     strided conv stem -> transformer encoder -> mean + max pooling
============================  =====================================================================

A trained model is a :class:`Model` (:mod:`qusi_lab.models.trained`): the network plus its preprocessing,
classes and task, saved and loaded as a folder by :mod:`qusi_lab.models.bundle`, scored through the one
scoring path, :mod:`qusi_lab.models.scoring`.

Example
-------
>>> import torch
>>> from qusi_lab import models
>>> model = models.model_for_task("hadryss", input_length=3500, task="binary")
>>> logits = model.eval()(torch.randn(8, 3500))
>>> models.scores_from_logits(logits, "binary").shape
torch.Size([8])
>>> models.create("nope")
Traceback (most recent call last):
...
ValueError: unknown model 'nope'; available models: astronet, hadryss, hadryss_passages, resnet1d, transformer; for imaging: mlar_conv3d, mlar_convlstm
"""

from __future__ import annotations

from qusi_lab.models.astronet import AstronetGlobalLocal, crop_around_deepest_dip
from qusi_lab.models.base import ConvNormAct, LightCurveModel, downsampling_schedule
from qusi_lab.models.bundle import BundleDamagedError, BundleError, load, load_bundle_info, save_bundle
from qusi_lab.models.hadryss import HADRYSS_FILTERS, Hadryss
from qusi_lab.models.inference import (
    ChannelsLastConvBlock,
    InferenceModel,
    activation_bytes_per_curve,
    count_flops,
    fuse_conv_batch_norm,
    fuse_for_inference,
    optimize_for_inference,
    predict_logits,
    to_channels_last,
)
from qusi_lab.models.passages import HadryssPassages
from qusi_lab.models.registry import (
    available,
    create,
    from_config,
    model_class,
    model_for_task,
    register_model,
)
from qusi_lab.models.resnet import ResNet1D
from qusi_lab.models.scoring import forward_stream, score_curves
from qusi_lab.models.tasks import (
    TASKS,
    TaskLoss,
    loss_for_task,
    make_head,
    outputs_for_task,
    scores_from_logits,
)
from qusi_lab.models.trained import (
    Model,
    as_model,
    bundle_of,
    check_compatible,
    description_of,
    scores_from_outputs,
)
from qusi_lab.models.transformer import TransformerClassifier

__all__ = [
    "Model",
    "as_model",
    "bundle_of",
    "check_compatible",
    "description_of",
    "scores_from_outputs",
    "load",
    "load_bundle_info",
    "save_bundle",
    "BundleError",
    "BundleDamagedError",
    "forward_stream",
    "score_curves",
    "LightCurveModel",
    "ConvNormAct",
    "downsampling_schedule",
    "Hadryss",
    "HADRYSS_FILTERS",
    "HadryssPassages",
    "ResNet1D",
    "AstronetGlobalLocal",
    "crop_around_deepest_dip",
    "TransformerClassifier",
    "available",
    "create",
    "from_config",
    "model_class",
    "model_for_task",
    "register_model",
    "TASKS",
    "outputs_for_task",
    "make_head",
    "scores_from_logits",
    "TaskLoss",
    "loss_for_task",
    "fuse_conv_batch_norm",
    "fuse_for_inference",
    "optimize_for_inference",
    "InferenceModel",
    "ChannelsLastConvBlock",
    "to_channels_last",
    "activation_bytes_per_curve",
    "predict_logits",
    "count_flops",
]
