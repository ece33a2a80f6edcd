"""Model specs: every network the app can open besides the zoo's names, resolved to a ZooEntry.

    torchvision:NAME         any classification, detection or segmentation builder of torchvision.models
    timm:NAME                a timm model (optional extra: pip install 'cnn-explorer[timm]')
    path/to/net.py[:name]    the network that `name()` (or the file's only nn.Module subclass) returns
    model.pt / .ts / .jit    a TorchScript archive (torch.jit.save)
    model.pt2                a torch.export program (torch.export.save)
    model.onnx               an ONNX model, converted to PyTorch (optional extra: 'cnn-explorer[onnx]')

`resolve(spec)` gives a ZooEntry whose `loader` makes the network, so zoo.get/zoo.build, the engine, the
preprocessing, capture and the weights code need no special cases. Entries are cached per spec (and, for files,
per size and modification time).

Consent: a Python file runs the user's code, and torch.export.load can unpickle Python objects from the file
(explorer.core.model_specs.exported says where). `needs_consent(spec)` says so without touching the file's
contents; `resolve` raises ConsentRequired for such a spec until `grant_consent(spec)` was called (the window
after its confirmation dialog, the command line for a .py it was given, or for a .pt2 with --trust).
TorchScript and ONNX files are parsed, never unpickled into Python objects: no consent.
"""

from __future__ import annotations

import difflib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.core.errors import ConsentRequired, ModelSpecError, UnknownModelError

if TYPE_CHECKING:
    from explorer.core.zoo import ZooEntry

SPEC_FORMS = ("torchvision:NAME, timm:NAME, path/to/net.py[:callable], a TorchScript file (.pt), a torch.export "
              "program (.pt2) or an ONNX file (.onnx)")
TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts", ".jit", ".torchscript")
FILE_SUFFIXES = (".py", ".pt2", ".onnx", *TORCHSCRIPT_SUFFIXES)
_PY_CALLABLE = re.compile(r"^(?P<path>.+\.py):(?P<attr>[A-Za-z_][\w.]*)$")

PYTHON_REASON = "opening '{name}' runs the Python code in it, as `python {name}` would"
EXPORT_REASON = ("loading '{name}' can run Python code pickled inside it (torch.export.load unpickles some weights "
                 "and constants with weights_only=False): open it only if you trust where it came from")


@dataclass(frozen=True)
class ParsedSpec:
    """What a spec names, before anything is loaded."""

    text: str          # as the user wrote it
    kind: str          # "torchvision" | "timm" | "python" | "torchscript" | "export" | "onnx"
    name: str = ""     # torchvision/timm model name
    path: str = ""     # absolute path of a file spec
    attr: str = ""     # the callable of a .py spec ("" = the file's only nn.Module subclass)


def is_spec(text: str) -> bool:
    """True when `text` is meant as a spec rather than a (mistyped) zoo name."""
    if text.startswith(("torchvision:", "timm:")):
        return True
    m = _PY_CALLABLE.match(text)
    path = m.group("path") if m else text
    return path.lower().endswith(FILE_SUFFIXES) or os.sep in path or "/" in path or Path(path).is_file()


