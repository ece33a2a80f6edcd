"""Per-op arithmetic for the captured graph: parameters, multiply-accumulates, receptive-field geometry.

Conventions (the notes' and torchvision's):
- Parameters are split into weights and biases; a convolution's weights are k_h×k_w×(C_in/groups)×C_out, a
  linear layer's C_in×C_out, a batch norm's 2×C (scale and shift). Frozen batch norm holds buffers, not
  parameters (0), as in torchvision's `num_params` metadata.
- MACs count what torchvision's `_ops` metadata counts (the "GFLOPS" of its model tables are multiply-
  accumulates of convolutions and matrix products, as torch.utils.flop_counter counts them, halved):
  conv = H_out·W_out·C_out·(k_h·k_w·C_in/groups) per image, linear = C_in·C_out per row. Pooling, batch norm,
  activations and additions are left out (a fraction of a percent for these networks).
- Receptive fields follow Araujo, Norris, Sim, "Computing Receptive Fields of Convolutional Neural Networks",
  Distill 2019: with kernel k (dilated: d·(k-1)+1), stride s and padding p along the height axis,
  r_out = r_in + (k-1)·j_in, j_out = j_in·s, start_out = start_in + ((k-1)/2 - p)·j_in. Coordinates are
  input-pixel indices (the centre of the first input pixel is 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

Shape = tuple[int, ...]
TIMES = "×"


def fmt_int(n: int) -> str:
    """12345 -> '12,345' (the notes' thousands separators)."""
    return f"{int(n):,}"


def fmt_shape(shape: Shape) -> str:
    """(3, 224, 224) -> '3×224×224'."""
    return TIMES.join(str(d) for d in shape)


# --------------------------------------------------------------------------------------------- parameters
def split_params(module: "nn.Module") -> tuple[int, int]:
    """(weights, biases) held directly by `module` (its own parameters, not its children's)."""
    weights = biases = 0
    for name, p in module.named_parameters(recurse=False):
        if name.endswith("bias"):
            biases += p.numel()
        else:
            weights += p.numel()
    return weights, biases


def _bias_suffix(biases: int) -> str:
    return f" (+{fmt_int(biases)} bias)" if biases else ""


def param_formula(module: "nn.Module", weights: int, biases: int, *, flat_from: Shape | None = None) -> str:
    """The parameter arithmetic of one layer as text, e.g. '5×5×48×256 = 307,200 (+256 bias)'.

    `flat_from` is the (C, H, W) map a linear layer's input was flattened from: fc6 of AlexNet is then written
    6×6×256×4096, the way the notes reason, instead of 9216×4096.
    """
    from torch import nn

    if weights + biases == 0:
        return ""
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        w = module.weight
        factors = [*w.shape[2:], w.shape[1], w.shape[0]]  # kernel dims, C_in/groups, C_out
        return f"{TIMES.join(map(str, factors))} = {fmt_int(weights)}{_bias_suffix(biases)}"
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        w = module.weight  # (C_in, C_out/groups, k...)
        factors = [*w.shape[2:], w.shape[0], w.shape[1]]
        return f"{TIMES.join(map(str, factors))} = {fmt_int(weights)}{_bias_suffix(biases)}"
    if isinstance(module, nn.Linear):
        cin, cout = module.in_features, module.out_features
        if (flat_from is not None and len(flat_from) == 3 and math.prod(flat_from) == cin
                and flat_from[1:] != (1, 1)):  # a globally pooled map is just C_in
            c, h, w_ = flat_from
            factors = [h, w_, c, cout]
        else:
            factors = [cin, cout]
        return f"{TIMES.join(map(str, factors))} = {fmt_int(weights)}{_bias_suffix(biases)}"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm,
                           nn.InstanceNorm2d)) and weights == biases:
        return f"2{TIMES}{weights} = {fmt_int(weights + biases)}"
    return f"{fmt_int(weights)}{_bias_suffix(biases)}"


