"""Faster R-CNN as a picture: image → backbone → RPN → RoI pooling → heads; each stage opens the app's view of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from explorer.ui.notes.common import NotesView, note_label, title_label

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState


@dataclass(frozen=True)
class Stage:
    key: str
    title: str
    detail: str
    module: str          # module path in torchvision's FasterRCNN ("" = none)
    opens: str           # what clicking does, for the tooltip
    dock: str = ""       # the window's dock it brings to the front ("" = none)


STAGES: list[Stage] = [
    Stage("image", "Image", "the frame, resized\n(shorter side 600–800)", "", "shows the Inference panel",
          "inferenceDock"),
    Stage("backbone", "Backbone", "conv layers, once per image\n(VGG-16 conv5_3, stride 16)", "backbone",
          "selects the backbone in the graph"),
    Stage("rpn", "RPN", "3×3 conv + two 1×1 convs:\n2·9 scores, 4·9 deltas", "rpn",
          "selects the RPN in the graph and shows the RPN anchors panel", "anchorsDock"),
    Stage("roi", "RoI pooling", "each proposal → 7×7×C\n(one conv pass shared)", "roi_heads.box_roi_pool",
          "selects RoI pooling in the graph and opens the Fast R-CNN RoI view"),
    Stage("heads", "Heads", "two fc layers → class scores\n+ per-class box regression", "roi_heads.box_head",
          "selects the box head in the graph"),
]

STAGE_STYLE = ("QPushButton {{ background: {bg}; color: white; border: 2px solid {border}; border-radius: 8px; "
               "padding: 10px 8px; font-size: 11pt; text-align: center; }} "
               "QPushButton:hover {{ border-color: #ffd740; }}")
DOCK_TITLES = {"inferenceDock": "Inference", "anchorsDock": "RPN anchors"}
COLOURS = {"image": "#5f6368", "backbone": "#1a73e8", "rpn": "#d93025", "roi": "#e37400", "heads": "#188038"}


class FasterPipelineView(NotesView):
    """Five stage buttons; a click selects the stage's module in the graph and shows the app's view of it."""

    TITLE = "Faster R-CNN pipeline"

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(state, bridge, parent)
        self.buttons: dict[str, QPushButton] = {}
        root = QVBoxLayout(self)
        root.addWidget(title_label("Faster R-CNN: the proposals are learned too", 13))
        root.addWidget(note_label(
            "Ren, He, Girshick, Sun, NeurIPS 2015. The backbone runs once per image (as in SPPNet and Fast R-CNN); "
            "a Region Proposal Network slides a 3×3 conv over its feature map and, for 9 anchors per position "
            "(sizes 128, 256, 512 × ratios 1:1, 1:2, 2:1), scores objectness and regresses boxes; the best "
            "proposals are RoI-pooled to 7×7 and classified by the heads. Click a stage to open it."))
        row = QHBoxLayout()
        for i, stage in enumerate(STAGES):
            if i:
                arrow = QLabel("➜")
                arrow.setStyleSheet("font-size: 22pt; color: #5f6368;")
                row.addWidget(arrow)
            button = QPushButton(f"{stage.title}\n{stage.detail}")
            button.setStyleSheet(STAGE_STYLE.format(bg=COLOURS[stage.key], border=COLOURS[stage.key]))
            button.setToolTip(f"Click: {stage.opens}")
            button.setMinimumHeight(96)
            button.clicked.connect(lambda _=False, s=stage: self.open_stage(s.key))
            self.buttons[stage.key] = button
            row.addWidget(button, 1)
        root.addLayout(row)
        self.model_label = note_label()
        root.addWidget(self.model_label)
        self.status = note_label("")
        root.addWidget(self.status)
        root.addStretch(1)
        self.opened: list[str] = []      # what the clicks did, newest last (the tests read it)
        state.modelChanged.connect(lambda _h: self._describe_model())
        state.graphChanged.connect(lambda _g: self._describe_model())
        self._describe_model()

    def _is_faster_rcnn(self) -> bool:
        handle = self.state.handle
        return handle is not None and handle.entry.family == "Faster R-CNN"

    def _has_module(self, path: str) -> bool:
        """The current model's captured graph has this module (what the graph can select)."""
        graph = self.state.graph
        return bool(path) and graph is not None and path in graph.modules

    def _describe_model(self) -> None:
        handle = self.state.handle
        if handle is not None and self._is_faster_rcnn():
            self.model_label.setText(f"Current model: <b>{handle.name}</b>: clicking a stage selects its module.")
        else:
            name = handle.name if handle is not None else "none"
            self.model_label.setText(f"Current model: <b>{name}</b>, not a Faster R-CNN: load one (e.g. "
                                     "fasterrcnn_vgg16 or fasterrcnn-tiny) to select its modules in the graph.")

    def open_stage(self, key: str) -> None:
        stage = next(s for s in STAGES if s.key == key)
        done = []
        if stage.module and self._has_module(stage.module):
            self.state.select(stage.module)
            done.append(f"selected {stage.module} in the graph")
        elif stage.module:
            done.append(f"no module {stage.module} in the current model")
        if stage.dock:
            self.state.request_dock(stage.dock)
            done.append(f"showed the {DOCK_TITLES[stage.dock]} panel")
        if key == "roi":
            from explorer.ui.notes.hub import open_view
            # the window this one belongs to keeps the RoI view alive too
            open_view(self.state, self.bridge, "explorer.ui.notes.roi_view:RoiView", self.parentWidget() or self)
            done.append("opened the Fast R-CNN RoI view")
        self.opened.append(key)
        self.status.setText(f"<b>{stage.title}</b>: " + "; ".join(done) + ".")
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft)
