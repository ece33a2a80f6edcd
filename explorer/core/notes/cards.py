"""Model cards: for every zoo entry its year, paper and key idea (explorer.core.zoo.ModelCard), plus its
parameters and multiply-accumulates at the entry's input size.

Totals come from the app's captured graph (explorer.core.capture.capture_graph) when that module is present and
succeeds, otherwise from explorer.core.notes.layer_stats (one forward pass with hooks). Both count MACs of
convolutions and dense layers only, torchvision's `_ops` convention.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from explorer.core import zoo

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class CardData:
    name: str
    family: str
    task: str
    year: int
    paper: str
    key_idea: str
    url: str
    input_size: tuple[int, int]
    params: int | None = None        # None until computed (it needs the model built)
    macs: int | None = None
    source: str = ""                 # "captured graph" | "forward hooks" | ""

    @property
    def params_text(self) -> str:
        return "…" if self.params is None else f"{self.params:,} ({self.params / 1e6:.1f} M)"

    @property
    def macs_text(self) -> str:
        return "…" if self.macs is None else f"{self.macs:,} ({self.macs / 1e9:.2f} G)"


def card(name: str) -> CardData:
    """The card of a zoo entry, without totals (cheap: no model built)."""
    return card_of(zoo.get(name))


def card_of(e: "zoo.ZooEntry") -> CardData:
    """The card of an entry (a zoo model, or one a model spec made), without totals."""
    return CardData(e.name, e.family, e.task, e.card.year, e.card.paper, e.card.key_idea, e.card.url, e.input_size)


def all_cards() -> list[CardData]:
    return [card(n) for n in zoo.names()]


def totals(model: "nn.Module", name: str, input_size: tuple[int, int]) -> tuple[int, int, str]:
    """(params, MACs, source) of a built model at (H, W) (runs the model: call it in a worker thread)."""
    shape = (3, *input_size)
    try:
        from explorer.core.capture import capture_graph
    except ImportError:
        capture_graph = None
    if capture_graph is not None:
        try:
            g = capture_graph(model, name, shape)
            return int(g.total_params), int(g.total_macs), "captured graph"
        except Exception:  # noqa: BLE001 - the hooks below still give the totals
            pass
    from explorer.core.notes.layer_stats import layer_stats
    s = layer_stats(model, shape, name)
    return s.total_params, s.total_macs, "forward hooks"


def card_with_totals(name: str, model: "nn.Module | None" = None) -> CardData:
    """The card with its totals; builds the model with random weights when none is given (worker thread)."""
    c = card(name)
    model = model if model is not None else zoo.build(name)
    params, macs, source = totals(model, name, c.input_size)
    return replace(c, params=params, macs=macs, source=source)


# Totals depend only on the architecture and the input size: counted once per process, for every view.
_COUNTED: dict[str, CardData] = {}


def counted(name: str) -> CardData | None:
    """The card with totals if they were counted (or remembered) already, else None."""
    return _COUNTED.get(name)


def remember(c: CardData) -> CardData:
    """Keep a card's totals (from the app's captured graph, or a count)."""
    if c.params is not None:
        _COUNTED[c.name] = c
    return c


def count(name: str) -> CardData:
    """The card with totals, building `name` with random weights if they are not known yet; the model is freed
    before this returns, so counting every zoo entry one after another never holds more than one (VGG-19
    alone is 575 MB)."""
    known = counted(name)
    if known is not None:
        return known
    model = zoo.build(name)
    try:
        c = card_with_totals(name, model)
    finally:
        del model
        gc.collect()
    return remember(c)

