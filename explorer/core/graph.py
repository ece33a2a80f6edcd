"""The captured graph of a model: the data every graph view, table and command reads.

A `ModelGraph` is recorded from one real forward pass (see `explorer.core.capture`), so it exists for every
model, torchvision's detectors included, where torch.fx and torch.export fail. Nodes are leaf modules and the
functional ops that matter (add, cat, flatten, interpolate, RoI pooling ...); edges follow the data flow; the
nn.Module hierarchy (`modules`) lets a viewer collapse any module into one box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Shape = tuple[int, ...]

# A dimension whose size depends on the input's content, not its size: the number of detections in a
# torchvision detector's output (its docs write boxes as FloatTensor[N, 4]). One forward pass on a blank or
# random image finds some arbitrary number of them (often 0), so the shape records this marker instead and
# views write it as "N" (`explorer.core.graph_view.shape_text`).
VARIABLE_DIM = -1

# Op kinds used for colouring and legends; `GraphNode.kind` is one of these.
NODE_KINDS: tuple[str, ...] = (
    "input", "output", "conv", "linear", "norm", "activation", "pool", "merge",
    "reshape", "upsample", "roi", "dropout", "detection", "other",
)


@dataclass
class GraphNode:
    """One box of the fully expanded graph: a leaf module call or a functional op.

    Receptive field, stride and offset follow the usual recurrences (Araujo et al., "Computing Receptive
    Fields of Convolutional Neural Networks", Distill 2019): r_out = r_in + (k - 1)·j_in, j_out = j_in·s,
    start_out = start_in + ((k - 1)/2 - p)·j_in, in input pixels along the height axis.
    """

    id: str                      # unique and stable: module path for a module call ("layer1.0.conv1"),
                                 # "<module path>.<op>_<n>" or "<op>_<n>" for a functional op; "input", "output"
    label: str                   # short display name ("conv1", "add")
    op: str                      # module class name ("Conv2d") or function name ("add", "cat", "roi_align")
    kind: str                    # one of NODE_KINDS
    module_path: str             # the module called, or the module in whose forward the op ran ("" = root)
    parent: str                  # module path of the enclosing module in the hierarchy ("" = root)
    input_shapes: list[Shape] = field(default_factory=list)
    output_shapes: list[Shape] = field(default_factory=list)  # VARIABLE_DIM where the size is data-dependent
    params: int = 0              # weights + biases of this call (0 for functional ops)
    weight_params: int = 0
    bias_params: int = 0
    macs: int = 0                # multiply-accumulates of this call
    receptive_field: int | None = None  # in input pixels; None where undefined (after flatten/fc it is the image)
    stride: int | None = None           # effective stride (jump) in input pixels
    offset: float | None = None         # centre of the first output pixel, in input pixels
    formula: str = ""            # parameter arithmetic, e.g. "5×5×48×256 = 307,200" (+ bias)
    call_index: int = 0          # how many times this module was called before (shared modules)
    description: str = ""        # what a node that is neither a module nor a plain op does (tooltips)


@dataclass
class GraphEdge:
    """Data flowing from `source` to `target`; `shape` is the tensor's shape."""

    source: str
    target: str
    shape: Shape = ()


@dataclass
class ModuleInfo:
    """One nn.Module of the hierarchy; `path` "" is the root."""

    path: str
    type: str                    # class name
    parent: str | None           # None for the root
    children: list[str] = field(default_factory=list)  # child module paths that hold nodes, in call order
    params: int = 0              # parameters of the module and its descendants
    macs: int = 0                # MACs of the nodes inside it
    outputs: dict[str, str] = field(default_factory=dict)  # output leaf key ("0", "pool", "1.0") -> node id


@dataclass
class ModelGraph:
    """A recorded model graph; nodes are in execution order."""

    model_name: str
    input_shape: Shape
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    modules: dict[str, ModuleInfo]
    total_params: int
    total_macs: int
    # a two-stage detector's RoI heads run once per proposal: the capture pass fixes that count at the model's
    # own test-time maximum (rpn.post_nms_top_n) so totals do not depend on the weights; None for other models
    proposals: int | None = None

    def __post_init__(self) -> None:
        self._by_id = {n.id: n for n in self.nodes}

    def node(self, node_id: str) -> GraphNode:
        return self._by_id[node_id]

    def has_node(self, node_id: str) -> bool:
        return node_id in self._by_id

    def predecessors(self, node_id: str) -> list[str]:
        return [e.source for e in self.edges if e.target == node_id]

    def successors(self, node_id: str) -> list[str]:
        return [e.target for e in self.edges if e.source == node_id]

    def nodes_in(self, module_path: str) -> list[GraphNode]:
        """Nodes whose parent chain contains `module_path` ("" = all)."""
        if not module_path:
            return list(self.nodes)
        prefix = module_path + "."
        return [n for n in self.nodes if n.parent == module_path or n.parent.startswith(prefix)
                or n.id == module_path]
