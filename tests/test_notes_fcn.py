"""FCN: fcn_resnet50's output map follows the input size (⌈in/8⌉), upsampled back to the input size."""

import numpy as np
import pytest

from explorer.core.errors import ModelInputError
from explorer.core.notes import fcn_sizes

SIZES = [(64, 64), (97, 121), (129, 160)]     # small (CPU time), none all multiples of 8


@pytest.fixture(scope="module")
def fcn_model():
    from explorer.core import zoo
    return zoo.build("fcn_resnet50")


@pytest.mark.parametrize("size", [(160, 160), (224, 224), (320, 320), (520, 520), (113, 150), (1, 7)])
def test_fcn_output_size_formula_is_ceil_in_over_8(size):
    h, w = size
    assert fcn_sizes.fcn_output_size(size) == (-(-h // 8), -(-w // 8)) == fcn_sizes.fcn_output_size_closed_form(size)


def test_fcn_output_size_formula_by_hand():
    assert fcn_sizes.fcn_output_size((224, 224)) == (28, 28)
    assert fcn_sizes.fcn_output_size((113, 150)) == (15, 19)    # 113→57→29→15, 150→75→38→19


def test_fcn_downsampling_layers_match_torchvision_model(fcn_model):
    bb = fcn_model.backbone
    for name, k, s, p in fcn_sizes.FCN_RESNET50_DOWNSAMPLING:
        m = bb.get_submodule(name)
        ks = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
        st = m.stride if isinstance(m.stride, int) else m.stride[0]
        pd = m.padding if isinstance(m.padding, int) else m.padding[0]
        assert (ks, st, pd) == (k, s, p), name
    # layer3 and layer4 are dilated instead of strided: stride 8 overall
    assert bb.layer3[0].conv2.stride == bb.layer4[0].conv2.stride == (1, 1)
    assert bb.layer3[1].conv2.dilation == (2, 2) and bb.layer4[1].conv2.dilation == (4, 4)


@pytest.mark.parametrize("size", SIZES)
def test_fcn_real_model_output_sizes_at_three_input_sizes(fcn_model, size):
    img = np.random.default_rng(0).integers(0, 255, (200, 260, 3), dtype=np.uint8)
    run = fcn_sizes.run_fcn(fcn_model, img, size)
    assert run.coarse_size == fcn_sizes.fcn_output_size(size) == run.formula_size
    assert run.output_size == size == run.mask.shape == run.image.shape[:2]
    assert run.coarse_mask.shape == run.coarse_size
    assert run.mask.max() < 21


def test_fcn_too_small_input_is_an_error(fcn_model):
    with pytest.raises(ModelInputError):
        fcn_sizes.run_fcn(fcn_model, np.zeros((50, 50, 3), np.uint8), (8, 8))


def test_fcn_voc_palette_and_overlay():
    pal = fcn_sizes.voc_palette()
    assert pal[0].tolist() == [0, 0, 0] and pal[1].tolist() == [128, 0, 0] and pal[15].tolist() == [192, 128, 128]
    img = np.full((4, 4, 3), 100, np.uint8)
    mask = np.zeros((4, 4), np.int32)
    mask[0, 0] = 1
    out = fcn_sizes.overlay(img, mask, alpha=0.5)
    assert out[0, 0].tolist() == [114, 50, 50] and out[1, 1].tolist() == [100, 100, 100]
