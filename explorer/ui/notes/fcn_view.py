"""FCN view: fcn_resnet50 at several input sizes; the coarse map follows the input (⌈in/8⌉), is upsampled back to
full resolution, and gives the segmentation overlay."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget)

from explorer.ui.notes.common import RANDOM_NOTE, NotesView, current_image, note_label, title_label, to_pixmap

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState

FCN = "fcn_resnet50"
DEFAULT_SIZES = (160, 224, 320)
TILE = 190          # pixels given to the largest input; smaller inputs are drawn to scale
SIZE_RANGE = (32, 640)
MAX_SIZES = 4


class FcnView(NotesView):
    """fcn_resnet50 run at several input sizes: input, coarse class map and upsampled overlay for each."""

    TITLE = "FCN: the output map follows the input size"

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None,
                 sizes: tuple[int, ...] = DEFAULT_SIZES) -> None:
        super().__init__(state, bridge, parent)
        self.runs: list[Any] = []
        self._model_cache: dict[str, Any] = {}
        self.image = current_image(state)

        root = QVBoxLayout(self)
        root.addWidget(title_label("FCN: any input size, a coarse map, upsampled back", 13))
        root.addWidget(note_label(
            "Long, Shelhamer, Darrell, CVPR 2015. With no dense layer the network runs at any input size; the class "
            "map shrinks with the network's stride and is upsampled back to the input's resolution. torchvision's "
            "fcn_resnet50 dilates layer3 and layer4 instead of striding them: output stride 8, so the coarse map is "
            "⌈H/8⌉×⌈W/8⌉, then bilinear upsampling gives H×W."))
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Input sizes (the image resized to S×S; comma-separated):"))
        self.sizes_edit = QLineEdit(", ".join(str(s) for s in sizes))
        self.sizes_edit.setMaximumWidth(200)
        self.sizes_edit.setToolTip(f"Up to {MAX_SIZES} sizes, each {SIZE_RANGE[0]} to {SIZE_RANGE[1]} pixels; "
                                   "Return runs them")
        self.sizes_edit.returnPressed.connect(self.run)      # Return runs, as the button does
        controls.addWidget(self.sizes_edit)
        self.run_button = QPushButton("Run FCN")
        self.run_button.clicked.connect(self.run)
        controls.addWidget(self.run_button)
        controls.addStretch(1)
        root.addLayout(controls)
        self.status = note_label("")
        root.addWidget(self.status)
        self.grid = QGridLayout()
        for r, text in enumerate(("Input (to scale)", "Coarse class map (one square per output cell)",
                                  "Upsampled to the input size, as an overlay")):
            lab = QLabel(text)
            lab.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            lab.setWordWrap(True)
            lab.setFixedWidth(170)
            self.grid.addWidget(lab, r + 1, 0)
        self.grid.setColumnStretch(5, 1)
        root.addLayout(self.grid)
        root.addStretch(1)
        self.run()

    def parse_sizes(self) -> list[int]:
        sizes = []
        for part in self.sizes_edit.text().replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            lo, hi = SIZE_RANGE
            if not part.isdigit() or not lo <= int(part) <= hi:
                raise ValueError(f"'{part}' is not a size between {lo} and {hi} pixels.")
            sizes.append(int(part))
        if not sizes:
            raise ValueError("give at least one input size, e.g. 160, 224, 320.")
        if len(sizes) > MAX_SIZES:
            raise ValueError(f"at most {MAX_SIZES} sizes at once ({len(sizes)} given).")
        return sizes

    def run(self) -> None:
        try:
            sizes = self.parse_sizes()
        except ValueError as exc:
            self.jobs.cancel("fcn")       # a run still out for older sizes must not land under this error
            self._on_failed(f"{exc} Nothing was run.")
            return
        handle = self.state.handle
        weights = handle.weights if handle is not None and handle.name == FCN else "random"
        image, cache = self.image, self._model_cache

        def work(model: Any) -> Any:
            from explorer.core import zoo
            from explorer.core.notes.fcn_sizes import run_fcn
            net = model     # the current FCN and its weights, run in the model's own thread
            if net is None:
                if FCN not in cache:
                    cache[FCN] = zoo.build(FCN)
                net = cache[FCN]
            return weights if model is not None else "random", [run_fcn(net, image, (s, s)) for s in sizes]

        self.status.setText(f"Running {FCN} at {', '.join(f'{s}×{s}' for s in sizes)}…")
        self.jobs.run_with("fcn", handle, FCN, work, self._on_result, self._on_failed)

    def _on_failed(self, message: str) -> None:
        """The error alone: the last run's pictures go, so they are never read as the new input's result."""
        self._clear_columns()
        self.runs = []
        self.status.setText(f"<span style='color:#c00'>{message}</span>")

    def _clear_columns(self) -> None:
        for i in reversed(range(self.grid.count())):
            item = self.grid.itemAt(i)
            r, c, _, _ = self.grid.getItemPosition(i)
            if c > 0 and item.widget():
                w = item.widget()
                self.grid.removeWidget(w)
                w.hide()
                w.deleteLater()

    def _on_result(self, result: Any) -> None:
        from explorer.core.notes.fcn_sizes import VOC_CLASSES, overlay, voc_palette
        weights, self.runs = result
        note = RANDOM_NOTE if weights == "random" else f"weights: {weights}"
        present = sorted(set().union(*(np.unique(r.coarse_mask).tolist() for r in self.runs)))
        pal = voc_palette()
        legend = "  ".join(f"<span style='color:#{pal[c][0]:02x}{pal[c][1]:02x}{pal[c][2]:02x}'>■</span> "
                           f"{VOC_CLASSES[c] if c < len(VOC_CLASSES) else c}" for c in present)
        self.status.setText(f"fcn_resnet50 ({note}). PASCAL VOC classes found: {legend} "
                            "(background is left untinted in the overlay).")
        self._clear_columns()
        largest = max(r.input_size[0] for r in self.runs)
        for c, run in enumerate(self.runs, start=1):
            H, W = run.input_size
            h, w = run.coarse_size
            side = max(int(TILE * H / largest), 40)
            head = QLabel(f"<b>{W}×{H}</b> input → <b>{w}×{h}</b> map (⌈{W}/8⌉ = {run.formula_size[1]}) → "
                          f"{run.output_size[1]}×{run.output_size[0]}")
            head.setWordWrap(True)
            head.setFixedWidth(TILE + 20)
            self.grid.addWidget(head, 0, c)
            self.grid.addWidget(self._pic(run.image, side), 1, c, alignment=Qt.AlignmentFlag.AlignCenter)
            coarse = pal[run.coarse_mask % len(pal)]
            # each output cell drawn as a block of k×k pixels
            k = max(side // max(h, w), 1)
            big = np.kron(coarse, np.ones((k, k, 1), np.uint8))
            if k >= 6:   # cell borders only where cells are big enough for them not to dominate
                big[::k, :] = (big[::k, :].astype(int) * 0.6 + 100).astype(np.uint8)
                big[:, ::k] = (big[:, ::k].astype(int) * 0.6 + 100).astype(np.uint8)
            self.grid.addWidget(self._pic(big, side, smooth=False), 2, c, alignment=Qt.AlignmentFlag.AlignCenter)
            self.grid.addWidget(self._pic(overlay(run.image, run.mask), side), 3, c,
                                alignment=Qt.AlignmentFlag.AlignCenter)

    @staticmethod
    def _pic(image: np.ndarray, side: int, smooth: bool = True) -> QLabel:
        label = QLabel()
        mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
        label.setPixmap(to_pixmap(image).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, mode))
        return label
