"""MLAR networks: shapes, self-scaling, the registry round trip, and bad input."""

from __future__ import annotations

import pytest
import torch

from qusi_lab import models
from qusi_lab.models.mlar import MlarConv3D, MlarConvLstm


@pytest.mark.parametrize("cls", [MlarConv3D, MlarConvLstm])
@pytest.mark.parametrize(("levels", "size"), [(20, 9), (12, 7), (1, 5), (30, 15)])
def test_networks_scale_with_levels_and_patch_size(cls, levels, size):
    model = cls(levels=levels, patch_size=size).eval()
    assert model(torch.randn(3, levels, size, size)).shape == (3, 1)
    assert model(torch.randn(3, 1, levels, size, size)).shape == (3, 1)


@pytest.mark.parametrize("name", ["mlar_conv3d", "mlar_convlstm"])
def test_registry_rebuilds_the_same_network(name):
    torch.manual_seed(0)
    model = models.create(name, levels=10, patch_size=7).eval()
    copy = models.from_config(name, model.config).eval()
    copy.load_state_dict(model.state_dict())
    x = torch.randn(4, 10, 7, 7)
    assert torch.equal(model(x), copy(x))
    assert name in models.available("mlar") and name not in models.available()


def test_conv3d_is_sodinns_default_shape():
    model = MlarConv3D(levels=20, patch_size=9)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d)]
    assert [c.out_channels for c in convs] == [40, 80]
    assert model.dense[1].out_features == 128 and model.final_shape == (5, 2, 2)


@pytest.mark.parametrize("shape", [(2, 20, 9), (2, 19, 9, 9), (2, 2, 20, 9, 9)])
def test_wrong_shapes_say_what_is_expected(shape):
    with pytest.raises(ValueError, match=r"expects MLAR patches of shape \(batch, 20, 9, 9\)"):
        MlarConv3D(levels=20, patch_size=9)(torch.zeros(shape))
