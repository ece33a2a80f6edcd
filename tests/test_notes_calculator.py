"""The notes' parameter arithmetic, checked against hand computations and against PyTorch's own modules."""

import pytest

from explorer.core.notes import calculator as calc


@pytest.mark.parametrize("layer", calc.ALEXNET_NOTES, ids=lambda la: la.name)
def test_calculator_alexnet_conv_params_match_notes(layer):
    # 34,848 / 307,200 / 884,736 / 663,552 / 442,368 as written in the study notes (weights, two GPUs)
    assert layer.spec.weights == layer.notes_value
    product = 1
    for factor in layer.notes_text.split("×"):
        product *= int(factor)
    assert product == layer.notes_value


def test_calculator_alexnet_notes_hand_products():
    assert 11 * 11 * 3 * 48 * 2 == calc.ALEXNET_NOTES[0].spec.weights == 34_848
    assert 5 * 5 * 48 * 128 * 2 == calc.ALEXNET_NOTES[1].spec.weights
    assert 3 * 3 * 128 * 2 * 192 * 2 == calc.ALEXNET_NOTES[2].spec.weights
    assert calc.ALEXNET_NOTES[1].spec.formula == "5×5×48×128×2 = 307,200"


def test_calculator_alexnet_matches_two_gpu_model_conv_weights():
    from models.alexnet2012 import alexnet2012
    from torch import nn
    convs = [m for m in alexnet2012().modules() if isinstance(m, nn.Conv2d)]
    assert [c.weight.numel() for c in convs] == [la.notes_value for la in calc.ALEXNET_NOTES]


def test_calculator_conv_params_against_torch_conv2d():
    from torch import nn
    for k, cin, cout, g, bias in [(3, 64, 128, 1, True), (5, 96, 256, 2, False), (1, 192, 16, 1, True),
                                  (3, 32, 32, 32, True)]:
        ref = sum(p.numel() for p in nn.Conv2d(cin, cout, k, groups=g, bias=bias).parameters())
        assert calc.conv_params(k, cin, cout, g, bias) == ref


def test_calculator_two_3x3_vs_one_5x5_notes_numbers():
    cmp = calc.stacked_vs_single(128, k=3, n=2)
    assert cmp.stacked_params == 3 * 3 * 128 * 128 + 3 * 3 * 128 * 128 == 294_912
    assert cmp.single_params == 5 * 5 * 128 * 128 == 409_600
    assert cmp.stacked_rf == cmp.single_rf == 5
    assert cmp.saving == pytest.approx(1 - 18 / 25)


def test_calculator_three_3x3_see_7x7():
    cmp = calc.stacked_vs_single(64, k=3, n=3)
    assert cmp.stacked_rf == 7 and cmp.single.k == 7
    assert cmp.stacked_params == 27 * 64 * 64 and cmp.single_params == 49 * 64 * 64


def test_calculator_receptive_field_with_strides():
    assert calc.receptive_field([3, 3]) == 5
    assert calc.receptive_field([1, 5]) == 5
    # AlexNet conv1 (11, s4), pool (3, s2), conv2 (5): 11 + 2·4 + 4·2·4 = 51
    assert calc.receptive_field([11, 3, 5], [4, 2, 1]) == 51


def test_calculator_inception_3a_reductions():
    b = calc.INCEPTION_3A
    r3 = calc.reduction_1x1(b.c_in, b.n3x3red, b.n3x3, 3)
    assert r3.direct_params == 3 * 3 * 192 * 128 == 221_184
    assert r3.reduced_params == 192 * 96 + 3 * 3 * 96 * 128 == 129_024
    r5 = calc.reduction_1x1(b.c_in, b.n5x5red, b.n5x5, 5)
    assert r5.direct_params == 5 * 5 * 192 * 32 == 153_600
    assert r5.reduced_params == 192 * 16 + 5 * 5 * 16 * 32 == 15_872
    assert r5.receptive_field == r3.receptive_field + 2 == 5


def test_calculator_inception_3a_matches_torchvision_googlenet():
    from torchvision.models import googlenet
    m = googlenet(weights=None, aux_logits=False, init_weights=False).inception3a
    b = calc.INCEPTION_3A
    assert m.branch2[0].conv.weight.numel() == calc.conv_params(1, b.c_in, b.n3x3red)
    assert m.branch2[1].conv.weight.numel() == calc.conv_params(3, b.n3x3red, b.n3x3)
    # torchvision's GoogLeNet uses 3×3 instead of 5×5 in its "5×5" branch (a known deviation from the paper)
    assert m.branch3[1].conv.weight.shape[1:] == (b.n5x5red, 3, 3)


def test_calculator_dense_params_notes_fc7():
    assert calc.dense_params(2048 * 2, 2048 * 2) == 16_777_216
    assert calc.dense_params(2048 * 2, 1000) == 4_096_000


def test_calculator_rejects_bad_groups():
    with pytest.raises(calc.CalculatorInputError, match="groups"):
        calc.ConvSpec(3, 10, 16, groups=3)
    with pytest.raises(calc.CalculatorInputError):
        calc.ConvSpec(0, 10, 16)
