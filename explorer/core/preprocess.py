"""Turning an RGB uint8 frame into what a zoo model expects, and remembering how to map back.

Per ZooEntry.preprocess:
- "imagenet": torchvision's ImageClassification preset, i.e. what `Weights.transforms()` returns for the
  classifiers (resize the shorter side to 256, centre-crop 224, scale to 0..1, normalise with ImageNet's
  mean/std). Models without torchvision weights (alexnet2012 at 227) get the same preset at their own input
  size (resize = crop·256/224); model specs without torchvision weights use their entry's mean, std, resize
  and interpolation (timm's data config), ImageNet's when the model does not say.
- "segmentation": the SemanticSegmentation preset of FCN's weights (shorter side to 520, normalise; no crop).
- "detection": the raw image as float 0..1; torchvision's detectors normalise and resize inside
  (GeneralizedRCNNTransform) and map boxes back to the size they were given.
- "yolo": resize to the entry's input size (448×448, aspect not kept, as darknet does) and scale to 0..1.

The transforms run on the engine's device (on CUDA the uint8 frame is copied through a pinned host buffer
with a non-blocking copy, then resized there), so only the 8-bit image crosses the bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from explorer.core.zoo import ZooEntry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LUMA = (0.299, 0.587, 0.114)


@dataclass
class Prepared:
    """A model input and the map from source pixels to model-input pixels: input = source·scale − offset."""

    tensor: "torch.Tensor"                 # (1, 3, H, W) float on the device
    model_input: Any                       # what model(...) is called with (detectors take a list of (3, H, W))
    input_size: tuple[int, int]            # (H, W) of `tensor`
    scale: tuple[float, float]             # (sx, sy) model-input pixels per source pixel
    offset: tuple[float, float] = (0.0, 0.0)  # (x, y) crop offset in model-input pixels (centre crop)


def _classification_preset(entry: "ZooEntry"):
    from torchvision.transforms._presets import ImageClassification

    from explorer.core import zoo

    weights = zoo.tv_weights_enum(entry)
    if weights is not None:
        preset = weights.transforms()
        if isinstance(preset, ImageClassification):
            crop_h, crop_w = (int(v) for v in entry.input_size)
            if [crop_h, crop_w] == list(preset.crop_size) * (2 if len(preset.crop_size) == 1 else 1):
                return preset
            # another input size (Model > Input size…, --input): the weights' own preset scaled to it, so that
            # the model sees what the window says (resize·crop'/crop, their mean, std and interpolation)
            resized = ImageClassification(crop_size=crop_h,
                                          resize_size=int(round(crop_h * preset.resize_size[0] / preset.crop_size[0])),
                                          mean=tuple(preset.mean), std=tuple(preset.std),
                                          interpolation=preset.interpolation, antialias=preset.antialias)
            if crop_w != crop_h:
                resized.crop_size = [crop_h, crop_w]
            return resized
    # no torchvision weights: the entry's own normalisation (timm's data config), else ImageNet's
    from torchvision.transforms import InterpolationMode

    crop_h, crop_w = (int(v) for v in entry.input_size)
    preset = ImageClassification(crop_size=crop_h, resize_size=entry.resize_size or int(round(crop_h * 256 / 224)),
                                 mean=tuple(entry.mean or IMAGENET_MEAN), std=tuple(entry.std or IMAGENET_STD),
                                 interpolation=InterpolationMode(entry.interpolation))
    if crop_w != crop_h:
        preset.crop_size = [crop_h, crop_w]  # center_crop takes (h, w); the constructor only a square
    return preset


def _segmentation_preset(entry: "ZooEntry"):
    from torchvision.transforms._presets import SemanticSegmentation

    from explorer.core import zoo

    weights = zoo.tv_weights_enum(entry)
    if weights is not None:
        preset = weights.transforms()
        if isinstance(preset, SemanticSegmentation):
            return preset
    return SemanticSegmentation(resize_size=int(entry.input_size[0]))


def crop_start(size: int, crop: int) -> int:
    """Where torchvision's center_crop starts, in the resized image's pixels: int(round((size − crop) / 2));
    a crop larger than the image pads it by (crop − size) // 2 on the left/top first, so it starts before it."""
    return int(round((size - crop) / 2.0)) if size >= crop else -((crop - size) // 2)


class Preprocessor:
    """Callable `prep(image) -> Prepared` for one zoo entry on one device; keeps a pinned buffer on CUDA."""

    def __init__(self, entry: "ZooEntry", device: str = "cpu") -> None:
        self.entry = entry
        self.device = device
        self.kind = entry.preprocess
        self._pinned: Any = None
        self._norm_cache: tuple[Any, Any] | None = None
        if self.kind == "imagenet":
            self.preset = _classification_preset(entry)
        elif self.kind == "segmentation":
            self.preset = _segmentation_preset(entry)
        elif self.kind in ("detection", "yolo"):
            self.preset = None
        else:
            raise ValueError(f"unknown preprocessing '{self.kind}' for {entry.name}")
        # the lean path does what a bilinear, antialiased preset does (every torchvision and zoo classifier);
        # another interpolation (timm's bicubic, say) goes through the preset itself
        self._lean = self.preset is None or (
            str(getattr(self.preset, "interpolation", "")).lower().endswith("bilinear")
            and bool(getattr(self.preset, "antialias", True)))

    def _upload(self, image: np.ndarray) -> "torch.Tensor":
        """uint8 HWC numpy → uint8 CHW tensor on the device (pinned + non_blocking on CUDA)."""
        import torch

        t = torch.from_numpy(np.ascontiguousarray(image))
        if self.device.startswith("cuda"):
            if self._pinned is None or self._pinned.shape != t.shape:
                self._pinned = torch.empty(t.shape, dtype=torch.uint8, pin_memory=True)
            # Reusing the pinned buffer is safe: the engine synchronises after each forward pass, so the
            # previous frame's asynchronous copy has finished before this one overwrites the buffer.
            self._pinned.copy_(t)
            t = self._pinned.to(self.device, non_blocking=True)
        elif self.device != "cpu":
            t = t.to(self.device)
        return t.permute(2, 0, 1)

    def __call__(self, image: np.ndarray) -> Prepared:
        import torch

        h, w = image.shape[:2]
        chw = self._upload(image)  # a view of the HWC frame: (3, H, W) with channels-last strides, no copy
        if self.kind == "imagenet":
            p = self.preset
            short = p.resize_size[0]
            # torchvision's _compute_resized_output_size: the shorter side to `short`, the longer one floored
            rh, rw = (short, int(short * w / h)) if h <= w else (int(short * h / w), short)
            crop_h, crop_w = (int(v) for v in (p.crop_size * 2)[:2])
            if self._lean and rh >= crop_h and rw >= crop_w:
                x = self._normalized(self._resize(chw, rh, rw), crop_h, crop_w)
            else:  # another interpolation, or a crop larger than the image (center_crop pads): the preset itself
                x = p(chw).unsqueeze(0)
                crop_h, crop_w = (int(v) for v in x.shape[-2:])
            offset = (float(crop_start(rw, crop_w)), float(crop_start(rh, crop_h)))
            if self.entry.input_channels == 1:  # a grey-level network: ITU-R BT.601 luma of the normalised RGB
                x = (x * x.new_tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
            return Prepared(x, x, (crop_h, crop_w), (rw / w, rh / h), offset)
        if self.kind == "segmentation":
            short = self.preset.resize_size[0]
            rh, rw = (short, int(short * w / h)) if h <= w else (int(short * h / w), short)
            if self._lean:
                x = self._normalized(self._resize(chw, rh, rw), rh, rw)
            else:
                x = self.preset(chw).unsqueeze(0)
            ih, iw = x.shape[-2:]
            return Prepared(x, x, (int(ih), int(iw)), (iw / w, ih / h))
        if self.kind == "detection":
            x = torch.empty((3, h, w), dtype=torch.float32, device=chw.device)
            torch.mul(chw, 1.0 / 255.0, out=x)  # uint8 → float 0..1 in one pass (convert_image_dtype's x/255)
            return Prepared(x.unsqueeze(0), [x], (h, w), (1.0, 1.0))
        # yolo: darknet resizes the whole image to the network's size, aspect not kept
        ih, iw = (int(v) for v in self.entry.input_size)
        r = self._resize(chw, ih, iw)
        x = torch.empty((1, 3, ih, iw), dtype=torch.float32, device=chw.device)
        torch.mul(r.unsqueeze(0), 1.0 / 255.0, out=x)
        return Prepared(x, x, (ih, iw), (iw / w, ih / h))

    # -- the lean path: resize the uint8 frame, then convert and normalise in one step ---------------------------
    @staticmethod
    def _resize(chw: "torch.Tensor", h: int, w: int) -> "torch.Tensor":
        """Bilinear, antialiased, as the presets resize. torchvision's v2 resize keeps a uint8 image uint8 on the
        CPU (PyTorch's own AVX2 kernel for uint8 channels-last: 0.26 ms for 640×480 → 341×256 on one core here,
        against 1.8 ms for the v1 preset, which converts to float, resizes and rounds back). It differs from the
        v1 preset by at most one grey level (13 % of the pixels of a photograph; tests/test_preprocess.py
        bounds what that does to the predictions). On CUDA it converts to float itself."""
        from torchvision.transforms.v2 import functional as F2

        return F2.resize(chw, [h, w], antialias=True)

    def _normalized(self, resized: "torch.Tensor", crop_h: int, crop_w: int) -> "torch.Tensor":
        """(x − 255·mean) / (255·std) of the centre crop, written once into a new (1, 3, h, w) float tensor:
        the preset's convert_image_dtype, normalize and the crop's copy in two passes over the crop."""
        import torch

        _, rh, rw = resized.shape
        top, left = int(round((rh - crop_h) / 2.0)), int(round((rw - crop_w) / 2.0))
        crop = resized[:, top:top + crop_h, left:left + crop_w].unsqueeze(0)
        mean, inv_std = self._norm(crop.device)
        out = torch.empty((1, 3, crop_h, crop_w), dtype=torch.float32, device=crop.device)
        torch.sub(crop, mean, out=out)
        return out.mul_(inv_std)

    def _norm(self, device: Any) -> tuple["torch.Tensor", "torch.Tensor"]:
        import torch

        if self._norm_cache is None or self._norm_cache[0].device != torch.device(device):
            p = self.preset
            mean = torch.tensor(p.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1) * 255.0
            inv_std = 1.0 / (torch.tensor(p.std, dtype=torch.float32, device=device).view(1, 3, 1, 1) * 255.0)
            self._norm_cache = (mean, inv_std)
        return self._norm_cache
