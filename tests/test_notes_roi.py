"""Fast R-CNN RoI pooling: the drawn 7×7 grid matches torchvision.ops.roi_pool, and CNN pass counts."""

import random

import pytest
import torch
from torchvision.ops import roi_pool as tv_roi_pool

from explorer.core.notes import roi
from explorer.core.notes.spp import RegionError


@pytest.fixture(scope="module")
def features():
    return torch.randn(6, 20, 30, generator=torch.Generator().manual_seed(1))


def _direct_max(features, grid):
    out = torch.zeros(features.shape[0], grid.output_size, grid.output_size)
    for i, (ys, ye) in enumerate(grid.y_bins):
        for j, (xs, xe) in enumerate(grid.x_bins):
            if ye > ys and xe > xs:
                out[:, i, j] = features[:, ys:ye, xs:xe].amax(dim=(1, 2))
    return out


def test_roi_pool_values_equal_torchvision_roi_pool(features):
    box = (37.0, 21.0, 301.0, 250.0)
    pooled = roi.roi_pool(features, box, 1 / 16)
    ref = tv_roi_pool(features[None], torch.tensor([[0, *box]]), (7, 7), 1 / 16)[0]
    assert pooled.shape == (6, 7, 7) and torch.equal(pooled, ref)


def test_roi_grid_bins_reproduce_torchvision_roi_pool_on_random_boxes(features):
    rng = random.Random(3)
    for _ in range(300):
        x1, y1 = rng.uniform(-30, 470), rng.uniform(-30, 310)
        box = (x1, y1, x1 + rng.uniform(1, 400), y1 + rng.uniform(1, 300))
        grid = roi.roi_grid(box, 1 / 16, (20, 30))
        ref = tv_roi_pool(features[None], torch.tensor([[0, *box]]), (7, 7), 1 / 16)[0]
        assert torch.equal(_direct_max(features, grid), ref), box


def test_roi_grid_boundaries_by_hand():
    # x: round(32/16)=2 .. round(144/16)=9 → 8 cells, bin 8/7: [⌊i·8/7⌋+2, ⌈(i+1)·8/7⌉+2)
    g = roi.roi_grid((32, 16, 144, 128), 1 / 16, (20, 30))
    assert (g.start_x, g.end_x, g.start_y, g.end_y) == (2, 9, 1, 8)
    assert g.x_bins == [(2, 4), (3, 5), (4, 6), (5, 7), (6, 8), (7, 9), (8, 10)]
    assert g.y_bins == [(1, 3), (2, 4), (3, 5), (4, 6), (5, 7), (6, 8), (7, 9)]


def test_roi_c_round_is_half_away_from_zero():
    assert [roi.c_round(v) for v in (0.5, 1.5, 2.5, -0.5, 2.49)] == [1, 2, 3, -1, 2]


def test_roi_empty_region_is_an_error():
    with pytest.raises(RegionError):
        roi.roi_grid((10, 10, 5, 40), 1 / 16, (20, 30))


def test_roi_cnn_passes_rcnn_per_region_spp_and_fast_once():
    counts = {p.method: p.passes for p in roi.cnn_passes(2000)}
    assert counts == {"R-CNN": 2000, "SPPNet": 1, "Fast R-CNN": 1}