def parse(text: str) -> ParsedSpec:
    """Split a spec into its kind and parts; a file must exist. Raises ModelSpecError or UnknownModelError."""
    for prefix in ("torchvision", "timm"):
        if text.startswith(prefix + ":"):
            name = text[len(prefix) + 1:].strip()
            if not name:
                raise ModelSpecError(f"'{text}' names no model: write {prefix}:NAME, e.g. "
                                     f"{'torchvision:efficientnet_b0' if prefix == 'torchvision' else 'timm:resnet18'}")
            return ParsedSpec(text, prefix, name=name)
    m = _PY_CALLABLE.match(text)
    raw, attr = (m.group("path"), m.group("attr")) if m else (text, "")
    path = Path(raw).expanduser()
    if not path.exists():
        if not (raw.lower().endswith(FILE_SUFFIXES) or "/" in raw or os.sep in raw):
            from explorer.core import zoo

            close = difflib.get_close_matches(text, zoo.names(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownModelError(f"unknown model '{text}'{hint} Choose a zoo name (summary --list) or "
                                    f"{SPEC_FORMS}")
        raise ModelSpecError(f"cannot open model '{raw}': no such file")
    if path.is_dir():
        raise ModelSpecError(f"cannot open model '{raw}': it is a folder")
    path = path.resolve()
    suffix = path.suffix.lower()
    if suffix == ".py":
        return ParsedSpec(text, "python", path=str(path), attr=attr)
    if attr:
        raise ModelSpecError(f"'{text}': only a Python file takes ':callable'")
    if suffix == ".pt2":
        return ParsedSpec(text, "export", path=str(path))
    if suffix == ".onnx":
        return ParsedSpec(text, "onnx", path=str(path))
    if suffix in TORCHSCRIPT_SUFFIXES:
        return ParsedSpec(text, "torchscript", path=str(path))
    raise ModelSpecError(f"'{path.name}' is not a model file this app opens: expected {SPEC_FORMS}")


# ---------------------------------------------------------------------------------------------------- consent
_granted: set[str] = set()
_lock = threading.RLock()


def needs_consent(text: str) -> str | None:
    """The sentence a confirmation should show when opening `text` runs code from its file, else None.

    Never reads the file's contents (only its name and kind). A zoo name or a torchvision/timm spec runs
    installed code only: None."""
    from explorer.core import zoo

    if text in zoo.ZOO or not is_spec(text):
        return None
    spec = parse(text)
    name = Path(spec.path).name
    if spec.kind == "python":
        return PYTHON_REASON.format(name=name)
    if spec.kind == "export":
        return EXPORT_REASON.format(name=name)
    return None


def consent_key(text: str) -> str:
    """What consent is remembered by: the file's absolute path (the window may persist it)."""
    return parse(text).path


def grant_consent(text: str) -> None:
    """The user agreed to run `text`'s file (the window's confirmation, or the command line's own choice)."""
    if needs_consent(text):
        with _lock:
            _granted.add(consent_key(text))


def has_consent(text: str) -> bool:
    """True when `text` needs no consent or was granted it in this process."""
    if not needs_consent(text):
        return True
    with _lock:
        return consent_key(text) in _granted


# ----------------------------------------------------------------------------------------------- resolution
_cache: dict[tuple, "ZooEntry"] = {}


def _cache_key(spec: ParsedSpec) -> tuple:
    if spec.path:
        st = os.stat(spec.path)
        return (spec.kind, spec.path, spec.attr, st.st_size, st.st_mtime_ns)
    return (spec.kind, spec.name)


def resolve(text: str) -> "ZooEntry":
    """The ZooEntry of a spec (cached). Raises ConsentRequired, ModelSpecError, MissingExtraError,
    ModelTooLargeError or UnknownModelError, each with one sentence."""
    spec = parse(text)
    if not has_consent(text):
        reason = needs_consent(text) or ""
        raise ConsentRequired(spec.path, reason)
    key = _cache_key(spec)
    with _lock:
        entry = _cache.get(key)
        if entry is None:
            entry = _make_entry(spec)
            _cache[key] = entry
    return entry


def _make_entry(spec: ParsedSpec) -> "ZooEntry":
    if spec.kind == "torchvision":
        from explorer.core.model_specs import torchvision_models

        return torchvision_models.entry(spec.text, spec.name)
    if spec.kind == "timm":
        from explorer.core.model_specs import timm_models

        return timm_models.entry(spec.text, spec.name)
    if spec.kind == "python":
        from explorer.core.model_specs import python_file

        return python_file.entry(spec.text, Path(spec.path), spec.attr)
    if spec.kind in ("torchscript", "export"):
        from explorer.core.model_specs import exported

        return exported.entry(spec.text, Path(spec.path), spec.kind)
    from explorer.core.model_specs import onnx_import

    return onnx_import.entry(spec.text, Path(spec.path))


def forget(text: str | None = None) -> None:
    """Drop cached entries (all, or those of one spec) and granted consent; for tests and 'reload'."""
    with _lock:
        if text is None:
            _cache.clear()
            _granted.clear()
            return
        spec = parse(text)
        for key in [k for k in _cache if k[0] == spec.kind and (spec.path in k or spec.name in k)]:
            del _cache[key]
        _granted.discard(spec.path)
