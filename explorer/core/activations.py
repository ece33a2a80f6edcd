"""Capture one layer's output during the engine's forward pass: a probe with hooks on that module only.

`ActivationProbe` follows the engine's probe contract (explorer.core.engine): `attach(model)` registers one
forward hook on the selected module (plus a pre-hook on the model to count calls of shared modules),
`detach()` removes them, and `collect(ctx)` runs after the forward pass in the worker thread and returns an
`ActivationFrame`: the chosen output tensor (kept on the model's device) and its mosaic (built on the device;
only its uint8 image comes to the host). So hooks exist only while a layer is selected, and memory stays flat:
the hook keeps one tensor, replaced every frame.

Refresh rate: `min_interval_s` (0 by default: every forward pass) lets a probe collect at most once per
interval. The feature-map dock sets it while a video or camera plays, so that watching the maps does not cost
the live frame rate much (the copy and the mosaic of conv1 of resnet18 cost about a quarter of a forward pass
on 2 cores: `python bench/mosaic.py`); a forward pass in between skips the copy, and collect returns None.
Pending requests (Grad-CAM, the gradient view) always collect: a request that arrives during a skipped pass
waits for the next one. Hook state is per thread, and collect takes only the output of its own thread's pass,
so a background job running the same model (a timing pass of the graph view) never lands in the live view.

Modules that return several tensors (an FPN's OrderedDict of levels, the RPN head's (logits, boxes) lists, a
tuple) are flattened into named leaves ("0", "pool", "1.2" ...); the probe keeps one leaf, chosen by name
(the first by default).

`resolve_module(model, name, graph)` turns a module path ("layer1", "features.0", "backbone") or a graph node
id (explorer.core.graph) into the module to hook; an unknown name raises UnknownLayerError listing the close
matches.
"""

from __future__ import annotations

import difflib
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from explorer.core.capture import UnknownLayerError  # one error class for "unknown layer" everywhere
from explorer.core.capture import flatten_outputs
from explorer.core.errors import ExplorerError
from explorer.core.mosaic import Mosaic, MosaicOptions, as_chw, build_mosaic, chw_note

if TYPE_CHECKING:
    import torch
    from torch import nn

    from explorer.core.graph import ModelGraph


@dataclass(frozen=True)
class LayerRef:
    """Where to hook: the module at `module_path`, its `call_index`-th call in one forward pass."""

    name: str                # what the user asked for
    module_path: str         # "" = the whole model
    call_index: int = 0
    note: str = ""           # e.g. why a functional op is shown through its enclosing module


def module_paths(model: "nn.Module") -> list[str]:
    return [name for name, _ in model.named_modules() if name]


def _close_matches(name: str, candidates: list[str], n: int = 5) -> list[str]:
    matches = difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)
    if not matches:  # a prefix or a piece of the path ("conv1" -> "layer1.0.conv1")
        matches = [c for c in candidates if name in c][:n]
    return matches


def resolve_layer(model: "nn.Module", name: str, graph: "ModelGraph | None" = None) -> LayerRef:
    """A module path or graph node id -> LayerRef.

    A module path wins. A graph node of a module call gives that module and call (shared modules such as a
    ResNet block's ReLU are called several times). A functional-op node (add, cat, flatten ...) has no module
    of its own: the module whose forward ran it is hooked instead, and `note` says so.
    """
    modules = dict(model.named_modules())
    if name in modules:
        return LayerRef(name=name, module_path=name)
    if graph is not None and graph.has_node(name):
        node = graph.node(name)
        path = node.module_path
        if path in modules:
            module = modules[path]
            if type(module).__name__ == node.op:
                return LayerRef(name=name, module_path=path, call_index=int(node.call_index))
            where = f"'{path}'" if path else "the whole model"
            return LayerRef(name=name, module_path=path,
                            note=f"'{name}' is a {node.op} op, not a module: showing the output of {where}")
    candidates = module_paths(model)
    if graph is not None:
        candidates += [n.id for n in graph.nodes if n.id not in modules]
    matches = _close_matches(name, candidates)
    if matches:
        hint = f"; close matches: {', '.join(matches)}"
    else:  # nothing alike: the top-level blocks show what names look like
        top = [c for c in candidates if "." not in c][:8]
        hint = f"; layers are module paths such as {', '.join(top)} (`python -m explorer summary MODEL` lists all)"
    raise UnknownLayerError(f"unknown layer '{name}'{hint}")


