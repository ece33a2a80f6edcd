"""Putting weights into a zoo model: random, pretrained (torchvision), bundled (resources/) or a file.

Nothing from a checkpoint is ever executed: every file goes through `torch.load(weights_only=True)`, whose
restricted unpickler accepts tensors and plain containers only and refuses any other global (a pickle whose
`__reduce__` would call a function). Such a file is reported as refused, naming the global it asked for (from
torch's message, or from the pickle's opcodes read with `pickletools.genops`, which executes nothing).

Weights that hold NaN or infinite values load, but `WeightsInfo.note` and `warnings` say so and a
`WeightsWarning` is issued (the command line prints it as one `warning:` line): every prediction would be NaN.
Messages name a file as the user gave it.

Pretrained weights come from torchvision's weights enum (`Weights.url`) and torch.hub's cache
(`torch.hub.get_dir()/checkpoints/<file name of the URL>`), the same file torchvision's builders use. When the
file is missing it is downloaded into that cache. torch.hub's own `download_url_to_file` reports progress only
to a tqdm bar on stderr and cannot be interrupted, so the download here is the same loop (urllib, 8 KiB
chunks, a `.partial` file moved into place at the end, SHA-256 prefix checked against the file name as
torch.hub's HASH_REGEX does) with a progress callback and a cancel check between chunks. The cached file is
then loaded through `torch.hub.load_state_dict_from_url` (weights_only=True), which finds it in the cache.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlparse

from explorer.core.errors import WeightsError

if TYPE_CHECKING:
    from torch import nn

    from explorer.core.zoo import ZooEntry

ProgressFn = Callable[[int, int], None]           # (bytes done, bytes total or 0 when unknown)
CancelCheck = Callable[[], bool] | threading.Event

RESOURCES_ROOT: Path | None = None   # tests may set this; otherwise env CNN_EXPLORER_RESOURCES or <repo>/resources
CHUNK = 64 * 1024
RANDOM_NOTE = "random weights: predictions are meaningless"


@dataclass
class WeightsInfo:
    """What was loaded: the spec the user chose and where the numbers came from."""

    spec: str                  # "random", "pretrained", "bundled" or the file path
    kind: str                  # "random" | "pretrained" | "bundled" | "file"
    source: str = ""           # URL, cache file or file path
    note: str = ""             # shown next to predictions (e.g. RANDOM_NOTE, or the first warning)
    ignored_keys: list[str] = field(default_factory=list)  # keys of the checkpoint the model does not use by design
    warnings: list[str] = field(default_factory=list)      # e.g. "12 of 62 tensors hold NaN or Inf values ..."

    @property
    def is_random(self) -> bool:
        return self.kind == "random"


class DownloadError(WeightsError):
    """A download that failed while running (network, server, damaged transfer), not a bad choice of weights."""


class DownloadCancelled(DownloadError):
    """The user cancelled a download."""


class WeightsWarning(UserWarning):
    """Weights that loaded but cannot give meaningful results (NaN or infinite values)."""


def resources_root() -> Path:
    if RESOURCES_ROOT is not None:
        return Path(RESOURCES_ROOT)
    env = os.environ.get("CNN_EXPLORER_RESOURCES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "resources"


def hub_checkpoint_dir() -> Path:
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def pretrained_url(entry: "ZooEntry") -> str:
    """The URL of torchvision's weights for `entry`; env CNN_EXPLORER_WEIGHTS_MIRROR replaces the host part."""
    from explorer.core import zoo

    weights = zoo.tv_weights_enum(entry)
    if weights is None:
        raise WeightsError(f"{entry.name} has no pretrained torchvision weights; choose one of: "
                           f"{', '.join(entry.weight_choices)} or a file")
    url = weights.url
    mirror = os.environ.get("CNN_EXPLORER_WEIGHTS_MIRROR")
    if mirror:
        url = mirror.rstrip("/") + "/" + os.path.basename(urlparse(url).path)
    return url


