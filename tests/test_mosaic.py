"""Mosaic: C channels give C tiles, clicks map back to (channel, fy, fx), normalisation modes give the expected
ranges, colour lookup tables match the published colormaps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core.mosaic import (BACKGROUND, COLORMAPS, Mosaic, MosaicOptions, as_chw, best_columns, build_mosaic,
                                  channel_image, chw_note, display_shrink, layout_for, lut, value_at)
from explorer.core.tile_sheet import tile_sheet


def _expected_index(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reference quantisation, written independently with numpy: round(255·(x − lo)/(hi − lo)), clipped."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return np.floor(t * 255.0 + 0.5).astype(int)


def _tile(m: Mosaic, t: int) -> np.ndarray:
    x, y = m.tile_origin(t)
    h, w = m.tile_size
    return m.image[y:y + h, x:x + w]


def test_lut_matches_published_colormaps():
    # viridis: #440154 at 0, #21918C at 0.5, #FDE725 at 1 (matplotlib's _viridis_data entries 0, 128, 255)
    v = lut("viridis")
    assert v.shape == (256, 3) and v.dtype == np.uint8
    assert tuple(v[0]) == (0x44, 0x01, 0x54)
    assert np.abs(v[128].astype(int) - (0x21, 0x91, 0x8C)).max() <= 1  # interpolated: within 1/255
    assert tuple(v[255]) == (0xFD, 0xE7, 0x25)
    # inferno: #000004 .. #FCFFA4
    i = lut("inferno")
    assert tuple(i[0]) == (0, 0, 4) and tuple(i[255]) == (0xFC, 0xFF, 0xA4)
    # RdBu reversed: ColorBrewer's darkest blue (5, 48, 97) for the lowest value, white-ish (247) in the middle
    r = lut("rdbu")
    assert tuple(r[0]) == (5, 48, 97) and tuple(r[255]) == (103, 0, 31)
    assert abs(int(r[128][0]) - 247) <= 2
    for name in COLORMAPS:
        assert lut(name).shape == (256, 3)
    with pytest.raises(ValueError):
        lut("jet")


def test_c_channels_give_c_tiles_and_exact_colours():
    gen = torch.Generator().manual_seed(0)
    act = torch.rand(10, 5, 7, generator=gen) * 3 - 1
    m = build_mosaic(act, MosaicOptions(colormap="gray", padding=2))
    rows, cols = m.grid
    assert m.num_tiles == 10 and m.num_channels == 10 and rows * cols >= 10 and (rows - 1) * cols < 10
    assert m.tile_size == (5, 7) and m.padding == 2
    assert m.image.shape == (2 + rows * 7, 2 + cols * 9, 3)
    assert m.image.dtype == np.uint8
    a = act.numpy()
    for t in range(10):
        c = int(m.channels[t])
        assert c == t  # index order
        expect = lut("gray")[_expected_index(a[c], a[c].min(), a[c].max())]
        np.testing.assert_array_equal(_tile(m, t), expect)
        assert m.tile_min[t] == pytest.approx(a[c].min()) and m.tile_max[t] == pytest.approx(a[c].max())
    # padding between tiles keeps the background colour
    assert tuple(m.image[0, 0]) == tuple(m.image[1, 10]) == (48, 48, 48)
    # empty cells after the last tile are background too
    if rows * cols > 10:
        x, y = m.tile_origin(rows * cols - 1)
        assert (m.image[y:y + 5, x:x + 7] == 48).all()


def test_locate_maps_every_pixel_to_its_channel_and_position():
    act = torch.arange(6 * 4 * 3, dtype=torch.float32).reshape(6, 4, 3)
    m = build_mosaic(act, MosaicOptions(order="max", padding=1))
    # max order: channel 5 has the largest values, so it comes first
    assert list(m.channels) == [5, 4, 3, 2, 1, 0]
    for t in range(m.num_tiles):
        x0, y0 = m.tile_origin(t)
        for fy in range(4):
            for fx in range(3):
                hit = m.locate(x0 + fx + 0.5, y0 + fy + 0.99)
                assert hit is not None
                assert (hit.tile, hit.channel, hit.fy, hit.fx) == (t, int(m.channels[t]), fy, fx)
                assert value_at(act, hit.channel, hit.fy, hit.fx) == float(act[hit.channel, fy, fx])
    assert m.locate(0.5, 0.5) is None                    # top-left padding
    assert m.locate(m.tile_origin(0)[0] + 3, 2) is None  # padding column right of the first tile
    assert m.locate(-1, 3) is None and m.locate(m.width + 1, 3) is None


def test_order_by_mean_and_top_k():
    gen = torch.Generator().manual_seed(1)
    act = torch.randn(32, 6, 6, generator=gen)
    means = act.numpy().reshape(32, -1).mean(1)
    m = build_mosaic(act, MosaicOptions(order="mean", top_k=5))
    assert m.num_tiles == 5 and m.num_channels == 32
    assert list(m.channels) == list(np.argsort(-means, kind="stable")[:5])
    maxs = act.numpy().reshape(32, -1).max(1)
    m = build_mosaic(act, MosaicOptions(order="max", top_k=3))
    assert list(m.channels) == list(np.argsort(-maxs, kind="stable")[:3])
    m = build_mosaic(act, MosaicOptions(top_k=4))
    assert list(m.channels) == [0, 1, 2, 3]


def test_normalisation_modes_give_expected_ranges():
    gen = torch.Generator().manual_seed(2)
    # channels with very different scales: 0..1, 0..10, -5..5
    act = torch.stack([torch.rand(8, 8, generator=gen), 10 * torch.rand(8, 8, generator=gen),
                       10 * torch.rand(8, 8, generator=gen) - 5])
    a = act.numpy()
    g = lut("gray")[:, 0].astype(int)  # gray: colour index = value of any channel

    per_channel = build_mosaic(act, MosaicOptions(norm="channel", colormap="gray"))
    for t in range(3):
        tile = _tile(per_channel, t)[..., 0].astype(int)
        assert tile.min() == g[0] and tile.max() == g[255]  # every channel spans the full range
        assert per_channel.lo[t] == pytest.approx(a[t].min()) and per_channel.hi[t] == pytest.approx(a[t].max())

    per_layer = build_mosaic(act, MosaicOptions(norm="layer", colormap="gray"))
    lo, hi = a.min(), a.max()
    for t in range(3):
        tile = _tile(per_layer, t)[..., 0]
        np.testing.assert_array_equal(tile, lut("gray")[_expected_index(a[t], lo, hi)][..., 0])
    # the small channel (0..1) stays dark-ish against the layer's -5..10 range
    assert _tile(per_layer, 0)[..., 0].max() <= g[_expected_index(np.array(1.0), lo, hi)]
    assert np.allclose(per_layer.lo, lo) and np.allclose(per_layer.hi, hi)

    fixed = build_mosaic(act, MosaicOptions(norm="fixed", fixed_range=(0.0, 1.0), colormap="gray"))
    t2 = _tile(fixed, 2)[..., 0]
    assert (t2[a[2] <= 0] == g[0]).all() and (t2[a[2] >= 1] == g[255]).all()  # clipped outside the range
    t1 = _tile(fixed, 1)[..., 0]
    np.testing.assert_array_equal(t1, lut("gray")[_expected_index(a[1], 0.0, 1.0)][..., 0])


def _box_means(a: np.ndarray, s: int) -> np.ndarray:
    """Reference s×s box averages of (H, W), written with numpy: partial boxes at the right and bottom edges
    average the values they hold."""
    h, w = a.shape
    out = np.empty((-(-h // s), -(-w // s)))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = a[i * s:(i + 1) * s, j * s:(j + 1) * s].mean()
    return out


def test_shrink_draws_box_averages_with_the_full_size_ranges():
    gen = torch.Generator().manual_seed(3)
    act = torch.randn(5, 7, 9, generator=gen)
    m = build_mosaic(act, MosaicOptions(colormap="gray", shrink=2))
    assert m.shrink == 2 and m.map_size == (7, 9) and m.tile_size == (4, 5)   # ⌈7/2⌉ × ⌈9/2⌉
    rows, cols = m.grid
    assert (m.width, m.height) == (1 + cols * 6, 1 + rows * 5)
    a = act.numpy()
    for t in range(5):
        # colours of the box averages, over the channel's own full-size min..max (not the averages' range)
        assert m.lo[t] == pytest.approx(a[t].min()) and m.hi[t] == pytest.approx(a[t].max())
        expect = lut("gray")[_expected_index(_box_means(a[t], 2), a[t].min(), a[t].max())]
        assert np.abs(_tile(m, t).astype(int) - expect.astype(int)).max() <= 1  # float32 vs float64 rounding
    # capped at the map's short side (7): ⌈7/7⌉ × ⌈9/7⌉, never below one pixel a tile
    assert build_mosaic(act, MosaicOptions(shrink=50)).tile_size == (1, 2)
    with pytest.raises(ValueError):
        MosaicOptions(shrink=0)


def test_shrunk_mosaic_maps_positions_to_exact_feature_pixels():
    act = torch.arange(6 * 9 * 8, dtype=torch.float32).reshape(6, 9, 8)
    full = build_mosaic(act, MosaicOptions(columns=3))
    half = build_mosaic(act, MosaicOptions(columns=3, shrink=2))
    third = build_mosaic(act, MosaicOptions(columns=3, shrink=3))
    for m in (full, half, third):
        for t in range(6):
            for fy in range(9):
                for fx in range(8):
                    x, y = m.point_of(t, fy + 0.5, fx + 0.5)
                    hit = m.locate(x, y)
                    assert (hit.tile, hit.channel, hit.fy, hit.fx) == (t, t, fy, fx)
                    # a zoomed view carried to another shrink still shows the same feature pixel
                    for other in (full, half, third):
                        assert other.locate(*m.carry_point(x, y, other)) == hit
    # drawn pixel (1, 2) of tile 0 at shrink 2 covers feature rows 2-3, columns 4-5; its right half is column 5
    x0, y0 = half.tile_origin(0)
    assert half.locate(x0 + 2.75, y0 + 1.25) == half.locate(*half.point_of(0, 2.5, 5.5))
    assert (half.locate(x0 + 2.75, y0 + 1.25).fy, half.locate(x0 + 2.75, y0 + 1.25).fx) == (2, 5)
    # padding stays padding, on both sides of a rebuild
    x, y = full.tile_origin(1)
    assert full.locate(x - 0.5, y + 3) is None and half.locate(*full.carry_point(x - 0.5, y + 3, half)) is None


def test_display_shrink_matches_the_view():
    # resnet18 conv1, 64 maps of 112×112 in 8 columns: 1 + 8·113 = 905 pixels; at shrink 2, 1 + 8·57 = 457;
    # at shrink 3, 1 + 8·39 = 313
    assert display_shrink(64, 112, 112, 905, 905, columns=8) == 1
    assert display_shrink(64, 112, 112, 480, 480, columns=8) == 2    # 905 → 480: 457 drawn, shown at 1.05×
    assert display_shrink(64, 112, 112, 300, 300, columns=8) == 3    # 313 drawn, shown at 0.96×
    assert display_shrink(64, 112, 112, 700, 700, columns=8) == 1    # 0.77× of 905 is closer than 1.53× of 457
    assert display_shrink(64, 112, 112, 480, 2000, columns=8) == 2   # the narrow side decides
    assert display_shrink(2048, 7, 7, 480, 480) == 1                 # resnet50 layer4: already small
    assert display_shrink(64, 112, 112, 0, 0, columns=8) == 1        # no view yet


def test_fit_chooses_columns_and_shrink_for_the_view():
    # 6 tiles of 10×10 (pitch 11): one row in a wide 100×20 view (67×12 px, shown at 1.49×) beats
    # 3 columns (34×23 px, 0.87×); a tall view gets one column
    assert best_columns(6, 10, 10, 100, 20) == 6
    assert best_columns(6, 10, 10, 20, 100) == 1
    assert best_columns(6, 10, 10, 10, 10) is None            # too small to tell
    # resnet18 conv1 in a 480×480 view: 8×8 tiles, drawn at half size (457 px)
    assert layout_for(MosaicOptions(shrink=None, fit=(480, 480)), 64, 112, 112) == (8, 2)
    assert layout_for(MosaicOptions(columns=4, shrink=None, fit=(480, 480)), 64, 112, 112)[0] == 4  # given wins
    assert layout_for(MosaicOptions(shrink=1, fit=(480, 480)), 64, 112, 112) == (8, 1)             # given wins
    assert layout_for(MosaicOptions(), 64, 112, 112) == (None, 1)                                    # no view
    m = build_mosaic(torch.rand(64, 112, 112), MosaicOptions(shrink=None, fit=(480, 480)))
    assert m.grid == (8, 8) and m.shrink == 2 and (m.width, m.height) == (457, 457)


def test_diverging_colormap_puts_zero_in_the_middle():
    act = torch.tensor([[[-2.0, 0.0, 1.0]], [[0.0, 0.0, 0.0]]])
    m = build_mosaic(act, MosaicOptions(norm="channel", colormap="rdbu", padding=0, columns=1))
    r = lut("rdbu")
    row = m.image[0]
    assert tuple(row[0]) == tuple(r[0])        # -2 = -max|x|: the low end
    assert tuple(row[1]) == tuple(r[128])      # 0: the middle colour
    assert tuple(row[2]) == tuple(r[_expected_index(np.array(1.0), -2.0, 2.0)])
    assert (m.image[1] == r[128]).all()        # an all-zero channel is all middle colour
    assert m.lo[0] == -2.0 and m.hi[0] == 2.0


def test_as_chw_shapes_and_bad_options():
    assert as_chw(torch.zeros(1, 8, 3, 4)).shape == (8, 3, 4)
    assert as_chw(torch.zeros(1, 10)).shape == (10, 1, 1)
    rows = torch.arange(100 * 256.0).reshape(100, 256)     # a box head's features: one row per region
    assert as_chw(rows).shape == (1, 100, 256) and float(as_chw(rows)[0, 3, 5]) == 3 * 256 + 5
    assert chw_note(rows) == "one map: 100 rows (one per region) × 256 features"
    pooled = torch.rand(96, 8, 7, 7)                      # RoI pooling: 96 regions of 8 maps
    assert torch.equal(as_chw(pooled), pooled[0])
    assert chw_note(pooled).startswith("region 0 of 96") and chw_note(torch.zeros(1, 8, 3, 4)) == ""
    with pytest.raises(ValueError, match="empty"):         # no proposal survived: a message, not IndexError
        as_chw(torch.zeros(0, 256, 7, 7))
    m = build_mosaic(torch.rand(1, 2048, 1, 1))  # after global pooling: 2048 tiles of 1×1
    assert m.num_tiles == 2048 and m.tile_size == (1, 1)
    # a 1×1 map's own range is one value: per channel, every tile would be the same colour; over the layer,
    # the values 0, 1, 2, 3 get viridis at 0, 1/3, 2/3 and 1 of its scale
    small = build_mosaic(torch.arange(4.0).reshape(4, 1, 1), MosaicOptions(norm="channel", columns=4))
    assert small.norm == "layer" and small.options.norm == "channel"
    table = lut("viridis")
    assert [tuple(small.image[1, 1 + 2 * i]) for i in range(4)] == [tuple(table[k]) for k in (0, 85, 170, 255)]
    for bad in (dict(order="random"), dict(norm="global"), dict(colormap="jet"), dict(top_k=0),
                dict(norm="fixed", fixed_range=(1.0, 1.0))):
        with pytest.raises(ValueError):
            MosaicOptions(**bad)


def test_channel_image_is_rgba_of_one_channel():
    act = torch.arange(12, dtype=torch.float32).reshape(3, 2, 2)
    img = channel_image(act, 1, "gray")
    assert img.shape == (2, 2, 4) and (img[..., 3] == 255).all()
    assert list(img[..., 0].ravel()) == [0, 85, 170, 255]
    # (its opacity over a photo: tests/test_heatmaps.py, explorer.core.heatmaps.channel_overlay)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mosaic_on_cuda_matches_cpu():
    act = torch.randn(64, 9, 9)
    cpu = build_mosaic(act, MosaicOptions(order="mean", colormap="rdbu"))
    gpu = build_mosaic(act.cuda(), MosaicOptions(order="mean", colormap="rdbu"))
    np.testing.assert_array_equal(cpu.channels, gpu.channels)
    assert np.abs(cpu.image.astype(int) - gpu.image.astype(int)).max() <= 1


def test_tile_sheet_upscales_small_maps_with_nearest_neighbour_for_a_figure():
    """New-user trial: resnet18's layer4 (512 maps of 7×7) exported as 281×121 px. On the sheet each tile is ×7
    (49 px ≥ 48) and the grid as square as possible: 23 columns (⌈√512⌉), ⌈512/23⌉ = 23 rows, 2 px gaps, so
    2 + 23·(49 + 2) = 1175 px each way; every feature value a 7×7 square of its mosaic colour."""
    act = torch.relu(torch.randn(512, 7, 7, generator=torch.Generator().manual_seed(3)))
    m = build_mosaic(act, MosaicOptions(fit=(480, 200), shrink=None))   # laid out for a wide, short view
    assert (m.width, m.height) == (281, 121)                             # what the dock showed and exported
    sheet = tile_sheet(m, min_tile_px=48, gap=2)
    assert sheet.scale == 7 and sheet.tile_size == (49, 49) and sheet.grid == (23, 23)
    assert sheet.image.shape == (1175, 1175, 3)
    for t in (0, 22, 23, 300, 511):
        mx, my = m.tile_origin(t)
        x, y = sheet.tile_origin(t)
        tile = sheet.image[y:y + 49, x:x + 49]
        expected = m.image[my:my + 7, mx:mx + 7]
        for fy, fx in ((0, 0), (3, 5), (6, 6)):   # each feature value fills its 7×7 square, one colour
            assert (tile[fy * 7:fy * 7 + 7, fx * 7:fx * 7 + 7] == expected[fy, fx]).all()
    # the gaps and the empty cells after the last tile are the background
    x, y = sheet.tile_origin(511)
    assert (sheet.image[y:y + 49, x + 49:x + 51] == BACKGROUND).all()
    assert (sheet.image[-50:-2, -50:-2] == BACKGROUND).all()   # cell 528: no tile


def test_tile_sheet_keeps_large_maps_and_caps_its_size():
    act = torch.rand(16, 55, 50)
    sheet = tile_sheet(build_mosaic(act), min_tile_px=48, gap=2)
    assert sheet.scale == 1 and sheet.tile_size == (55, 50)
    rows, cols = sheet.grid
    assert sheet.image.shape == (2 + rows * 57, 2 + cols * 52, 3)
    # 4096 maps of 1×1 (a classifier's features): ×48 would be 64 columns of 48 px; capped at 1000 px, ×13
    big = tile_sheet(build_mosaic(torch.rand(4096)), min_tile_px=48, gap=2, max_side=1000)
    assert big.grid == (64, 64) and big.scale == 13 and max(big.image.shape[:2]) == 2 + 64 * 15 <= 1000