def resolve_module(model: "nn.Module", name: str, graph: "ModelGraph | None" = None) -> "nn.Module":
    """The nn.Module for a module path or graph node id (see resolve_layer)."""
    ref = resolve_layer(model, name, graph)
    return model.get_submodule(ref.module_path) if ref.module_path else model


def pick_output(output: Any, key: str | None = None) -> tuple[str, "torch.Tensor", list[str]]:
    """(key, tensor, all keys) of one leaf of `output`: `key` if it exists, else the first."""
    leaves = flatten_outputs(output)
    if not leaves:
        raise ValueError(f"the layer's output ({type(output).__name__}) holds no tensor to show")
    keys = [k for k, _ in leaves]
    for k, t in leaves:
        if k == key:
            return k, t, keys
    for k, t in leaves:  # by default the first leaf that holds values (no detections: empty box tensors)
        if t.numel() > 0:
            return k, t, keys
    return leaves[0][0], leaves[0][1], keys


@dataclass
class ActivationFrame:
    """What the probe collected for one frame."""

    layer: str                        # the name the user selected
    module_path: str
    output_key: str                   # which leaf of a multi-output module ("" for a plain tensor)
    output_keys: list[str]            # every leaf, for the output picker
    activation: "torch.Tensor"        # (C, H, W), detached, on the model's device
    mosaic: Mosaic | None             # built in the worker thread (None when the probe builds none)
    input_size: tuple[int, int] | None = None  # (H, W) the model saw
    geometry: Any = None              # explorer.core.receptive.InputGeometry: source -> backbone-input pixels
    tensor_geometry: Any = None       # InputGeometry: source -> ctx.input_tensor pixels (Grad-CAM, gradients)
    note: str = ""
    extras: dict[str, Any] = field(default_factory=dict)  # answers to requests ("gradcam", "gradient")

    def contains(self, channel: int, fy: int, fx: int) -> bool:
        """Whether (channel, fy, fx) is a pixel of this frame's maps (a resized detector input changes them)."""
        c, h, w = self.shape
        return 0 <= channel < c and 0 <= fy < h and 0 <= fx < w

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.activation.shape
        return int(c), int(h), int(w)