def _cancelled(cancel: CancelCheck | None) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def download(url: str, dst: str | os.PathLike, *, progress: ProgressFn | None = None,
             cancel: CancelCheck | None = None, check_hash: bool = True, timeout: float = 30.0) -> Path:
    """Download `url` to `dst` through a `.partial` file; nothing is left at `dst` on error or cancel.

    The SHA-256 must start with the hash in the file name (torch.hub's convention, e.g. resnet18-f37072fd.pth).
    """
    import torch.hub

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f"{dst.name}.{uuid.uuid4().hex}.partial")
    match = torch.hub.HASH_REGEX.search(dst.name) if check_hash else None
    hash_prefix = match.group(1) if match and match.group(1) else None
    sha = hashlib.sha256()
    done = 0
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "torch.hub"})
        try:
            resp = urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"cannot download '{url}': the server answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(f"cannot download '{url}' (no internet?): {reason}") from None
        with resp, open(tmp, "wb") as f:
            total = int(resp.headers.get("Content-Length") or 0)
            if progress:
                progress(0, total)
            while True:
                if _cancelled(cancel):
                    raise DownloadCancelled(f"download of '{os.path.basename(dst)}' cancelled")
                try:
                    chunk = resp.read(CHUNK)
                except OSError as exc:
                    raise DownloadError(f"download of '{url}' broke off after {done} bytes: {exc}") from None
                if not chunk:
                    break
                f.write(chunk)
                sha.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        if total and done != total:
            raise DownloadError(f"download of '{url}' broke off after {done} of {total} bytes")
        if hash_prefix and not sha.hexdigest().startswith(hash_prefix):
            raise DownloadError(f"downloaded '{dst.name}' is damaged: its SHA-256 does not start with {hash_prefix}")
        shutil.move(str(tmp), str(dst))
    finally:
        if tmp.exists():
            tmp.unlink()
    return dst


# -- checkpoints ----------------------------------------------------------------------------------------------
def read_checkpoint(path: str | os.PathLike, name: str | None = None) -> dict[str, Any]:
    """A state_dict from a file (torch.load weights_only=True); accepts {"state_dict"|"model": ...} wrappers.

    torch's own warnings while reading (e.g. "Detected pickle protocol 4" for a plain pickle) are silenced:
    the outcome is reported as one WeightsError sentence, and the command line promises one line only.
    Messages name the file as given: `name`, else `path` as the caller passed it.
    """
    import pickle
    import warnings

    import torch

    p = Path(path)
    name = name or os.fspath(path)
    if not p.exists():
        raise WeightsError(f"cannot open weights '{name}': no such file")
    if p.is_dir():
        raise WeightsError(f"cannot open weights '{name}': it is a folder")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        code = _refused_global(str(exc), p)
        if code:
            raise WeightsError(f"refused '{name}': it asks to run code ({code}) when unpickled; "
                               f"only tensors are loaded") from None
        raise WeightsError(f"cannot load '{name}': the file is corrupt or not a PyTorch checkpoint") from None
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, AttributeError, TypeError, IndexError) as exc:
        del exc
        raise WeightsError(f"cannot load '{name}': the file is corrupt or not a PyTorch checkpoint") from None
    return _unwrap(obj, name)


# torch's weights_only unpickler names a refused global as "Unsupported global: GLOBAL posix.system was not an
# allowed global" or "Trying to load unsupported GLOBAL posix.system whose module posix is blocked"
_TORCH_GLOBAL = re.compile(r"unsupported global:?\s+GLOBAL\s+([\w.<>]+)", re.IGNORECASE)
_TORCH_MODULES = ("torch", "collections", "_codecs")  # what torch.save itself writes
_SCAN_LIMIT = 64 * 2**20  # a refused pickle is read for its globals up to this many bytes


def _refused_global(message: str, path: Path) -> str | None:
    """The global (module.name) a refused pickle asks for. The pickle's own opcodes are read first: torch
    names only the first global it refuses (a plain pickle's tensors come as torch.storage._load_from_bytes
    before the os.system further on) and none when it stops at an opcode it does not know (protocol 4's
    FRAME). A global outside torch's own modules is named first, then the one torch's message names."""
    try:
        names = _pickle_globals(_pickle_bytes(path))
    except (OSError, ValueError, KeyError):
        names = []
    foreign = [n for n in names if n.split(".", 1)[0] not in _TORCH_MODULES]
    if foreign:
        return foreign[0]
    m = _TORCH_GLOBAL.search(message)
    return m.group(1) if m else None


