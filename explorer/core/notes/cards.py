"""Model cards: for every zoo entry its year, paper and key idea (explorer.core.zoo.ModelCard), plus its
parameters and multiply-accumulates at the entry's input size.

Totals come from the app's captured graph (explorer.core.capture.capture_graph) when that module is present and
succeeds, otherwise from explorer.core.notes.layer_stats (one forward pass with hooks). Both count MACs of
convolutions and dense layers only, torchvision's `_ops` convention.

A two-stage detector's RoI heads run once per proposal: the graph is captured at the model's own test-time
maximum (ModelGraph.proposals, rpn post_nms_top_n), and the card says so, as `explorer summary` and the Inspector
do, and what torchvision's published figure counts: its 134.38 G for fasterrcnn_resnet50_fpn is this same count
(1000 proposals), its 0.719 G for fasterrcnn_mobilenet_v3_large_320_fpn the backbone and RPN alone.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from explorer.core import zoo

if TYPE_CHECKING:
    from torch import nn

    from explorer.core.graph import ModelGraph

HEADS = "roi_heads"      # a torchvision-style two-stage detector's per-proposal heads


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
    project_model: bool = False      # trained by the project (bundled weights) after the `year` paper's design
    proposals: int | None = None     # RoI heads counted at this many proposals (two-stage detectors), else None
    heads_macs: int | None = None    # of `macs`, those of the RoI heads at `proposals`
    published_macs: float | None = None  # torchvision's `_ops` in G (its "GFLOPS"), when its weights publish it

    @property
    def year_text(self) -> str:
        """"2015", or for the project's own trained model "the project's model, after the 2015 design"."""
        if not self.year:
            return ""
        return f"the project's model, after the {self.year} design" if self.project_model else str(self.year)

    @property
    def macs_assumption(self) -> str:
        """What the MACs figure assumes, as `explorer summary` says it, and how torchvision's figure compares."""
        parts = []
        if self.proposals is not None:
            parts.append(f"RoI heads at {self.proposals:,} proposals (the model's test-time maximum, rpn "
                         f"post_nms_top_n; an image on which fewer survive NMS costs less)")
        if self.published_macs is not None and self.macs is not None:
            ours, theirs = self.macs / 1e9, self.published_macs
            if abs(ours - theirs) <= 0.01 * theirs:
                parts.append(f"torchvision publishes the same figure, {theirs:g} G")
            elif self.heads_macs is not None and abs((self.macs - self.heads_macs) / 1e9 - theirs) <= 0.01 * theirs:
                parts.append(f"torchvision's published {theirs:g} G counts the backbone and RPN alone, without the "
                             f"RoI heads ({self.heads_macs / 1e9:.2f} G of this total)")
            else:
                parts.append(f"torchvision publishes {theirs:g} G")
        return "; ".join(parts)

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
    return CardData(e.name, e.family, e.task, e.card.year, e.card.paper, e.card.key_idea, e.card.url, e.input_size,
                    project_model=bool(getattr(e, "bundled_weights", None)) and not getattr(e, "tv_weights", None))


def published_macs(name: str) -> float | None:
    """torchvision's `_ops` (G multiply-accumulates) for a zoo entry with torchvision weights, else None (imports
    torchvision: call it where the model was built)."""
    try:
        enum = zoo.tv_weights_enum(zoo.get(name))
        ops = enum.meta.get("_ops") if enum is not None else None
    except Exception:  # noqa: BLE001 - a model from elsewhere, or an older torchvision: nothing published
        return None
    return float(ops) if ops is not None else None


def with_graph(c: CardData, graph: "ModelGraph") -> CardData:
    """The card with a captured graph's totals, its proposal count and its RoI heads' share of the MACs."""
    heads = graph.modules.get(HEADS) if graph.proposals is not None else None
    return replace(c, params=int(graph.total_params), macs=int(graph.total_macs), source="captured graph",
                   proposals=graph.proposals, heads_macs=None if heads is None else int(heads.macs),
                   published_macs=published_macs(c.name))


def all_cards() -> list[CardData]:
    return [card(n) for n in zoo.names()]


def _capture(model: "nn.Module", name: str, shape: tuple[int, ...]) -> "ModelGraph | None":
    try:
        from explorer.core.capture import capture_graph
    except ImportError:
        return None
    try:
        return capture_graph(model, name, shape)
    except Exception:  # noqa: BLE001 - the hooks still give the totals
        return None


def totals(model: "nn.Module", name: str, input_size: tuple[int, int]) -> tuple[int, int, str]:
    """(params, MACs, source) of a built model at (H, W) (runs the model: call it in a worker thread)."""
    shape = (3, *input_size)
    g = _capture(model, name, shape)
    if g is not None:
        return int(g.total_params), int(g.total_macs), "captured graph"
    from explorer.core.notes.layer_stats import layer_stats
    s = layer_stats(model, shape, name)
    return s.total_params, s.total_macs, "forward hooks"


def card_with_totals(name: str, model: "nn.Module | None" = None) -> CardData:
    """The card with its totals; builds the model with random weights when none is given (worker thread)."""
    c = card(name)
    model = model if model is not None else zoo.build(name)
    g = _capture(model, name, (3, *c.input_size))
    if g is not None:
        return with_graph(c, g)
    from explorer.core.notes.layer_stats import layer_stats
    s = layer_stats(model, (3, *c.input_size), name)
    return replace(c, params=s.total_params, macs=s.total_macs, source="forward hooks")


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

