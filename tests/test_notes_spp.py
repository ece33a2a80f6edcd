"""SPPNet: region projection onto the feature map, pyramid bins, fixed-length output and pooled values."""

import math

import pytest
import torch

from explorer.core.notes import spp


@pytest.fixture(scope="module")
def features():
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 24, 32, generator=g)


def test_spp_projection_follows_he_et_al_appendix():
    # left/top = ⌊x/S⌋ + 1, right/bottom = ⌈x/S⌉ − 1 (S = 16)
    r = spp.project_box((100, 50, 300, 200), 16, (24, 32))
    assert (r.x0, r.y0, r.x1, r.y1) == (100 // 16 + 1, 50 // 16 + 1, math.ceil(300 / 16) - 1, math.ceil(200 / 16) - 1)
    assert (r.x0, r.y0, r.x1, r.y1) == (7, 4, 18, 12)


def test_spp_projection_round_and_clipping():
    r = spp.project_box((100, 50, 300, 200), 16, (24, 32), method="round")
    assert (r.x0, r.y0, r.x1, r.y1) == (6, 3, 19, 13)        # round(6.25), round(3.125), round(18.75), round(12.5)
    r = spp.project_box((-40, -40, 2000, 2000), 16, (24, 32))
    assert (r.x0, r.y0, r.x1, r.y1) == (0, 0, 31, 23)


def test_spp_projection_tiny_region_keeps_nearest_cell():
    r = spp.project_box((20, 20, 30, 30), 16, (24, 32))      # ⌊20/16⌋+1 = 2 > ⌈30/16⌉−1 = 1
    assert (r.x0, r.x1) == (2, 2) and r.width == r.height == 1   # centre 25 is nearest cell 2 (centre 32)


def test_spp_projection_empty_region_is_an_error():
    with pytest.raises(spp.RegionError, match="empty"):
        spp.project_box((50, 50, 50, 80), 16, (24, 32))


def test_spp_bin_boundaries_he_et_al():
    # bin i of n over a cells: [⌊i·a/n⌋, ⌈(i+1)·a/n⌉)
    assert spp.pyramid_bins(13, 4) == [(0, 4), (3, 7), (6, 10), (9, 13)]
    assert spp.pyramid_bins(13, 2) == [(0, 7), (6, 13)]
    assert spp.pyramid_bins(13, 1) == [(0, 13)]
    assert spp.pyramid_bins(2, 4) == [(0, 1), (0, 1), (1, 2), (1, 2)]   # fewer cells than bins: bins overlap


@pytest.mark.parametrize("box", [(0, 0, 40, 40), (10, 20, 170, 90), (30, 30, 500, 380), (200, 10, 230, 370),
                                 (0, 0, 512, 384)])
def test_spp_output_length_is_21_c_for_any_region_size(features, box):
    region = spp.project_box(box, 16, tuple(features.shape[1:]))
    result = spp.spatial_pyramid_pool(features, region)
    assert result.length == 21 * features.shape[0] == spp.spp_length(features.shape[0])
    assert [lv.pooled.shape for lv in result.levels] == [(5, 4, 4), (5, 2, 2), (5, 1, 1)]


def test_spp_pooled_values_equal_direct_max_over_bins(features):
    region = spp.project_box((40, 24, 420, 300), 16, tuple(features.shape[1:]))
    result = spp.spatial_pyramid_pool(features, region)
    f = features.numpy()
    for level in result.levels:
        for i, (ys, ye) in enumerate(level.y_bins):
            for j, (xs, xe) in enumerate(level.x_bins):
                for c in range(f.shape[0]):
                    cells = [f[c, region.y0 + y, region.x0 + x] for y in range(ys, ye) for x in range(xs, xe)]
                    assert level.pooled[c, i, j].item() == max(cells)
    # the 1×1 level is the max over the whole region; the vector starts with the 4×4 level
    whole = features[:, region.y0:region.y1 + 1, region.x0:region.x1 + 1].amax(dim=(1, 2))
    assert torch.equal(result.levels[-1].pooled[:, 0, 0], whole)
    assert torch.equal(result.vector[:16 * 5], result.levels[0].pooled.flatten())


def test_spp_pyramid_equals_adaptive_max_pool(features):
    # torch's adaptive pooling uses the same bin rule, an independent reference
    region = spp.project_box((10, 10, 333, 250), 16, tuple(features.shape[1:]))
    result = spp.spatial_pyramid_pool(features, region)
    crop = features[:, region.y0:region.y1 + 1, region.x0:region.x1 + 1]
    for level in result.levels:
        assert torch.equal(level.pooled, torch.nn.functional.adaptive_max_pool2d(crop, level.n))


def test_spp_conv_features_stride_16_on_alexnet():
    import numpy as np

    from explorer.core.notes.conv_features import conv_features
    img = np.random.default_rng(0).integers(0, 255, (160, 224, 3), dtype=np.uint8)
    fm = conv_features(img, "alexnet")
    assert fm.channels == 256 and fm.stride == 16
    # AlexNet conv1 (11, s4, p2) → 39×55, pool (3, s2) → 19×27, pool → 9×13
    assert fm.size == (9, 13)
