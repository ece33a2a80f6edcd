"""From files to each frame's strongest feature pixels: decode, preprocess, batch, forward, reduce.

Three steps, shared by the single-machine pipeline (explorer.core.patch_index.indexer: steps 1 and 2 in
DataLoader workers, 3 in the indexing thread) and Ray's per-shard function (explorer.core.patch_index.shards:
all three in one actor):
1. `prepare_frame`: decode (explorer.core.images, one message per bad file) and preprocess exactly as the live
   view does (explorer.core.preprocess.Preprocessor), on the CPU.
2. `collate_frames`: frames of the same input size are stacked into one tensor. Classifier inputs all have the
   preset's crop size; a detector's or FCN's follow the image, so a folder of mixed sizes makes several groups.
   Padding to a common size would change the activations near the padded border (a conv's padding is zero,
   normalised padding is not), so each frame is computed as it would be alone, only batched with its equals.
3. `Scorer`: forward hooks on the chosen layers stop the pass once the last one has run (indexing layer1 of a
   ResNet does not pay for layer2..fc, nor a detector's backbone for its RPN and heads); each frame's map is
   reduced to its strongest position per channel (or its K strongest, when several entries per image are
   allowed). Positions whose receptive-field centre lies over a detector's batch padding are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.core.activations import LayerRef, pick_output, resolve_layer
from explorer.core.errors import ExplorerError, ImageLoadError
from explorer.core.patch_index.geometry import FrameGeometry, frame_geometry, valid_extent
from explorer.core.patch_index.topk import LayerScores
from explorer.core.receptive import FieldGeometry

if TYPE_CHECKING:
    import torch
    from torch import nn

    from explorer.core.graph import ModelGraph
    from explorer.core.preprocess import Preprocessor
    from explorer.core.zoo import ZooEntry


@dataclass
class FrameMeta:
    """Which frame of which file, and how it was prepared (model-free part of FrameGeometry)."""

    path: str
    digest: str
    frame: int
    source_size: tuple[int, int]       # (width, height)
    scale: tuple[float, float]
    offset: tuple[float, float]
    input_size: tuple[int, int]        # (height, width) of the preprocessed tensor


@dataclass
class BadFrame:
    """A file or frame that could not be decoded; `fatal`: a video stream that broke (its later frames are lost)."""

    path: str
    digest: str
    frame: int
    message: str
    fatal: bool = False


@dataclass
class PreparedBatch:
    """Step 2's output: groups of same-size frames, each one tensor (n, 3, H, W), and the frames that failed."""

    groups: list[tuple["torch.Tensor", list[FrameMeta]]] = field(default_factory=list)
    bad: list[BadFrame] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(metas) for _, metas in self.groups) + len(self.bad)


@dataclass
class ScoredBatch:
    """Step 3's output: per frame its meta and geometry, per layer its candidates (in the frames' order)."""

    frames: list[FrameMeta]
    geometries: list[FrameGeometry]
    layers: list[LayerScores]
    bad: list[BadFrame]


def prepare_image(image: np.ndarray, preprocessor: "Preprocessor", path: str, digest: str,
                  frame: int) -> tuple["torch.Tensor", FrameMeta]:
    """Preprocess a decoded RGB frame; the tensor is (3, H, W) float on the CPU."""
    prepared = preprocessor(image)
    h, w = image.shape[:2]
    tensor = prepared.tensor[0].contiguous()
    return tensor, FrameMeta(path, digest, frame, (int(w), int(h)), tuple(map(float, prepared.scale)),
                             tuple(map(float, prepared.offset)), tuple(map(int, prepared.input_size)))


def prepare_frame(path: str, digest: str, preprocessor: "Preprocessor") -> tuple["torch.Tensor", FrameMeta] | BadFrame:
    """Step 1 for an image file: decoded with explorer.core.images.load_image; a bad file becomes a BadFrame."""
    from explorer.core.images import load_image

    try:
        image = load_image(path)
    except ImageLoadError as exc:
        return BadFrame(path, digest, 0, str(exc))
    return prepare_image(image, preprocessor, path, digest, 0)


