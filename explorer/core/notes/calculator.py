"""The notes' parameter arithmetic: k×k convolutions, stacked 3×3 against one 5×5, 1×1 reductions.

Parameters of a convolution: k_h·k_w·(C_in/groups)·C_out weights (+ C_out biases) (PyTorch's Conv2d).
Receptive field of a stack of stride-1 convolutions: r = 1 + Σ(k_i − 1) (Araujo et al., Distill 2019).
VGG's argument (Simonyan & Zisserman 2015, §2.3): two stacked 3×3 convolutions see a 5×5 field with
2·3²·C² instead of 5²·C² weights. GoogLeNet's (Szegedy et al. 2015, §4, Table 1): a 1×1 reduction before the
3×3 and 5×5 convolutions cuts their input channels and so their parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.core.errors import ExplorerError


class CalculatorInputError(ExplorerError):
    """A calculator input that is not a valid convolution."""


@dataclass(frozen=True)
class ConvSpec:
    """One convolution: kernel k×k, channels in and out, groups, bias, stride."""

    k: int
    c_in: int
    c_out: int
    groups: int = 1
    bias: bool = False
    stride: int = 1

    def __post_init__(self) -> None:
        for name in ("k", "c_in", "c_out", "groups", "stride"):
            if getattr(self, name) < 1:
                raise CalculatorInputError(f"{name} must be a positive integer, got {getattr(self, name)}.")
        if self.c_in % self.groups or self.c_out % self.groups:
            raise CalculatorInputError(
                f"groups ({self.groups}) must divide both input ({self.c_in}) and output ({self.c_out}) channels.")

    @property
    def weights(self) -> int:
        return self.k * self.k * (self.c_in // self.groups) * self.c_out

    @property
    def biases(self) -> int:
        return self.c_out if self.bias else 0

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def formula(self) -> str:
        """The arithmetic as the notes write it, e.g. "5×5×48×128×2 = 307,200"."""
        if self.groups == 1:
            text = f"{self.k}×{self.k}×{self.c_in}×{self.c_out}"
        else:  # per group: k·k·(C_in/g)·(C_out/g), times g groups
            text = f"{self.k}×{self.k}×{self.c_in // self.groups}×{self.c_out // self.groups}×{self.groups}"
        text += f" = {self.weights:,}"
        if self.bias:
            text += f" (+{self.biases:,} bias = {self.params:,})"
        return text

    def macs(self, out_h: int, out_w: int) -> int:
        """Multiply-accumulates for an output of out_h × out_w positions."""
        return self.weights * out_h * out_w


def conv_params(k: int, c_in: int, c_out: int, groups: int = 1, bias: bool = False) -> int:
    """Parameters of one k×k convolution."""
    return ConvSpec(k, c_in, c_out, groups, bias).params


def receptive_field(kernels: list[int], strides: list[int] | None = None) -> int:
    """Receptive field of a stack: r = 1 + Σ (k_i − 1)·Π_{j<i} s_j."""
    strides = strides or [1] * len(kernels)
    r, jump = 1, 1
    for k, s in zip(kernels, strides):
        r += (k - 1) * jump
        jump *= s
    return r


@dataclass(frozen=True)
class StackComparison:
    """n stacked k×k convolutions against one convolution with the same receptive field."""

    stacked: list[ConvSpec]
    single: ConvSpec
    stacked_params: int
    single_params: int
    stacked_rf: int
    single_rf: int

    @property
    def saving(self) -> float:
        """Fraction of the single convolution's parameters saved by the stack."""
        return 1.0 - self.stacked_params / self.single_params


def stacked_vs_single(channels: int = 128, k: int = 3, n: int = 2, bias: bool = False) -> StackComparison:
    """VGG: n stacked k×k convolutions (C→C) against one convolution of the same receptive field."""
    stacked = [ConvSpec(k, channels, channels, bias=bias) for _ in range(n)]
    rf = receptive_field([k] * n)
    single = ConvSpec(rf, channels, channels, bias=bias)
    return StackComparison(stacked, single, sum(c.params for c in stacked), single.params, rf, rf)


