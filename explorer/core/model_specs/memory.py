"""Refusing a model too large for this machine's free memory, before loading it.

The estimate is made without allocating the model: parameter and buffer shapes from a build on PyTorch's
"meta" device (torchvision, timm, a Python file), or the file's size for files whose tensors are read from disk.
Free memory is Linux's MemAvailable (/proc/meminfo: "an estimate of how much memory is available for starting
new applications, without swapping", Documentation/filesystems/proc.rst), else the free physical pages that
os.sysconf reports; where neither exists the check is skipped.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from explorer.core.errors import ModelTooLargeError

if TYPE_CHECKING:
    from torch import nn

    from explorer.core.zoo import ZooEntry

GB = 1024 ** 3
# Reading a file into tensors holds the file's bytes and the tensors made from them at once (torch.export.load,
# torch.jit.load); an ONNX conversion holds the protobuf, numpy arrays and the torch copies.
FILE_FACTOR = {"torchscript": 2.0, "export": 2.0, "onnx": 3.0}


def available_bytes() -> int | None:
    """Memory free for a new allocation, in bytes; None when this system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the value is in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def tensor_bytes(model: "nn.Module") -> int:
    """Bytes of a model's parameters and buffers (works on the meta device: shapes and dtypes only)."""
    seen: set[int] = set()
    total = 0
    for t in [*model.parameters(), *model.buffers()]:
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def file_estimate(path: str, kind: str) -> int:
    return int(os.path.getsize(path) * FILE_FACTOR.get(kind, 2.0))


def fmt_gb(n: int) -> str:
    return f"{n / GB:.1f} GB" if n >= GB // 10 else f"{n / 1024 ** 2:.0f} MB"


def check_bytes(needed: int | None, what: str) -> None:
    """Raise ModelTooLargeError when `needed` bytes exceed the free memory."""
    if not needed:
        return
    free = available_bytes()
    if free is not None and needed > free:
        raise ModelTooLargeError(f"{what} needs about {fmt_gb(needed)} of memory to load, and {fmt_gb(free)} "
                                 f"is free: close other programs or choose a smaller model")


def check(entry: "ZooEntry") -> None:
    check_bytes(entry.size_bytes, entry.name)
