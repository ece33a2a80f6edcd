"""Small networks and independent references for the model-spec tests (tests/test_model_specs_*.py).

The references never go through the app: parameters are sum(numel) of the network the test made itself, and
shapes come from forward hooks on that network's leaf modules.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

import torch
from torch import nn

class SmallNet(nn.Module):
    """Two conv stages and a classifier."""

    def __init__(self, num_classes: int = 7, norm: bool = True):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8) if norm else nn.Identity(), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.features(x)
        return self.fc(torch.flatten(self.pool(x), 1))


# The same class as a network file a user would write (the tests' SmallNet is their own reference).
NET_SOURCE = '"""A user\'s network file."""\nimport torch\nfrom torch import nn\n\n\n' + inspect.getsource(SmallNet)


def small_net(norm: bool = True, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = SmallNet(norm=norm).eval()
    if norm:  # non-trivial statistics, so that folding or merging cannot hide a wrong conversion
        bn = net.features[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    return net


def write_net(folder: Path, extra: str = "", name: str = "net.py") -> Path:
    path = folder / name
    path.write_text(NET_SOURCE + textwrap.dedent(extra))
    return path


def numel(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def hook_shapes(model: nn.Module, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Output shape of every leaf module's first call, by module path (forward hooks)."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for path, module in model.named_modules():
        if path and not list(module.children()):
            def hook(mod, args, out, path=path):
                shapes.setdefault(path, tuple(out.shape))
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.rand((1, *shape)))
    finally:
        for h in handles:
            h.remove()
    return shapes


def graph_shapes(graph) -> dict[str, tuple[int, ...]]:
    """Output shape of every leaf-module node's first call in a captured graph, by module path."""
    from explorer.core.capture import is_module_call

    return {n.module_path: tuple(n.output_shapes[0]) for n in graph.nodes
            if is_module_call(n) and n.call_index == 0 and n.output_shapes}