@dataclass(frozen=True)
class ReductionComparison:
    """A k×k convolution C_in→C_out, directly or after a 1×1 reduction C_in→C_red."""

    direct: ConvSpec
    reduce: ConvSpec
    after: ConvSpec
    direct_params: int
    reduced_params: int
    receptive_field: int        # the same both ways: the 1×1 adds nothing to it

    @property
    def saving(self) -> float:
        return 1.0 - self.reduced_params / self.direct_params


def reduction_1x1(c_in: int, c_red: int, c_out: int, k: int, bias: bool = False) -> ReductionComparison:
    """GoogLeNet: a 1×1 reduction before a k×k convolution."""
    direct = ConvSpec(k, c_in, c_out, bias=bias)
    reduce = ConvSpec(1, c_in, c_red, bias=bias)
    after = ConvSpec(k, c_red, c_out, bias=bias)
    return ReductionComparison(direct, reduce, after, direct.params, reduce.params + after.params,
                               receptive_field([1, k]))


@dataclass(frozen=True)
class InceptionBlock:
    """An inception module's channel numbers as in Szegedy et al. 2015, Table 1."""

    name: str
    c_in: int
    n1x1: int
    n3x3red: int
    n3x3: int
    n5x5red: int
    n5x5: int
    pool_proj: int


# Table 1 of the GoogLeNet paper, row "inception (3a)" (input 28×28×192).
INCEPTION_3A = InceptionBlock("inception (3a)", 192, 64, 96, 128, 16, 32, 32)


@dataclass(frozen=True)
class AlexNetLayer:
    name: str
    spec: ConvSpec
    notes_value: int       # the number written in the study notes
    notes_text: str        # the product as the notes write it


# The notes' AlexNet arithmetic (weights only, two GPUs): conv2, conv4 and conv5 see only their own GPU's half
# (groups=2); conv3 crosses both GPUs (full 256 input channels, 2×192 outputs).
ALEXNET_NOTES: list[AlexNetLayer] = [
    AlexNetLayer("conv1", ConvSpec(11, 3, 96, groups=1), 34_848, "11×11×3×48×2"),
    AlexNetLayer("conv2", ConvSpec(5, 96, 256, groups=2), 307_200, "5×5×48×128×2"),
    AlexNetLayer("conv3", ConvSpec(3, 256, 384, groups=1), 884_736, "3×3×128×2×192×2"),
    AlexNetLayer("conv4", ConvSpec(3, 384, 384, groups=2), 663_552, "3×3×192×192×2"),
    AlexNetLayer("conv5", ConvSpec(3, 384, 256, groups=2), 442_368, "3×3×192×128×2"),
]


# The calculator's input ranges, one per kind of input, the same in every box (the views show them).
KERNEL_RANGE = (1, 15)        # AlexNet's 11×11 is the largest kernel the notes meet
CHANNEL_RANGE = (1, 8192)     # VGG's fc layers have 4096; every conv in the zoo has fewer
STACK_RANGE = (1, 10)         # stacked layers n


def saving_text(ours: int, theirs: int, what: str) -> str:
    """`ours` parameters against `theirs`: "saving: 28%" when fewer, "costs 5.0× as many as {what}" when more
    (a negative percentage reads badly: 1×1 layers stacked five deep cost five times one 1×1)."""
    if ours <= theirs:
        return f"saving: {(1.0 - ours / theirs) * 100:.0f}%"
    return f"no saving: costs {ours / theirs:.1f}× as many as {what}"


def dense_params(n_in: int, n_out: int, bias: bool = False) -> int:
    """Parameters of a fully connected layer."""
    return n_in * n_out + (n_out if bias else 0)