def _pickle_bytes(path: Path) -> bytes:
    """The pickle of a checkpoint: the file itself, or `*/data.pkl` inside torch.save's zip archive."""
    import zipfile

    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            member = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            if member is None:
                return b""
            with archive.open(member) as f:
                return f.read(_SCAN_LIMIT)
    with open(path, "rb") as f:
        return f.read(_SCAN_LIMIT)


_STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
               "BINUNICODE8"}


def _pickle_globals(data: bytes) -> list[str]:
    """Every global a pickle names (GLOBAL, INST, STACK_GLOBAL), read with pickletools.genops: opcodes are
    parsed, nothing is executed or imported."""
    import io
    import pickle
    import pickletools

    found: list[str] = []
    strings: list[str] = []           # strings pushed so far (STACK_GLOBAL takes the last two)
    memo: dict[int, str] = {}         # memo slots that hold strings
    memo_next = 0                     # MEMOIZE fills slots in order, whatever their value
    top: str | None = None            # the string on top of the stack, when the top is one
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            name = op.name
            if name in ("GLOBAL", "INST"):
                found.append(".".join(str(arg).split(" ", 1)))
                top = None
            elif name in _STRING_OPS:
                top = str(arg)
                strings.append(top)
            elif name == "MEMOIZE":
                if top is not None:
                    memo[memo_next] = top
                memo_next += 1
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                if top is not None:
                    memo[int(arg)] = top
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                top = memo.get(int(arg))
                if top is not None:
                    strings.append(top)
            elif name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
                top = None
            elif name == "STOP":
                break
            else:
                top = None
    except (ValueError, EOFError, pickle.UnpicklingError):
        pass  # a damaged pickle: the globals found before the damage
    return found


def _unwrap(obj: Any, name: str) -> dict[str, Any]:
    import torch

    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict", "model_state"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"'{name}' is not a state_dict: expected a mapping of parameter names to tensors")
    if all(k.startswith("module.") for k in obj):  # saved from DataParallel/DistributedDataParallel
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def _count(items: list, noun: str, plural: str = "s") -> str:
    """"1 unexpected key", "2 unexpected keys"."""
    return f"{len(items)} {noun}{plural if len(items) != 1 else ''}"


def _preview(keys: list[str], n: int = 4) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f", … (+{len(keys) - n} more)" if len(keys) > n else "")


