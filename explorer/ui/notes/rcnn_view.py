"""R-CNN view: region proposals on the image, each warped to the CNN's input size and classified, one pass each."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import (QCheckBox, QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSpinBox,
                               QVBoxLayout, QWidget)

from explorer.ui.notes.common import (RANDOM_NOTE, ImageBox, NotesView, current_image, note_label, rect_item,
                                      text_item, title_label, to_pixmap)

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState

BOX_COLOURS = [QColor(c) for c in ("#ff5252", "#ffd740", "#40c4ff", "#69f0ae", "#e040fb", "#ffab40", "#b2ff59",
                                   "#18ffff", "#ff80ab", "#eeff41", "#7c4dff", "#ff6e40")]

TILE_WIDTH = 170                 # a region's tile
TEXT_WIDTH = TILE_WIDTH - 20     # its score lines, inside the 3 px border and 4 px margins


class RcnnView(NotesView):
    """Proposals → warp (227×227 with 16 px context, R-CNN Appendix A) → one CNN pass per region → class scores."""

    TITLE = "R-CNN: region proposals, warps and one CNN pass per region"

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(state, bridge, parent)
        self.run_result: Any = None
        self.proposals: list[Any] = []
        self._fallback: dict[str, Any] = {}
        self.image = current_image(state)

        root = QVBoxLayout(self)
        root.addWidget(title_label("R-CNN: propose, warp, run the CNN on every region", 13))
        root.addWidget(note_label(
            "Girshick et al., CVPR 2014. R-CNN proposes ~2000 boxes (selective search), warps each to the CNN's "
            "fixed input size whatever its shape (with 16 px of surrounding context), and runs the whole CNN once "
            "per box; SVMs then classify the features. Here: the project's own colour-contrast + edge-density "
            "proposals (OpenCV's selective search needs the conflicting contrib wheel), scored by the current "
            "classifier's softmax instead of SVMs."))
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Regions:"))
        self.count = QSpinBox()
        self.count.setRange(1, 12)
        self.count.setValue(6)
        controls.addWidget(self.count)
        self.context = QCheckBox("16 px context padding")
        self.context.setChecked(True)
        controls.addWidget(self.context)
        self.run_button = QPushButton("Propose and classify")
        self.run_button.clicked.connect(self.run)
        controls.addWidget(self.run_button)
        reload = QPushButton("Use current frame")
        reload.clicked.connect(self.reload_image)
        controls.addWidget(reload)
        controls.addStretch(1)
        root.addLayout(controls)
        self.status = note_label("")
        root.addWidget(self.status)
        self.passes_label = title_label("", 12)
        root.addWidget(self.passes_label)
        self.image_box = ImageBox()
        self.image_box.setMinimumSize(420, 300)
        root.addWidget(self.image_box, 1)
        self.strip = QHBoxLayout()
        holder = QWidget()
        holder.setLayout(self.strip)
        scroll = QScrollArea()
        scroll.setWidget(holder)
        scroll.setWidgetResizable(True)
        scroll.setFixedHeight(250)
        root.addWidget(scroll)
        self.image_box.set_image(self.image)
        self.run()

    def reload_image(self) -> None:
        self.image = current_image(self.state)
        self.image_box.set_image(self.image)
        self.run()

    def run(self) -> None:
        handle = self.state.handle
        if handle is not None and self.state.task == "classification":
            name, weights, warp = handle.name, handle.weights, tuple(handle.entry.input_size)
        else:   # not a classifier: R-CNN's own CNN, AlexNet, with random weights
            name, weights, warp = "alexnet", "random", (224, 224)
        image, n, padding, cache = self.image, self.count.value(), 16 if self.context.isChecked() else 0, self._fallback

        def work(model: Any) -> Any:
            from explorer.core import zoo
            from explorer.core.notes.rcnn import classify_regions, propose
            net = model     # the current classifier and its weights, run in the model's own thread
            if net is None:
                if name not in cache:
                    cache[name] = zoo.build(name)
                net = cache[name]
            proposals = propose(image, max_proposals=n)
            run = classify_regions(net, image, [p.box for p in proposals], warp, padding, 3,
                                   model_name=name, weights=weights if model is not None else "random")
            return proposals, run

        self.status.setText(f"Proposing {n} regions and running {name} on each…")
        self.jobs.run_with("regions", handle, name, work, self._on_result, self._on_failed)

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"<span style='color:#c00'>{message}</span>")

    def _on_result(self, result: Any) -> None:
        self.proposals, self.run_result = result
        run = self.run_result
        note = RANDOM_NOTE if run.weights == "random" else f"weights: {run.weights}"
        h, w = run.warp_size
        self.status.setText(f"Classifier: <b>{run.model_name}</b> ({note}). Each region warped to {w}×{h}"
                            f"{' with 16 px of context' if self.context.isChecked() else ''}.")
        self.passes_label.setText(f"CNN passes: {run.cnn_passes} for {len(run.regions)} regions (one per region; "
                                  f"R-CNN's ~2000 proposals would take 2000)")
        self.image_box.clear_overlays()
        for i, region in enumerate(run.regions):
            x1, y1, x2, y2 = region.box
            colour = BOX_COLOURS[i % len(BOX_COLOURS)]
            self.image_box.add_overlay(rect_item(x1, y1, x2 - x1, y2 - y1, colour, 2.5))
            self.image_box.add_overlay(text_item(str(i + 1), x1, y1, colour, anchor=(0, 0)))
        while self.strip.count():
            item = self.strip.takeAt(0)
            if item.widget():
                item.widget().hide()          # deleteLater is deferred: hide it now so tiles never overlap
                item.widget().deleteLater()
        for i, region in enumerate(run.regions):
            self.strip.addWidget(self._tile(i, region))
        self.strip.addStretch(1)

    def _tile(self, i: int, region: Any) -> QWidget:
        tile = QFrame()
        tile.setFrameShape(QFrame.Shape.StyledPanel)
        colour = BOX_COLOURS[i % len(BOX_COLOURS)].name()
        tile.setStyleSheet(f"QFrame {{ border: 3px solid {colour}; border-radius: 3px; }} "
                           "QLabel { border: none; }")
        col = QVBoxLayout(tile)
        col.setContentsMargins(4, 4, 4, 4)
        x1, y1, x2, y2 = region.box
        head = QLabel(f"<b>{i + 1}</b>  {x2 - x1:.0f}×{y2 - y1:.0f} px → {region.crop.shape[1]}×{region.crop.shape[0]}")
        col.addWidget(head)
        pic = QLabel()
        pic.setPixmap(to_pixmap(region.crop).scaled(128, 128, Qt.AspectRatioMode.IgnoreAspectRatio,
                                                    Qt.TransformationMode.SmoothTransformation))
        col.addWidget(pic, alignment=Qt.AlignmentFlag.AlignHCenter)
        # class names elided with "…" to the tile's width (not cut mid-word), the full names in the tooltip
        lines = [f"{p * 100:.1f}% {name}" for name, p in region.top]
        scores = QLabel()
        metrics = QFontMetrics(scores.font())
        scores.setText("<br>".join(html.escape(metrics.elidedText(line, Qt.TextElideMode.ElideRight, TEXT_WIDTH))
                                   for line in lines))
        scores.setToolTip("\n".join(lines))
        col.addWidget(scores)
        tile.setFixedWidth(TILE_WIDTH)
        return tile