# ------------------------------------------------------------------------------------------------- MACs
def module_macs(module: "nn.Module", input_shapes: list[Shape], output_shapes: list[Shape]) -> int:
    """Multiply-accumulates of one call of a leaf module (convolutions and linear layers; 0 otherwise)."""
    from torch import nn

    if not output_shapes:
        return 0
    out = output_shapes[0]
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        # every output element costs one dot product of k·k·C_in/groups
        kernel_volume = math.prod(module.weight.shape[1:])
        return math.prod(out) * kernel_volume
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        # every input element is scattered through a k·k·C_out/groups kernel
        if not input_shapes:
            return 0
        return math.prod(input_shapes[0]) * math.prod(module.weight.shape[1:])
    if isinstance(module, nn.Linear):
        return math.prod(out) * module.in_features
    if isinstance(module, nn.Bilinear):
        return math.prod(out) * module.in1_features * module.in2_features
    return 0


# ------------------------------------------------------------------------------------------ receptive field
@dataclass(frozen=True)
class RF:
    """Receptive-field geometry of a tensor along the height axis, in input pixels (Araujo et al. 2019)."""

    size: float   # r: receptive field size
    jump: float   # j: effective stride
    start: float  # centre of the first output pixel

    @staticmethod
    def identity() -> "RF":
        return RF(1.0, 1.0, 0.0)

    def through(self, kernel: int, stride: int, padding: float, dilation: int = 1) -> "RF":
        k = dilation * (kernel - 1) + 1
        return RF(self.size + (k - 1) * self.jump, self.jump * stride,
                  self.start + ((k - 1) / 2 - padding) * self.jump)


def merge_rf(rfs: list[RF | None]) -> RF | None:
    """Receptive field of a merge (add, cat): the largest of the inputs'.

    Inputs without one (a squeeze-and-excitation vector broadcast over the map) are left out: the merge keeps
    the map's local field, which is what a viewer wants to show, although such a gate sees the whole image.
    """
    known = [r for r in rfs if r is not None]
    if not known:
        return None
    return max(known, key=lambda r: (r.size, r.jump))


def _first(v: Any) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


def _spatial(shape: Shape) -> tuple[int, ...]:
    return tuple(shape[2:]) if len(shape) >= 3 else ()


# What an op does to the receptive field: "same" (elementwise), "window" (kernel/stride/padding), "global"
# (every output sees the whole input: flatten, linear, global pooling -> None), "upsample", "reset" (the
# tensor is a new image, e.g. the detectors' resized input), "unknown" (-> None).
def module_rf(module: "nn.Module", rf_in: RF | None, input_shapes: list[Shape],
              output_shapes: list[Shape]) -> RF | None:
    """Receptive field of a leaf module's (first) output given its input's."""
    from torch import nn

    name = type(module).__name__
    if name == "GeneralizedRCNNTransform":
        return RF.identity()  # the detector's network input is the resized image: measure in its pixels
    if rf_in is None:
        return None
    in_sp = _spatial(input_shapes[0]) if input_shapes else ()
    out_sp = _spatial(output_shapes[0]) if output_shapes else ()
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        pad = module.padding
        if isinstance(pad, str):  # 'same' / 'valid'
            k = module.dilation[0] * (module.kernel_size[0] - 1)
            padding = k / 2 if pad == "same" else 0
        else:
            padding = pad[0]
        return rf_in.through(module.kernel_size[0], module.stride[0], padding, module.dilation[0])
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        return rf_in.through(_first(module.kernel_size), _first(module.stride or module.kernel_size),
                             _first(module.padding), _first(module.dilation))
    if isinstance(module, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        return rf_in.through(_first(module.kernel_size), _first(module.stride or module.kernel_size),
                             _first(module.padding))
    if name in ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
                "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"):
        return adaptive_rf(rf_in, in_sp, out_sp)
    if name == "LastLevelMaxPool":  # torchvision FPN's extra level: F.max_pool2d(x, 1, 2, 0)
        return rf_in.through(1, 2, 0)
    if isinstance(module, (nn.Linear, nn.Flatten, nn.Bilinear)):
        return None
    if isinstance(module, (nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d)):
        return upsample_rf(rf_in, in_sp, out_sp, getattr(module, "mode", "nearest"))
    if in_sp and out_sp and in_sp == out_sp:
        return rf_in  # elementwise on the map (norm, activation, dropout, identity ...)
    if not in_sp and not out_sp and input_shapes and output_shapes and input_shapes[0] == output_shapes[0]:
        return rf_in
    return None


