"""TorchScript archives (.pt, torch.jit.save) and torch.export programs (.pt2, torch.export.save).

Can loading execute Python pickled in the file? (read in torch 2.14's sources)

- TorchScript, no. `torch.jit.load` (torch/jit/_serialization.py) hands the file to C++
  (`torch._C.import_ir_module` -> torch/csrc/jit/serialization/import.cpp), whose pickles (data.pkl,
  constants.pkl) are read by the C++ `Unpickler` (torch/csrc/jit/serialization/unpickler.cpp). Its
  `readGlobal` accepts a fixed list of globals (torch._utils._rebuild_tensor_v2, collections.OrderedDict,
  torch.jit._pickle.*, torch.device, storage types, ...) and otherwise only classes compiled from the archive's
  own TorchScript code (`type_resolver_`); any other global, e.g. `os.system`, is "Unpickler found unknown
  type" and the load fails; no Python object is created, so no `__reduce__` runs. The archive's code is
  TorchScript (compiled by torch's TorchScript compiler and run by its interpreter: no imports, no Python
  builtins); its `__setstate__` methods run while loading and its `forward` when the model runs. Opened
  without a confirmation; tests/test_model_specs_exported.py loads a crafted archive whose data.pkl would
  create a file through builtins.open and checks that nothing ran.
- torch.export (.pt2), yes. `torch.export.load` -> torch/export/pt2_archive/_package.py `load_pt2`:
  `_load_state_dict` and `_load_constants` read every payload marked `use_pickle` with
  `torch.load(..., weights_only=False)` (full Python unpickling), and an opaque-object constant with
  `pickle.loads`; the exported program's symbolic shapes are parsed with `sympy.sympify`, which evaluates its
  string; the pre-2.8 archive format goes through torch/_export/serde/serialize.py
  `deserialize_torch_artifact`, which retries with `weights_only=False`. So a .pt2 opens only after consent
  (model_specs.needs_consent says why; the command line asks for --trust); the test crafts a .pt2 whose
  weight payload creates a file when unpickled, and checks that nothing happens without consent.

What is shown: an ExportedProgram is unflattened (torch.export.unflatten: the module hierarchy from the
nodes' nn_module_stack) and its leaves become torch.nn layers again (model_specs.graph_layers), so capture,
parameter formulas, MACs and receptive fields work as for the zoo. A TorchScript archive is converted to an
ExportedProgram by torch._export.converter.TS2EPConverter; the converter keeps no module stack, so layers
with weights are placed by their weights' names (layer1.0.conv1) and the rest stay functional ops. An archive
the converter cannot take runs as TorchScript, with one graph node for the whole network.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
import zipfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from explorer.core.errors import ModelSpecError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from explorer.core.zoo import ZooEntry

DEFAULT_INPUT = (3, 224, 224)
UNKNOWN_INPUT_NOTE = "the file does not record its input size: 3×224×224 is assumed (choose another with --input)"
IMAGENET_NOTE = "preprocessed with ImageNet's mean and std: the file does not say how its inputs were normalised"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch's own warnings and log lines while loading (deprecations, specialisation notes) are not ours to
    print: the outcome is reported as one sentence."""
    loggers = [logging.getLogger(n) for n in ("torch.export", "torch._export", "torch.fx", "torch._dynamo",
                                              "torch.utils._sympy", "torch.fx.experimental.symbolic_shapes")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def check_torchscript(path: Path) -> None:
    """Refuse files that are not TorchScript archives, saying what they are instead."""
    names = _names(path)
    if not names:
        raise ModelSpecError(f"'{path.name}' is not a model: not a TorchScript archive (a zip written by "
                             f"torch.jit.save)")
    if not any("/code/" in n for n in names) or not any(n.endswith("constants.pkl") for n in names):
        if any(n.endswith("data.pkl") for n in names):
            raise ModelSpecError(f"'{path.name}' holds weights or objects saved with torch.save, not a network: "
                                 f"open the network (a zoo name, torchvision:NAME or a .py file) and give this "
                                 f"file as its weights")
        raise ModelSpecError(f"'{path.name}' is not a model: not a TorchScript archive")


def check_pt2(path: Path) -> None:
    names = _names(path)
    if not names:
        raise ModelSpecError(f"'{path.name}' is not a model: not a torch.export archive (a zip written by "
                             f"torch.export.save)")
    if not any(n.endswith("models/model.json") or n.endswith("serialized_exported_program.json") for n in names):
        raise ModelSpecError(f"'{path.name}' holds no exported program: a .pt2 without a graph (an AOTInductor "
                             f"package or extra files only) cannot be shown")


# ------------------------------------------------------------------------------------------------- .pt2
def load_program(path: Path) -> Any:
    """torch.export.load, with its failures as one ModelSpecError (consent was checked by the caller)."""
    import torch

    check_pt2(path)
    try:
        with _quiet():
            return torch.export.load(str(path))
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign archive fails anywhere inside
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelSpecError(f"cannot load the exported program '{path.name}': {first[:200]}") from None


def program_module(program: Any) -> "nn.Module":
    """The network of an ExportedProgram: unflattened (module hierarchy), leaves back to nn layers."""
    import torch

    from explorer.core.model_specs.graph_layers import rebuild_leaves

    with _quiet():
        module = torch.export.unflatten(program)
    rebuild_leaves(module)
    return module


def program_input_shape(program: Any) -> tuple[tuple[int, int, int] | None, bool]:
    """(C, H, W) of the program's first user input and whether all of it is static."""
    import torch

    sig = program.graph_signature
    user = set(sig.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in user:
            val = node.meta.get("val")
            shape = getattr(val, "shape", None)
            if shape is None or len(shape) != 4:
                return None, False
            dims = [d if isinstance(d, int) else None for d in shape[1:]]
            static = all(isinstance(d, int) for d in shape[1:])
            if isinstance(shape[1], torch.SymInt) or dims[0] is None:
                return None, False
            if not static:
                return (dims[0], 224, 224), False
            return (dims[0], dims[1], dims[2]), True  # type: ignore[return-value]
    return None, False


# -------------------------------------------------------------------------------------------- TorchScript
def load_torchscript(path: Path) -> "torch.jit.ScriptModule":
    import torch

    check_torchscript(path)
    try:
        with _quiet():
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - C++ errors arrive as RuntimeError with a long trace
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelSpecError(f"cannot load the TorchScript archive '{path.name}': {first[:200]}") from None


def torchscript_module(path: Path, input_shape: tuple[int, int, int]) -> "nn.Module":
    """The network of a TorchScript archive: converted to an ExportedProgram (TS2EPConverter, with dynamic
    sizes where the code allows), its layers placed by their weights' names; the archive itself (one node)
    when the converter cannot take it."""
    import torch

    from explorer.core.model_specs.graph_layers import place_layers_by_weight

    script = load_torchscript(path)
    example = (torch.rand((1, *input_shape), generator=torch.Generator().manual_seed(0)),)
    try:
        from torch._export.converter import TS2EPConverter

        with _quiet():
            program = TS2EPConverter(script, example).convert()
            module = torch.export.unflatten(program)
    except Exception:  # noqa: BLE001 - control flow or ops the converter lacks: run the archive as it is
        return script
    place_layers_by_weight(module)
    return module


# ---------------------------------------------------------------------------------------------- entries
def entry(text: str, path: Path, kind: str) -> "ZooEntry":
    """The ZooEntry of a .pt2 program (`kind` "export") or a TorchScript archive ("torchscript")."""
    from explorer.core.model_specs import memory
    from explorer.core.zoo import ModelCard, ZooEntry

    size = memory.file_estimate(str(path), kind)
    memory.check_bytes(size, path.name)
    notes = [IMAGENET_NOTE]
    if kind == "export":
        program = load_program(path)
        shape, _static = program_input_shape(program)
        if shape is None:
            shape = DEFAULT_INPUT
            notes.append(UNKNOWN_INPUT_NOTE)
        first = {"module": program_module(program)}  # the first build takes this one: no second load

        def loader() -> "nn.Module":
            return first.pop("module", None) or program_module(load_program(path))
        family, what = "torch.export", "a torch.export program"
    else:
        check_torchscript(path)
        shape = DEFAULT_INPUT
        notes.append(UNKNOWN_INPUT_NOTE)
        loader = partial(torchscript_module, path, shape)  # type: ignore[assignment]
        family, what = "TorchScript", "a TorchScript archive"
    card = ModelCard(0, path.name, f"{what} read from {path}", "")
    return ZooEntry(
        name=text, family=family, task="classification", builder=f"{kind}:{path}", input_size=tuple(shape[1:]),
        preprocess="imagenet", categories="", card=card, source=kind, loader=loader,
        input_channels=int(shape[0]), embedded_weights=True, path=str(path), notes=tuple(notes), size_bytes=size)
