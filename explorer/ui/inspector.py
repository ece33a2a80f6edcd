"""The inspector: everything known about the selected item of the graph (a call, or a block's totals).

It describes `state.selection.item`, what the user picked: a call, a module block or a group the graph made
(ResNet's "stem"); for a block it also says which layer the layer views (feature maps, Grad-CAM) show for it
(`selection.layer`, resolved by the state: "shows: maxpool 64×56×56"). Shapes are written per image, as
everywhere in the app (explorer.core.graph_view.shape_text).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from explorer.core.graph_view import shape_text, tree_for
from explorer.ui.state import AppState, Selection

if TYPE_CHECKING:
    from explorer.core.graph import ModelGraph, Shape
    from explorer.ui.bridge import SessionBridge

EMPTY = "<i style='color:#78909c'>Select a layer or a block in the graph.</i>"


def _shapes(shapes: "list[Shape]") -> str:
    return ", ".join(shape_text(s) for s in shapes) if shapes else "–"


def _row(name: str, value: str) -> str:
    return f"<tr><td style='color:#546e7a;padding-right:10px'>{name}</td><td>{value}</td></tr>"


def describe_html(graph: "ModelGraph | None", item_id: str, layer: str = "") -> str:
    """HTML for a node id or a block (module path or group) of `graph`, or '' when unknown. `layer`: what the
    layer views show for a block (Selection.layer)."""
    if graph is None or not item_id:
        return ""
    if graph.has_node(item_id):
        return _describe_node(graph, item_id)
    tree = tree_for(graph)
    item = tree.items.get(item_id)
    if item is None or not item.is_block:
        return ""
    e = html.escape
    d = tree.describe(item_id)
    first = graph.node(item.nodes[0]) if item.nodes else None
    rows = [_row("module path", e(item_id or "(model)") + (" (a group of its siblings)" if d["virtual"] else "")),
            _row("type", e(d["type"])),
            _row("input", e(_shapes(first.input_shapes)) if first else "–"),
            _row("output", e(_outputs_text(graph, item_id) or shape_text(d["output_shape"]))),
            _row("parameters", f"{d['params']:,}"), _row("MACs", f"{d['macs']:,}"),
            _row("calls inside", str(d["calls"])),
            _row("children", e(", ".join(tree.items[c].label for c in d["children"][:12]))
                 + (" …" if len(d["children"]) > 12 else ""))]
    if d["repeat"] > 1:
        rows.append(_row("repeated", f"×{d['repeat']} identical blocks in a row"))
    ends = ([(key, graph.node(node_id)) for key, node_id in _separate_outputs(graph, item_id).items()] or
            [("", graph.node(item.nodes[-1]))] if item.nodes else [])
    for key, end in ends:  # each output its own: an FPN's levels have strides 4 to 64
        rows.append(_row(f"receptive field [{e(key)}]" if key else "receptive field",
                         "whole image" if end.receptive_field is None
                         else f"{end.receptive_field} px (stride {end.stride} px)"))
    shown = _shown_text(graph, item_id, layer)
    if shown:
        rows.append(_row("shows", shown))
    return f"<h3>{e(d['label'])}</h3><table>{''.join(rows)}</table>{_traced_at(graph)}"


def _describe_node(graph: "ModelGraph", node_id: str) -> str:
    e = html.escape
    n = graph.node(node_id)
    rows = [_row("module path", e(n.module_path or "(model)")), _row("op", e(f"{n.op}  ({n.kind})")),
            _row("input", e(_shapes(n.input_shapes))), _row("output", e(_shapes(n.output_shapes))),
            _row("parameters", f"{n.params:,}" + (f"<br><tt>{e(n.formula)}</tt>" if n.formula else "")),
            _row("weights / biases", f"{n.weight_params:,} / {n.bias_params:,}"),
            _row("MACs", f"{n.macs:,}"),
            _row("receptive field", "whole image" if n.receptive_field is None else f"{n.receptive_field} px"),
            _row("stride", "–" if n.stride is None else f"{n.stride} px"),
            _row("offset", "–" if n.offset is None else f"{n.offset:g} px")]
    if n.call_index:
        rows.append(_row("call", f"#{n.call_index + 1} of a shared module"))
    about = f"<p>{e(n.description)}</p>" if n.description else ""  # a named step that is not a module
    return f"<h3>{e(n.id)}</h3><table>{''.join(rows)}</table>{about}{_traced_at(graph)}"


def _shown_text(graph: "ModelGraph", item_id: str, layer: str) -> str:
    """What the layer views show for a block: its output call's name and shape ("maxpool 64×56×56"), or the
    block's own output when they probe the module itself."""
    if not layer:
        return ""
    e = html.escape
    if layer != item_id and graph.has_node(layer):
        node = graph.node(layer)
        return (f"{e(layer)} {e(_shapes(node.output_shapes[:1]))} "
                "<span style='color:#78909c'>(the group's output, in the layer views)</span>")
    if layer == item_id:
        shape = _outputs_text(graph, item_id) or shape_text(tree_for(graph).items[item_id].output_shape)
        return f"{e(layer)} {e(shape)} <span style='color:#78909c'>(the block's output, in the layer views)</span>"
    return e(layer)


def _separate_outputs(graph: "ModelGraph", path: str) -> dict[str, str]:
    """{output key: node id} of a module whose several outputs each come from a node of their own (an FPN's
    levels, the RPN head's per-level maps); {} otherwise (one output, or several derived from one node such
    as a detector's boxes, labels and scores, whose shapes that node does not hold)."""
    info = graph.modules.get(path)
    outputs = info.outputs if info is not None else {}
    nodes = list(outputs.values())
    if len(nodes) < 2 or len(set(nodes)) < len(nodes) or not all(graph.has_node(n) for n in nodes):
        return {}
    return dict(outputs)


def _outputs_text(graph: "ModelGraph", path: str) -> str:
    """Each output of a module with several ("0: 256×10×10, pool: 256×5×5"); '' for one."""
    return ", ".join(f"{key}: {shape_text(graph.node(node_id).output_shapes[0])}"
                     for key, node_id in _separate_outputs(graph, path).items()
                     if graph.node(node_id).output_shapes)


def _traced_at(graph: "ModelGraph") -> str:
    """The figures are the capture pass's: a detector resizes each image, so its live maps differ, and its RoI
    heads run once per proposal, so their MACs hold for the pass's proposal count."""
    text = f"Shapes at a {html.escape(shape_text(tuple(graph.input_shape)))} input"
    if graph.proposals is not None:
        text += f"; MACs at {graph.proposals:,} proposals (the RoI heads run once per proposal)"
    return f"<p style='color:#78909c'>{text}.</p>"


class InspectorPanel(QWidget):
    """Follows `state.selection`; shows module path, op, shapes, parameters with formula, MACs, RF, stride."""

    def __init__(self, state: AppState, bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.label = QLabel()
        self.label.setTextFormat(Qt.RichText)
        self.label.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.label.setMargin(6)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        state.selectionChanged.connect(self.show_selection)
        state.graphChanged.connect(lambda _graph: self.show_selection(self.state.selection))
        self.show_selection(state.selection)

    def show_selection(self, selection: Selection) -> None:
        text = describe_html(self.state.graph, selection.item, selection.layer)
        self.label.setText(text or EMPTY)