class ActivationProbe:
    """Forward hook on one selected layer; `collect` returns an ActivationFrame (see module docstring).

    Settings (`options`, `output_key`) may be changed from the UI thread at any time: they are replaced as a
    whole (one attribute assignment) and read once per frame by the worker.
    """

    def __init__(self, layer: str, graph: "ModelGraph | None" = None, *, name: str | None = None,
                 options: MosaicOptions | None = None, output_key: str | None = None,
                 build: bool = True) -> None:
        self.layer = layer
        self.graph = graph
        self.name = name or f"activations:{layer}"
        self.options = options or MosaicOptions()
        self.output_key = output_key
        self.build = build                 # build the mosaic in collect (the live view) or not (export only)
        self.ref: LayerRef | None = None
        self.error = ""                    # why the last attach found no module ("" = attached fine)
        self._handles: list[Any] = []
        self._lock = threading.Lock()
        # per thread: the model may also run elsewhere (a timing job), and only the thread that runs a pass
        # collects its output; `pass_state` holds that thread's call counter and whether its pass is collected
        self._pass_state = threading.local()
        self._captured: dict[int, tuple[Any, str, list[str]]] = {}  # thread -> (output, key, keys), until collect
        self._requests: dict[str, Any] = {}  # name -> callable(ctx) run once in the worker (Grad-CAM ...)
        self.min_interval_s = 0.0          # collect at most once per interval (0: every forward pass)
        self._last_collect = float("-inf")

    def request(self, name: str, job: Any) -> None:
        """Run `job(ctx)` once, in the worker after the next forward pass; its result (or the ExplorerError it
        raised) goes into the next ActivationFrame's extras[name]. For Grad-CAM and the gradient view, which
        need the model and must not run on the UI thread."""
        with self._lock:
            self._requests[name] = job

    # -- probe contract ---------------------------------------------------------------------------------
    def attach(self, model: "nn.Module") -> None:
        """Hook the layer. A layer this model lacks (the model changed under the probe) leaves the probe idle
        with `error` set, rather than failing the engine's frame."""
        self.detach()
        self.error = ""
        try:
            self.ref = resolve_layer(model, self.layer, self.graph)
        except UnknownLayerError as exc:
            self.ref, self.error = None, str(exc)
            return
        module = model.get_submodule(self.ref.module_path) if self.ref.module_path else model
        # the pre-hook on the model resets the call counter at the start of every forward pass
        self._handles = [model.register_forward_pre_hook(self._on_model_start),
                         module.register_forward_hook(self._on_output)]

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        with self._lock:
            self._captured.clear()

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def collect(self, ctx: Any) -> ActivationFrame | None:
        with self._lock:
            mine = self._captured.pop(threading.get_ident(), None)
            self._captured.clear()  # other threads' passes are never collected
            if mine is None:  # a skipped pass: pending requests wait for the next collected one
                return None
            requests, self._requests = self._requests, {}
            self._last_collect = time.perf_counter()
        captured, key, keys = mine
        note = "; ".join(n for n in (self.ref.note if self.ref else "", chw_note(captured)) if n)
        try:
            act = as_chw(captured)
            mosaic = build_mosaic(act, self.options) if self.build else None
        except ValueError as exc:  # an empty or unshowable tensor: say so, never fail the engine's frame
            flat = captured.reshape(-1)
            act = flat.reshape(0, 1, 0) if flat.numel() == 0 else flat.reshape(1, 1, -1)
            mosaic, note = None, str(exc)
        input_size = getattr(ctx, "input_size", None)
        geometry = tensor_geometry = None
        if input_size is not None and getattr(ctx, "scale", None) is not None:
            from explorer.core.receptive import input_geometry

            offset = tuple(getattr(ctx, "offset", (0.0, 0.0)))
            geometry = input_geometry(tuple(ctx.scale), offset, getattr(ctx, "model", None), tuple(input_size))
            tensor_geometry = input_geometry(tuple(ctx.scale), offset)
        frame = ActivationFrame(
            layer=self.layer, module_path=self.ref.module_path if self.ref else "", output_key=key,
            output_keys=keys, activation=act, mosaic=mosaic,
            input_size=tuple(int(v) for v in input_size) if input_size is not None else None,
            geometry=geometry, tensor_geometry=tensor_geometry, note=note,
        )
        for name, job in requests.items():
            try:
                frame.extras[name] = job(ctx)
            except ExplorerError as exc:  # shown to the user; the live view goes on
                frame.extras[name] = exc
        return frame

    # -- hooks --------------------------------------------------------------------------------------------
    def _on_model_start(self, module: "nn.Module", args: Any) -> None:
        state = self._pass_state
        state.calls = 0
        with self._lock:
            state.active = bool(self._requests) or (
                time.perf_counter() - self._last_collect >= self.min_interval_s)

    def _on_output(self, module: "nn.Module", args: Any, output: Any) -> None:
        state = self._pass_state
        call = getattr(state, "calls", 0)
        state.calls = call + 1
        want = self.ref.call_index if self.ref else 0
        if call != want or not getattr(state, "active", True):
            return
        try:
            key, tensor, keys = pick_output(output, self.output_key)
        except ValueError as exc:
            self.error = str(exc)
            return
        # a copy, not a view: torchvision's ReLU(inplace=True) right after a conv would otherwise overwrite the
        # conv's output (negative values lost); detached: the hook keeps one tensor, never the autograd graph
        copy = tensor.detach().clone()
        with self._lock:
            self._captured[threading.get_ident()] = (copy, key, keys)


def capture_activation(model: "nn.Module", layer: str, run: Any, graph: "ModelGraph | None" = None,
                       output_key: str | None = None) -> tuple["torch.Tensor", str, list[str], LayerRef]:
    """Run `run()` (a closure calling the model) with a probe on `layer`; (C, H, W) activation, key, keys, ref.

    For the command line and tests: the hook is removed afterwards even if the run fails.
    """
    probe = ActivationProbe(layer, graph, output_key=output_key, build=False)
    probe.attach(model)
    if probe.error:
        raise UnknownLayerError(probe.error)
    try:
        run()
        frame = probe.collect(None)
    finally:
        probe.detach()
    if frame is None:
        if probe.error:
            raise ExplorerError(f"layer '{layer}': {probe.error}")
        raise ExplorerError(f"layer '{layer}' did not run during the forward pass")
    assert probe.ref is not None
    return frame.activation, frame.output_key, frame.output_keys, probe.ref
