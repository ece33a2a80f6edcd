"""Finding what a user names in a captured graph: a node id, a module path, a module's output leaf."""

from __future__ import annotations

import difflib

from explorer.core.errors import ExplorerError
from explorer.core.graph import GraphNode, ModelGraph


class UnknownLayerError(ExplorerError, KeyError):
    """A layer name that is neither a node id nor a module path of the captured graph."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown layer"


def is_module_call(node: GraphNode) -> bool:
    """True for a leaf-module call (id = module path, "#k" for later calls), False for functional ops and the
    input/output nodes."""
    if node.kind in ("input", "output"):
        return False
    return node.id.split("#", 1)[0] == (node.module_path or node.id.split("#", 1)[0]) and \
        (bool(node.module_path) or node.op[:1].isupper())


def find_node(graph: ModelGraph, name: str) -> GraphNode:
    """The node a user means by `name`: a node id ("layer1.0.conv1", "relu#1", "layer1.0.add_0") or a module
    path; a module that holds several nodes resolves to its last node in execution order (its output).
    Unknown names raise UnknownLayerError with the closest names."""
    if graph.has_node(name):
        return graph.node(name)
    if name in graph.modules:
        inside = graph.nodes_in(name)
        if inside:
            return inside[-1]
    choices = list(dict.fromkeys([n.id for n in graph.nodes] + [p for p in graph.modules if p]))
    close = difflib.get_close_matches(name, choices, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `summary MODEL` lists the layers"
    raise UnknownLayerError(f"unknown layer '{name}' in {graph.model_name}{hint}")


def find_output_node(graph: ModelGraph, name: str, key: str = "") -> GraphNode:
    """The node that produced output leaf `key` (flatten_outputs' name: an FPN level "0", the RPN head's
    "1.0") of module `name`; find_node(name) for a single output or a key the capture did not see."""
    info = graph.modules.get(name)
    if key and info is not None and graph.has_node(info.outputs.get(key, "")):
        return graph.node(info.outputs[key])
    return find_node(graph, name)