def adaptive_windows(size_in: int, size_out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling windows along one axis: output i pools input [floor(i·in/out),
    ceil((i+1)·in/out)) (aten/src/ATen/native/AdaptiveAveragePooling.cpp, start_index/end_index)."""
    return [((i * size_in) // size_out, -(-((i + 1) * size_in) // size_out)) for i in range(size_out)]


def adaptive_rf(rf_in: RF, in_sp: tuple[int, ...], out_sp: tuple[int, ...]) -> RF | None:
    """Adaptive pooling: identity when sizes agree, None when global (1×1), else a window as wide as the widest
    actual one (uneven sizes give windows of two widths, e.g. 8 → 7: all 2 wide, not ceil(8/7) + 1 = 3), an
    average stride of in/out and the first window's centre."""
    if not in_sp or not out_sp:
        return None
    h_in, h_out = in_sp[0], out_sp[0]
    if h_in == h_out:
        return rf_in
    if all(o == 1 for o in out_sp):
        return None
    windows = adaptive_windows(h_in, h_out)
    widest = max(end - start for start, end in windows)
    first = windows[0][1] - windows[0][0]
    return RF(rf_in.size + (widest - 1) * rf_in.jump, rf_in.jump * h_in / h_out,
              rf_in.start + (first - 1) / 2 * rf_in.jump)


def upsample_rf(rf_in: RF, in_sp: tuple[int, ...], out_sp: tuple[int, ...], mode: str) -> RF | None:
    """Upsampling divides the jump by the scale; bilinear interpolation mixes 2 neighbours (one more jump)."""
    if not in_sp or not out_sp or out_sp[0] == 0:
        return None
    scale = out_sp[0] / in_sp[0]
    extra = rf_in.jump if mode in ("bilinear", "linear", "bicubic", "trilinear") else 0.0
    jump = rf_in.jump / scale
    # align_corners=False: output pixel i samples input coordinate (i + 0.5)/scale - 0.5
    start = rf_in.start + (0.5 / scale - 0.5) * rf_in.jump
    return RF(rf_in.size + extra, jump, start)


def pool_call_rf(rf_in: RF | None, args: tuple, kwargs: dict, kind: str) -> RF | None:
    """Receptive field of functional max/avg pooling: F.max_pool2d(x, kernel_size, stride, padding, dilation)."""
    if rf_in is None:
        return None
    names = ["input", "kernel_size", "stride", "padding", "dilation"]
    vals = dict(zip(names, args))
    vals.update(kwargs)
    k = _first(vals.get("kernel_size", 1))
    s = vals.get("stride") or k
    s = _first(s) if s else k
    p = _first(vals.get("padding", 0))
    d = _first(vals.get("dilation", 1)) if kind == "max" else 1
    return rf_in.through(k, s, p, d)


def as_number(v: float | None) -> int | float | None:
    """A float that is a whole number as int (receptive fields and strides are whole pixels for most nets)."""
    if v is None:
        return None
    if abs(v - round(v)) < 1e-9:
        return int(round(v))
    return round(v, 4)


def window_output_size(module: "nn.Module", size: int) -> int | None:
    """The output length along one axis of a conv/pool layer for an input of `size` (None if not a window op)."""
    from torch import nn

    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
                           nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        k = _first(module.kernel_size)
        s = _first(getattr(module, "stride", None) or k)
        p = getattr(module, "padding", 0)
        if isinstance(p, str):
            return size if p == "same" else size - k + 1
        p = _first(p)
        d = _first(getattr(module, "dilation", 1)) if not isinstance(module, (nn.AvgPool1d, nn.AvgPool2d,
                                                                                nn.AvgPool3d)) else 1
        num = size + 2 * p - d * (k - 1) - 1
        if getattr(module, "ceil_mode", False):
            return max(-(-num // s) + 1, 0) if num >= 0 else 0
        return max(num // s + 1, 0) if num >= 0 else 0
    return None
