"""The model zoo: every network of the study notes, one registry entry each.

Command-line names are torchvision's builder names for torchvision models, plus the project's own (models/).
Torchvision models are built exactly as torchvision builds them when it loads its default pretrained weights
(frozen batch norm in detection backbones, GoogLeNet without aux heads, FCN with its aux head), so that those
weights load without a key mismatch. Building never downloads anything: weights are applied separately
(explorer.core.weights).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

from explorer.core.errors import UnknownModelError

if TYPE_CHECKING:  # torch is imported lazily: the window must appear before torch loads
    from torch import nn

Task = Literal["classification", "segmentation", "detection"]


@dataclass(frozen=True)
class ModelCard:
    """A short card: where the model comes from and the idea the notes single out."""

    year: int
    paper: str          # "Krizhevsky, Sutskever, Hinton. ImageNet Classification with Deep CNNs. NeurIPS 2012"
    key_idea: str       # one or two sentences
    url: str = ""


@dataclass(frozen=True)
class ZooEntry:
    name: str                       # command-line name
    family: str                     # "AlexNet", "VGG", ... (groups the Model menu)
    task: Task
    builder: str                    # "module:function", called with builder_kwargs
    input_size: tuple[int, int]     # default (H, W) for capture, summary and preprocessing
    preprocess: str                 # "imagenet" | "detection" | "segmentation" | "yolo"
    categories: str                 # "imagenet" | "coco" | "voc" | "shapes"
    card: ModelCard
    builder_kwargs: dict[str, Any] = field(default_factory=dict)
    tv_weights: str | None = None   # torchvision weights enum member for `pretrained`, "ResNet50_Weights.IMAGENET1K_V1"
    bundled_weights: str | None = None  # path under resources/ for `bundled`
    # the builder argument that receives the names of `categories` (labels.categories): how models/, which
    # import nothing from explorer, learn their classes
    class_names_arg: str = ""
    # Models named by a spec instead (torchvision:NAME, timm:NAME, a .py/.pt/.pt2/.onnx file), made by
    # explorer.core.model_specs; zoo entries keep the defaults.
    source: str = "zoo"             # "zoo" | "torchvision" | "timm" | "python" | "torchscript" | "export" | "onnx"
    loader: Callable[[], "nn.Module"] | None = field(default=None, compare=False, repr=False)  # replaces builder
    input_channels: int = 3
    mean: tuple[float, ...] | None = None   # normalisation for preprocess "imagenet" (None: ImageNet's, or tv_weights')
    std: tuple[float, ...] | None = None
    resize_size: int | None = None          # shorter side before the centre crop (None: crop·256/224)
    interpolation: str = "bilinear"         # "bilinear" | "bicubic" | "nearest"
    pretrained_from: str = ""               # "timm": `pretrained` comes through timm's loader
    embedded_weights: bool = False          # the file carries its weights: the only choice is "embedded"
    path: str = ""                          # the file a file spec opened
    notes: tuple[str, ...] = ()             # what the UI should say about this model (assumed preprocessing, ...)
    size_bytes: int | None = None           # parameters and buffers, estimated before loading (memory check)

    @property
    def weight_choices(self) -> list[str]:
        """The weights a user can pick besides a file path."""
        if self.embedded_weights:
            return ["embedded"]
        choices = ["random"]
        if self.tv_weights or self.pretrained_from:
            choices.append("pretrained")
        if self.bundled_weights:
            choices.append("bundled")
        return choices


def _tv(name: str) -> str:
    return f"torchvision.models:{name}"


_IMAGENET = dict(task="classification", preprocess="imagenet", categories="imagenet", input_size=(224, 224))

_ENTRIES: list[ZooEntry] = [
    ZooEntry("alexnet", "AlexNet", builder=_tv("alexnet"), tv_weights="AlexNet_Weights.IMAGENET1K_V1",
             card=ModelCard(2012, "Krizhevsky, Sutskever, Hinton. ImageNet Classification with Deep Convolutional "
                                  "Neural Networks. NeurIPS 2012",
                            "ReLU activations and dropout; 5 conv + 3 dense layers. torchvision's single-GPU "
                            "variant (64-192-384-256-256 filters).",
                            "https://papers.nips.cc/paper/4824"), **_IMAGENET),
    ZooEntry("alexnet2012", "AlexNet", builder="models.alexnet2012:alexnet2012",
             card=ModelCard(2012, "Krizhevsky, Sutskever, Hinton. ImageNet Classification with Deep Convolutional "
                                  "Neural Networks. NeurIPS 2012",
                            "The original network split over two GPUs: conv2, conv4 and conv5 see only their own "
                            "GPU's half (groups=2); conv3 and the dense layers cross both.",
                            "https://papers.nips.cc/paper/4824"),
             **{**_IMAGENET, "input_size": (227, 227)}),
    *[ZooEntry(n, "VGG", builder=_tv(n), tv_weights=f"{n.upper()}_Weights.IMAGENET1K_V1",
               card=ModelCard(2014, "Simonyan, Zisserman. Very Deep Convolutional Networks for Large-Scale Image "
                                    "Recognition. ICLR 2015",
                              "Only 3×3 convolutions: two stacked 3×3 see a 5×5 field with fewer parameters "
                              "(2·3·3·C² vs 5·5·C²) and one more non-linearity.",
                              "https://arxiv.org/abs/1409.1556"), **_IMAGENET)
      for n in ("vgg11", "vgg16", "vgg19")],
    ZooEntry("googlenet", "GoogLeNet", builder=_tv("googlenet"), tv_weights="GoogLeNet_Weights.IMAGENET1K_V1",
             builder_kwargs=dict(aux_logits=False, transform_input=True, init_weights=False),
             card=ModelCard(2014, "Szegedy et al. Going Deeper with Convolutions. CVPR 2015",
                            "Repeated inception modules; 1×1 convolutions before the 3×3 and 5×5 branches cut the "
                            "channels and so the parameters.", "https://arxiv.org/abs/1409.4842"), **_IMAGENET),
    *[ZooEntry(n, "ResNet", builder=_tv(n), tv_weights=f"ResNet{n[6:]}_Weights.IMAGENET1K_V1",
               card=ModelCard(2015, "He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016",
                              "Identity shortcuts let much deeper networks train; projection shortcuts (1×1 conv) "
                              "where shapes differ; batch norm right after each conv; bottleneck 1×1 → 3×3 → 1×1.",
                              "https://arxiv.org/abs/1512.03385"), **_IMAGENET)
      for n in ("resnet18", "resnet50")],
    ZooEntry("densenet121", "DenseNet", builder=_tv("densenet121"), tv_weights="DenseNet121_Weights.IMAGENET1K_V1",
             card=ModelCard(2017, "Huang, Liu, van der Maaten, Weinberger. Densely Connected Convolutional Networks. "
                                  "CVPR 2017",
                            "Each layer's output is concatenated, not added, so channels grow by the growth rate; "
                            "1×1 convolutions and transitions shrink them again.", "https://arxiv.org/abs/1608.06993"),
             **_IMAGENET),
    ZooEntry("fcn_resnet50", "FCN", task="segmentation", builder=_tv("segmentation.fcn_resnet50"),
             builder_kwargs=dict(weights=None, weights_backbone=None, num_classes=21, aux_loss=True),
             input_size=(520, 520), preprocess="segmentation", categories="voc",
             tv_weights="FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1",
             card=ModelCard(2015, "Long, Shelhamer, Darrell. Fully Convolutional Networks for Semantic "
                                  "Segmentation. CVPR 2015",
                            "Fully convolutional: works at any input size; the coarse output map is upsampled back "
                            "to the input's resolution.", "https://arxiv.org/abs/1411.4038")),
    ZooEntry("fasterrcnn_resnet50_fpn", "Faster R-CNN", task="detection",
             builder="explorer.core.detection_builders:fasterrcnn_resnet50_fpn", input_size=(800, 800),
             preprocess="detection", categories="coco", tv_weights="FasterRCNN_ResNet50_FPN_Weights.COCO_V1",
             card=ModelCard(2015, "Ren, He, Girshick, Sun. Faster R-CNN: Towards Real-Time Object Detection with "
                                  "Region Proposal Networks. NeurIPS 2015 (FPN: Lin et al. CVPR 2017)",
                            "A Region Proposal Network learns the proposals: at every feature-map position a 3×3 "
                            "conv and two 1×1 convs score and regress anchors; one size per FPN level.",
                            "https://arxiv.org/abs/1506.01497")),
    ZooEntry("fasterrcnn_mobilenet_v3_large_320_fpn", "Faster R-CNN", task="detection",
             builder="explorer.core.detection_builders:fasterrcnn_mobilenet_v3_large_320_fpn",
             input_size=(320, 320), preprocess="detection", categories="coco",
             tv_weights="FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1",
             card=ModelCard(2019, "Faster R-CNN with a MobileNetV3-Large FPN backbone (Howard et al. ICCV 2019)",
                            "The same RPN and RoI heads on a light backbone at low resolution: fast on a CPU.",
                            "https://arxiv.org/abs/1905.02244")),
    ZooEntry("fasterrcnn_vgg16", "Faster R-CNN", task="detection", builder="models.fasterrcnn_vgg16:fasterrcnn_vgg16",
             input_size=(600, 600), preprocess="detection", categories="voc",
             card=ModelCard(2015, "Ren, He, Girshick, Sun. Faster R-CNN: Towards Real-Time Object Detection with "
                                  "Region Proposal Networks. NeurIPS 2015",
                            "The paper's single-level detector: VGG-16 to conv5_3 (stride 16), an RPN with 9 anchors "
                            "(128/256/512 × 1:1, 1:2, 2:1), 7×7 RoI pooling and two fc layers.",
                            "https://arxiv.org/abs/1506.01497")),
    ZooEntry("fasterrcnn-tiny", "Faster R-CNN", task="detection", builder="models.fasterrcnn_tiny:fasterrcnn_tiny",
             input_size=(224, 224), preprocess="detection", categories="shapes",
             bundled_weights="weights/fasterrcnn-tiny.pt", class_names_arg="class_names",
             card=ModelCard(2015, "A small Faster R-CNN trained by the project on synthetic scenes",
                            "A small backbone at stride 16 and the paper's 9 anchors (3 sizes × 3 ratios), trained "
                            "offline so that the RPN views show what a trained RPN does.")),
    ZooEntry("yolov1", "YOLO", task="detection", builder="models.yolov1:yolov1", input_size=(448, 448),
             preprocess="yolo", categories="voc",
             card=ModelCard(2016, "Redmon, Divvala, Girshick, Farhadi. You Only Look Once: Unified, Real-Time Object "
                                  "Detection. CVPR 2016",
                            "One pass: the image is divided into an S×S grid; each cell predicts B boxes "
                            "(x, y, w, h, confidence) and C class probabilities, a tensor of S×S×(B·5+C).",
                            "https://arxiv.org/abs/1506.02640")),
    ZooEntry("yolov1-tiny", "YOLO", task="detection", builder="models.yolov1_tiny:yolov1_tiny", input_size=(224, 224),
             preprocess="yolo", categories="shapes", bundled_weights="weights/yolov1-tiny.pt",
             class_names_arg="class_names",
             card=ModelCard(2016, "A small YOLOv1 trained by the project on synthetic scenes",
                            "The paper's S×S×(B·5+C) head on a small conv stack, trained offline so that the grid "
                            "view shows what a trained YOLO does.", "https://arxiv.org/abs/1506.02640")),
]

ZOO: dict[str, ZooEntry] = {e.name: e for e in _ENTRIES}
DEFAULT_MODEL = "resnet18"


def names() -> list[str]:
    """All model names, in the order of the notes."""
    return list(ZOO)


def get(name: str) -> ZooEntry:
    """The entry called `name`: a zoo name, or a model spec (torchvision:NAME, timm:NAME, net.py[:callable], a
    TorchScript .pt, a .pt2 program, an .onnx file) resolved and cached by explorer.core.model_specs.

    An unknown name raises UnknownModelError listing the choices; a spec whose file runs code raises
    ConsentRequired until model_specs.grant_consent(spec) was called."""
    entry = ZOO.get(name)
    if entry is not None:
        return entry
    from explorer.core import model_specs

    if model_specs.is_spec(name):
        return model_specs.resolve(name)
    import difflib

    close = difflib.get_close_matches(name, list(ZOO), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownModelError(f"unknown model '{name}'; choose one of: {', '.join(ZOO)}, or "
                            f"{model_specs.SPEC_FORMS}{hint}") from None


def _resolve(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def build(name: str, **overrides: Any) -> "nn.Module":
    """Build `name` with random weights (no download), in eval mode; a file spec is loaded with its weights."""
    entry = get(name)
    if entry.loader is not None:
        from explorer.core.model_specs import memory

        memory.check(entry)  # before anything large is made
        return entry.loader().eval()
    builder = _resolve(entry.builder)
    kwargs = {**entry.builder_kwargs, **overrides}
    if entry.builder.startswith("torchvision.models:"):
        kwargs.setdefault("weights", None)
    if entry.class_names_arg:
        from explorer.core.labels import categories

        kwargs.setdefault(entry.class_names_arg, list(categories(entry.categories)))
    model = builder(**kwargs)
    return model.eval()


def tv_weights_enum(entry: ZooEntry) -> Any:
    """torchvision's weights enum member for `pretrained`, or None."""
    if not entry.tv_weights:
        return None
    import torchvision.models as tvm
    enum_name, _, member = entry.tv_weights.partition(".")
    for mod in (tvm, tvm.segmentation, tvm.detection):
        if hasattr(mod, enum_name):
            return getattr(getattr(mod, enum_name), member)
    raise AttributeError(entry.tv_weights)
