"""`path/to/net.py[:callable]`: a network made by the user's own Python file.

Opening runs the file's code, as `python net.py` would, so the window asks first (model_specs.needs_consent);
on the command line, naming the file is consent. The file is imported as a module of its own name
(`explorer_user_<hash>`, so an `if __name__ == "__main__":` block, e.g. a training loop, does not run), with its
folder first on sys.path while it runs, so that its sibling modules import as they would under `python net.py`.

The network is `callable()` when one is named (a class or a function; a dotted name reaches into the module),
else the file's only nn.Module subclass (defined in the file, not imported into it), called without arguments.
Anything the file raises, or a callable that returns something that is not an nn.Module, is one ModelSpecError
naming the file and the line.

Input size: the returned module's `input_size` attribute when it has one ((C, H, W) or (H, W)), else 3×224×224.
Task: torchvision's detection and segmentation classes are recognised (their own preprocessing and class
names); any other network is a classifier, preprocessed with ImageNet's mean and std, and the entry says so.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import threading
import traceback
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable

from explorer.core.errors import ModelSpecError

if TYPE_CHECKING:
    from torch import nn

    from explorer.core.zoo import ZooEntry

DEFAULT_INPUT = (3, 224, 224)
IMAGENET_NOTE = "preprocessed with ImageNet's mean and std: the model does not say how its inputs were normalised"
_import_lock = threading.Lock()


def _where(exc: BaseException, path: Path) -> str:
    """' (line N)' of the deepest frame in the user's file, or ''."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return f" (line {lines[-1]})" if lines else ""


def _raised(path: Path, exc: BaseException, doing: str) -> ModelSpecError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ModelSpecError(f"{path.name} raised {type(exc).__name__}{_where(exc, path)} while {doing}"
                          + (f": {first}" if first else ""))


def import_file(path: Path) -> ModuleType:
    """Run `path` as a module of its own (this is where the user's code runs)."""
    name = "explorer_user_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelSpecError(f"cannot import '{path.name}' as Python")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    with _import_lock:  # sys.path and sys.modules are process-wide
        sys.path.insert(0, folder)
        sys.modules[name] = module  # dataclasses and pickling look the module up by name
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt in user code included
            sys.modules.pop(name, None)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise _raised(path, exc, "being imported") from None
        finally:
            try:
                sys.path.remove(folder)
            except ValueError:
                pass
    return module


def find_factory(module: ModuleType, path: Path, attr: str) -> Callable[[], Any]:
    """The callable that makes the network: `attr`, or the file's only nn.Module subclass."""
    from torch import nn

    if attr:
        obj: Any = module
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise ModelSpecError(f"{path.name} has no '{attr}'")
            obj = getattr(obj, part)
        if not callable(obj):
            raise ModelSpecError(f"'{attr}' in {path.name} is a {type(obj).__name__}, not a callable that returns "
                                 f"a network")
        return obj
    classes = [c for c in vars(module).values()
               if inspect.isclass(c) and issubclass(c, nn.Module) and c.__module__ == module.__name__]
    if len(classes) == 1:
        return classes[0]
    if not classes:
        raise ModelSpecError(f"{path.name} defines no nn.Module subclass: name the function that returns the "
                             f"network, as {path.name}:NAME")
    raise ModelSpecError(f"{path.name} defines {len(classes)} nn.Module subclasses "
                         f"({', '.join(c.__name__ for c in classes)}): choose one, as {path.name}:NAME")


def make(factory: Callable[[], Any], path: Path, label: str) -> "nn.Module":
    """Call the factory; anything but an nn.Module is refused."""
    from torch import nn

    try:
        model = factory()
    except Exception as exc:  # noqa: BLE001 - the user's code may raise anything
        raise _raised(path, exc, f"making the network ({label}())") from None
    if not isinstance(model, nn.Module):
        raise ModelSpecError(f"{label}() in {path.name} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def task_of(model: "nn.Module") -> tuple[str, str, str]:
    """(task, preprocess, categories) for torchvision's detection/segmentation classes, else a classifier."""
    from torchvision.models.detection.fcos import FCOS
    from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
    from torchvision.models.detection.retinanet import RetinaNet
    from torchvision.models.detection.ssd import SSD
    from torchvision.models.segmentation.lraspp import LRASPP
    from torchvision.models.segmentation._utils import _SimpleSegmentationModel

    if isinstance(model, (GeneralizedRCNN, RetinaNet, SSD, FCOS)):
        cls = getattr(getattr(getattr(model, "roi_heads", None), "box_predictor", None), "cls_score", None)
        return "detection", "detection", "coco" if cls is not None and cls.out_features == 91 else ""
    if isinstance(model, (_SimpleSegmentationModel, LRASPP)):
        return "segmentation", "segmentation", "voc"
    return "classification", "imagenet", ""


def input_shape_of(model: "nn.Module") -> tuple[int, int, int] | None:
    """The model's own `input_size` attribute as (C, H, W), when it has a usable one."""
    size = getattr(model, "input_size", None)
    try:
        dims = tuple(int(v) for v in size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    if len(dims) == 2:
        dims = (3, *dims)
    return dims if len(dims) == 3 and all(d > 0 for d in dims) else None  # type: ignore[return-value]


def entry(text: str, path: Path, attr: str) -> "ZooEntry":
    """Import the file, find its network and learn its size and task from one build on the meta device (a
    build that needs real tensors is made on the CPU instead). Consent was given by the caller."""
    import torch

    from explorer.core.model_specs import memory
    from explorer.core.zoo import ModelCard, ZooEntry

    module = import_file(path)
    factory = find_factory(module, path, attr)
    label = attr or getattr(factory, "__name__", "network")
    try:
        with torch.device("meta"):
            probe = make(factory, path, label)
        size = memory.tensor_bytes(probe)
    except ModelSpecError:
        probe, size = make(factory, path, label), None  # the real error, if there is one, is raised here
    task, preprocess, categories = task_of(probe)
    shape = input_shape_of(probe) or DEFAULT_INPUT
    transform = getattr(probe, "transform", None)  # a torchvision detector resizes to transform.min_size
    if task == "detection" and transform is not None and getattr(transform, "min_size", None):
        shape = (3, int(transform.min_size[0]), int(transform.min_size[0]))
    notes = (IMAGENET_NOTE,) if preprocess == "imagenet" else ()
    doc = (inspect.getdoc(factory) or "").split("\n\n")[0].replace("\n", " ")
    card = ModelCard(0, f"{path.name}:{label}", doc or f"the network {label}() in {path}", "")
    return ZooEntry(
        name=text, family="Python file", task=task, builder=f"{path}:{label}", input_size=shape[1:],
        preprocess=preprocess, categories=categories, card=card, source="python",
        loader=partial(make, factory, path, label), input_channels=shape[0], path=str(path), notes=notes,
        size_bytes=size)