def collate_frames(items: list[Any]) -> PreparedBatch:
    """Step 2: stack frames of equal size (the batch's order is kept inside each group)."""
    import torch

    batch = PreparedBatch()
    groups: dict[tuple[int, ...], tuple[list, list[FrameMeta]]] = {}
    for item in items:
        if isinstance(item, BadFrame):
            batch.bad.append(item)
            continue
        tensor, meta = item
        tensors, metas = groups.setdefault(tuple(tensor.shape), ([], []))
        tensors.append(tensor)
        metas.append(meta)
    batch.groups = [(torch.stack(tensors), metas) for tensors, metas in groups.values()]
    return batch


# -- step 3 -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerTarget:
    """One layer to index: where to hook, which output leaf, how many channels, its receptive field."""

    name: str
    ref: LayerRef
    output_key: str
    channels: int
    field: FieldGeometry | None


class _StopForward(Exception):
    """Raised by the last hook: the rest of the model is not needed."""


class Scorer:
    """Runs `model` on prepared batches and reduces each chosen layer's maps (see the module docstring).

    The scorer owns hooks on `model` until `close()`: the model must not be run by another thread meanwhile
    (hooks are added and removed here). `per_frame`: entries kept per frame and channel (1: distinct images).
    """

    def __init__(self, model: "nn.Module", entry: "ZooEntry", graph: "ModelGraph | None", layers: list[str],
                 per_frame: int = 1, device: str = "cpu") -> None:
        self.model, self.entry, self.graph = model, entry, graph
        self.device = device
        self.per_frame = int(per_frame)
        self.list_input = entry.preprocess == "detection"  # torchvision detectors take a list of images
        refs = [resolve_layer(model, name, graph) for name in layers]  # UnknownLayerError with close matches
        self._outputs: dict[int, Any] = {}
        self._calls: dict[str, int] = {}
        self._handles: list[Any] = []
        self._refs = refs
        by_module: dict[str, list[tuple[int, int]]] = {}
        for i, ref in enumerate(refs):
            by_module.setdefault(ref.module_path, []).append((i, ref.call_index))
        for path, wanted in by_module.items():
            module = model.get_submodule(path) if path else model
            self._handles.append(module.register_forward_hook(self._hook(path, wanted)))
        self._reduce_now: Any = None   # set by score(): reduce each output as it appears
        try:
            self.targets = self._probe(layers, refs)
        except BaseException:
            self.close()
            raise

    def _hook(self, path: str, wanted: list[tuple[int, int]]):
        def hook(module: Any, args: Any, output: Any) -> None:
            call = self._calls.get(path, 0)
            self._calls[path] = call + 1
            for index, call_index in wanted:
                if call == call_index:
                    # reduced at once: a later in-place op (ReLU(inplace=True)) may overwrite this tensor
                    self._outputs[index] = output if self._reduce_now is None else self._reduce_now(index, output)
            if len(self._outputs) == len(self._refs):
                raise _StopForward
        return hook

    def _run(self, batch: "torch.Tensor") -> dict[int, Any]:
        import torch

        x = batch.to(self.device, non_blocking=True)
        self._calls, self._outputs = {}, {}
        try:
            with torch.inference_mode():
                self.model(list(x.unbind(0)) if self.list_input else x)
        except _StopForward:
            pass
        finally:
            self._calls = {}
        outputs, self._outputs = self._outputs, {}
        missing = [self._refs[i].name for i in range(len(self._refs)) if i not in outputs]
        if missing:
            raise ExplorerError(f"layer '{missing[0]}' did not run in {self.entry.name}'s forward pass "
                                "(a module the model holds but does not call)")
        return outputs

    def _probe(self, layers: list[str], refs: list[LayerRef]) -> list[LayerTarget]:
        """One pass on a blank frame of the entry's size: each layer's output leaf, channels, receptive field."""
        from explorer.core.capture import UnknownLayerError
        from explorer.core.preprocess import Preprocessor
        from explorer.core.receptive import layer_field_geometry

        h, w = self.entry.input_size
        blank = np.full((int(h), int(w), 3), 128, np.uint8)
        tensor = Preprocessor(self.entry, "cpu")(blank).tensor
        outputs = self._run(tensor)
        targets = []
        for i, (name, ref) in enumerate(zip(layers, refs)):
            try:
                key, leaf, _ = pick_output(outputs[i])
            except ValueError as exc:
                raise ExplorerError(f"layer '{name}' cannot be indexed: {exc}") from None
            if leaf.dim() not in (2, 4):
                raise ExplorerError(f"layer '{name}' gives a {leaf.dim()}-D output {tuple(leaf.shape)}; only "
                                    "feature maps (N, C, H, W) and vectors (N, C) can be indexed")
            geo: FieldGeometry | None = None
            if leaf.dim() == 4:
                if self.graph is None:
                    raise ExplorerError(f"no receptive field for '{name}': the graph of {self.entry.name} "
                                        "could not be captured")
                try:  # the dock's own look-up (explorer.core.receptive)
                    geo = layer_field_geometry(self.graph, name, key)
                except UnknownLayerError:
                    geo = layer_field_geometry(self.graph, ref.module_path, key)
                except ExplorerError:
                    geo = None  # after RoI pooling or global pooling: the whole image
            targets.append(LayerTarget(name, ref, key, int(leaf.shape[1]), geo))
        return targets

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def score(self, batch: PreparedBatch) -> ScoredBatch:
        """Step 3 on one prepared batch."""
        frames: list[FrameMeta] = []
        geometries: list[FrameGeometry] = []
        parts: list[list[LayerScores]] = [[] for _ in self.targets]
        for tensor, metas in batch.groups:
            geos = [frame_geometry(m.source_size, m.scale, m.offset, m.input_size, self.model) for m in metas]

            def reduce(i: int, output: Any, geos: list[FrameGeometry] = geos) -> LayerScores:
                target = self.targets[i]
                return self._reduce(target, pick_output(output, target.output_key)[1], geos)

            self._reduce_now = reduce
            try:
                outputs = self._run(tensor)
            finally:
                self._reduce_now = None
            for i in range(len(self.targets)):
                parts[i].append(outputs[i])
            frames += metas
            geometries += geos
        layers = []
        for i, target in enumerate(self.targets):
            if parts[i]:
                layers.append(LayerScores(*(np.concatenate([getattr(p, a) for p in parts[i]])
                                            for a in ("scores", "ys", "xs"))))
            else:
                empty = np.zeros((0, target.channels, self.per_frame))
                layers.append(LayerScores(empty.astype(np.float32), empty.astype(np.int64), empty.astype(np.int64)))
        return ScoredBatch(frames, geometries, layers, list(batch.bad))

    def _reduce(self, target: LayerTarget, leaf: "torch.Tensor", geos: list[FrameGeometry]) -> LayerScores:
        """(n, C, H, W) maps → each frame's `per_frame` strongest positions per channel (first in row-major
        order among equals: torch.max returns the first maximal index)."""
        import torch

        n = len(geos)
        if leaf.shape[0] != n or leaf.shape[1] != target.channels:
            raise ExplorerError(f"layer '{target.name}' gave {tuple(leaf.shape)} for {n} frames; only per-image "
                                f"outputs with {target.channels} channels can be indexed")
        act = leaf.detach().float()
        if act.dim() == 2:
            act = act[:, :, None, None]
        _, c, h, w = act.shape
        extents = [valid_extent(target.field, g.input_size, (h, w)) for g in geos]
        if any(e != (h, w) for e in extents) or torch.isnan(act).any():
            act = torch.nan_to_num(act.clone(), nan=float("-inf"))
            for i, (vh, vw) in enumerate(extents):  # padding of a batch of detector images
                act[i, :, vh:, :] = float("-inf")
                act[i, :, :, vw:] = float("-inf")
        flat = act.reshape(n, c, h * w)
        k = self.per_frame
        if k == 1:
            values, index = flat.max(dim=2, keepdim=True)
        else:
            values, index = torch.sort(flat, dim=2, descending=True, stable=True)
            values, index = values[:, :, :k], index[:, :, :k]
            if values.shape[2] < k:  # a map smaller than K positions
                pad = k - values.shape[2]
                values = torch.cat([values, values.new_full((n, c, pad), float("-inf"))], dim=2)
                index = torch.cat([index, index.new_zeros((n, c, pad))], dim=2)
        index = index.cpu().numpy().astype(np.int64)
        return LayerScores(values.cpu().numpy().astype(np.float32), index // w, index % w)