def apply_state_dict(model: "nn.Module", state: dict[str, Any], name: str, model_name: str,
                     ignore_prefixes: tuple[str, ...] = ()) -> list[str]:
    """Load `state` strictly; any mismatch raises WeightsError listing missing/unexpected keys and shapes.

    Keys under `ignore_prefixes` (parts the zoo model drops by design, e.g. GoogLeNet's aux heads) are skipped
    and returned.
    """
    own = model.state_dict()
    ignored = [k for k in state if k not in own and k.startswith(ignore_prefixes)] if ignore_prefixes else []
    state = {k: v for k, v in state.items() if k not in ignored}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{_count(missing, 'missing key')} ({_preview(missing)})")
        if unexpected:
            parts.append(f"{_count(unexpected, 'unexpected key')} ({_preview(unexpected)})")
        if shapes:
            parts.append(f"{_count(shapes, 'shape mismatch', 'es')}, checkpoint vs model ({_preview(shapes, 3)})")
        raise WeightsError(f"'{name}' does not fit {model_name}: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)
    return ignored


def _densenet_keys(state: dict[str, Any]) -> dict[str, Any]:
    """torchvision's DenseNet checkpoints use old key names ('norm.1'); torchvision/models/densenet.py renames."""
    pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")
    out = {}
    for key, value in state.items():
        m = pattern.match(key)
        out[m.group(1) + m.group(2) if m else key] = value
    return out


# -- the entry point ------------------------------------------------------------------------------------------
def default_spec(entry: "ZooEntry") -> str:
    """The weights a model opens with: bundled when shipped, pretrained when torchvision's file is already in
    the torch hub cache (no download needed), else random."""
    if entry.source != "zoo":  # torchvision:/timm: specs and model files (explorer.core.model_specs)
        from explorer.core.model_specs import spec_weights

        chosen = spec_weights.default_spec(entry)
        if chosen:
            return chosen
    if entry.bundled_weights and (resources_root() / entry.bundled_weights).is_file():
        return "bundled"
    if entry.tv_weights:
        cached = hub_checkpoint_dir() / os.path.basename(urlparse(pretrained_url(entry)).path)
        if cached.is_file():
            return "pretrained"
    return "random"


def non_finite_warning(state: dict[str, Any]) -> str:
    """"12 of 62 tensors hold NaN or Inf values: every output will be NaN" for a state_dict with such floats,
    "" when every floating-point tensor is finite."""
    import torch

    floats = [t for t in state.values() if isinstance(t, torch.Tensor) and t.is_floating_point()]
    bad = sum(1 for t in floats if not bool(torch.isfinite(t).all()))
    if not bad:
        return ""
    return f"{bad} of {len(floats)} tensors hold NaN or Inf values: the outputs will be meaningless (NaN)"


def _checked(info: WeightsInfo, state: dict[str, Any], name: str) -> WeightsInfo:
    """Add the non-finite warning to `info` (note and warnings) and issue it as a WeightsWarning."""
    import warnings

    text = non_finite_warning(state)
    if text:
        text = f"'{name}': {text}"
        info.warnings.append(text)
        info.note = info.note or text
        warnings.warn(WeightsWarning(text), stacklevel=3)
    return info


def load_weights(model: "nn.Module", entry: "ZooEntry", spec: str, *, progress: ProgressFn | None = None,
                 cancel: CancelCheck | None = None) -> WeightsInfo:
    """Put the weights named by `spec` into `model` (built by zoo.build, on any device) and say what was done."""
    spec = (spec or "random").strip()
    if entry.source != "zoo":  # pretrained and embedded weights of specs (explorer.core.model_specs)
        from explorer.core.model_specs import spec_weights

        info = spec_weights.load(model, entry, spec, progress=progress, cancel=cancel)
        if info is not None:
            return info
    if spec == "random":
        return WeightsInfo("random", "random", note=RANDOM_NOTE)
    if spec == "pretrained":
        return _load_pretrained(model, entry, progress, cancel)
    if spec == "bundled":
        if not entry.bundled_weights:
            raise WeightsError(f"{entry.name} has no bundled weights; choose one of: "
                               f"{', '.join(entry.weight_choices)} or a file")
        path = resources_root() / entry.bundled_weights
        if not path.is_file():
            raise WeightsError(f"bundled weights for {entry.name} are missing: expected '{path}'")
        state = read_checkpoint(path)
        apply_state_dict(model, state, str(path), entry.name)
        return _checked(WeightsInfo("bundled", "bundled", str(path)), state, str(path))
    path = Path(spec).expanduser()
    state = read_checkpoint(path, spec)
    apply_state_dict(model, state, spec, entry.name)
    return _checked(WeightsInfo(str(path), "file", str(path)), state, spec)


def _load_pretrained(model, entry, progress, cancel) -> WeightsInfo:
    import warnings

    import torch.hub

    url = pretrained_url(entry)
    cached = hub_checkpoint_dir() / os.path.basename(urlparse(url).path)
    if not cached.is_file():
        download(url, cached, progress=progress, cancel=cancel)
    try:
        with warnings.catch_warnings():  # as in read_checkpoint: the outcome is reported, not torch's warnings
            warnings.simplefilter("ignore")
            state = torch.hub.load_state_dict_from_url(url, model_dir=str(cached.parent), map_location="cpu",
                                                       progress=False, check_hash=True, weights_only=True)
    except Exception:  # noqa: BLE001 - a damaged cache file: say which one, as read_checkpoint would
        state = read_checkpoint(cached)
    state = _unwrap(state, str(cached))
    if entry.family == "DenseNet":
        state = _densenet_keys(state)
    ignored = apply_state_dict(model, state, str(cached), entry.name, ignore_prefixes=("aux1.", "aux2."))
    return _checked(WeightsInfo("pretrained", "pretrained", str(cached), ignored_keys=ignored), state, str(cached))
