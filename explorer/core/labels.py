"""Class names for every zoo model, offline.

torchvision ships its category lists inside the weights enums' metadata (`Weights.meta["categories"]`), so
they are available without downloading any weights: ImageNet's 1000 classes, COCO's 91 indices (with
'__background__' and 'N/A' placeholders, torchvision's detection numbering) and PASCAL VOC's 21 (background
first). The project's own detectors use the synthetic scenes' SHAPE_CLASSES (explorer/core/scenes.py).
"""

from __future__ import annotations

from functools import lru_cache

_SOURCES = {
    "imagenet": ("torchvision.models", "ResNet18_Weights"),
    "coco": ("torchvision.models.detection", "FasterRCNN_ResNet50_FPN_Weights"),
    "voc": ("torchvision.models.segmentation", "FCN_ResNet50_Weights"),
}
BACKGROUND = "__background__"


@lru_cache(maxsize=None)
def categories(kind: str) -> tuple[str, ...]:
    """All class names of a category set, indexed as the models index them.

    "imagenet": 1000 names; "coco": 91 (torchvision's detection indices, 0 = background); "voc": 21 (0 =
    background); "shapes": the synthetic scenes' classes (no background); "weights:Enum.MEMBER": the categories
    of those torchvision weights (torchvision:NAME specs whose list is none of the above, e.g. Keypoint R-CNN's
    person/no person). Unknown kinds give ().
    """
    if kind.startswith("weights:"):
        import torchvision.models as tvm

        try:
            weights = tvm.get_weight(kind[len("weights:"):])
        except (ValueError, AttributeError, KeyError):
            return ()
        names = tuple(weights.meta.get("categories") or ())
        if names and type(weights).__module__.startswith("torchvision.models.detection"):
            names = (BACKGROUND, *names[1:])  # a detector's class 0 is the background ('no person' for keypoints)
        return names
    if kind in _SOURCES:
        import importlib

        module, enum_name = _SOURCES[kind]
        enum = getattr(importlib.import_module(module), enum_name)
        return tuple(next(iter(enum)).meta["categories"])
    if kind == "shapes":
        try:
            from explorer.core.scenes import SHAPE_CLASSES
        except ImportError:
            return ()
        return tuple(SHAPE_CLASSES)
    return ()


def class_names(kind: str, num_classes: int | None = None, background: bool | None = None) -> list[str]:
    """Names for a model with `num_classes` outputs.

    background: whether output 0 is the background (torchvision detectors, FCN). None guesses from the sizes:
    a list without a background entry gets one prepended when the model has exactly one more output; a list
    with one gets it removed when the model has exactly one fewer (YOLOv1's 20 VOC classes).
    Missing names read "class N".
    """
    names = list(categories(kind))
    has_bg = bool(names) and names[0] == BACKGROUND
    if num_classes is not None and names:
        if background is True and not has_bg:
            names = [BACKGROUND] + names
        elif background is False and has_bg:
            names = names[1:]
        elif background is None:
            if not has_bg and num_classes == len(names) + 1:
                names = [BACKGROUND] + names
            elif has_bg and num_classes == len(names) - 1:
                names = names[1:]
    if num_classes is not None:
        names = (names + [f"class {i}" for i in range(len(names), num_classes)])[:num_classes]
    return names


PLACEHOLDER = "N/A"  # torchvision's COCO list names the 10 ids the released dataset left unused "N/A"


def label(names: list[str] | tuple[str, ...], index: int) -> str:
    """The class's name; an index past the list reads "class N", and one of COCO's unused ids (a random-weights
    detector predicts them) says what it is rather than "N/A" (new-user trial)."""
    if not 0 <= index < len(names):
        return f"class {index}"
    name = names[index]
    return f"unused COCO id {index}" if name == PLACEHOLDER else name


def voc_palette(n: int = 256) -> "np.ndarray":
    """PASCAL VOC's colour map (VOCdevkit's labelcolormap.m: the bits of the class index spread over RGB),
    (n, 3) uint8; class 1 (aeroplane) is (128, 0, 0)."""
    import numpy as np

    cmap = np.zeros((n, 3), np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap
