"""The common frame of the SPPNet and Fast R-CNN views: one conv pass over the image (in a worker), a region
drawn on the image, and that region on the feature map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from explorer.ui.notes.common import (REGION_COLOUR, RANDOM_NOTE, ImageBox, NotesView, current_image, note_label,
                                      rect_item, title_label, viridis_lut)

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState


class RegionFeatureView(NotesView):
    """Subclasses fill `self.outputs` (a layout under the two pictures) in `build_outputs()` and draw the pooling
    in `update_pooling()`."""

    TITLE = ""
    EXPLANATION = ""
    DEFAULT_BACKBONE = "vgg16"

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(state, bridge, parent)
        from explorer.core.notes.conv_features import BACKBONES
        self.fmap: Any = None
        self._trunks: dict[str, Any] = {}
        self.image = current_image(state)
        h, w = self.image.shape[:2]
        self.box: tuple[float, float, float, float] = (w * 0.25, h * 0.2, w * 0.75, h * 0.85)

        root = QVBoxLayout(self)
        root.addWidget(title_label(self.TITLE, 13))
        root.addWidget(note_label(self.EXPLANATION))

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Backbone:"))
        self.backbone = QComboBox()
        for key, (_m, _k, _s, text) in BACKBONES.items():
            self.backbone.addItem(text, key)
        handle = state.handle     # the current model's own trunk when it has one, else VGG-16
        start = handle.name if handle is not None and handle.name in BACKBONES else self.DEFAULT_BACKBONE
        self.backbone.setCurrentIndex(self.backbone.findData(start))
        self.backbone.currentIndexChanged.connect(self.compute_features)
        controls.addWidget(self.backbone)
        controls.addWidget(QLabel("Feature map shows channel:"))
        self.channel = QSpinBox()
        self.channel.setRange(-1, 4095)
        self.channel.setSpecialValueText("mean of all")
        self.channel.setValue(-1)
        self.channel.valueChanged.connect(self.redraw)
        controls.addWidget(self.channel)
        self.reload = QPushButton("Use current frame")
        self.reload.setToolTip("Take the app's current frame (or the sample photo) and recompute the features")
        self.reload.clicked.connect(self.reload_image)
        controls.addWidget(self.reload)
        controls.addStretch(1)
        root.addLayout(controls)

        self.status = note_label("")
        root.addWidget(self.status)

        pictures = QHBoxLayout()
        left, right = QVBoxLayout(), QVBoxLayout()
        left.addWidget(QLabel("Image: drag with the left mouse button to draw a region"))
        self.image_box = ImageBox(drawable=True)
        self.image_box.setMinimumSize(360, 300)
        self.image_box.regionDrawn.connect(self.set_region)
        left.addWidget(self.image_box)
        self.feature_caption = QLabel("Feature map")
        right.addWidget(self.feature_caption)
        self.feature_box = ImageBox()
        self.feature_box.setMinimumSize(360, 300)
        right.addWidget(self.feature_box)
        pictures.addLayout(left, 1)
        pictures.addLayout(right, 1)
        root.addLayout(pictures, 1)

        self.outputs = QVBoxLayout()
        root.addLayout(self.outputs, 0)
        self.build_outputs()
        self.image_box.set_image(self.image)
        self.compute_features()

    # -- features ---------------------------------------------------------------------------------------
    def reload_image(self) -> None:
        self.image = current_image(self.state)
        self.image_box.set_image(self.image)
        h, w = self.image.shape[:2]
        self.box = (w * 0.25, h * 0.2, w * 0.75, h * 0.85)
        self.compute_features()

    def compute_features(self) -> None:
        from explorer.core.notes.conv_features import describe
        backbone = self.backbone.currentData()
        handle = self.state.handle
        weights = handle.weights if handle is not None and handle.name == backbone else "random"
        image, trunks = self.image, self._trunks

        def work(model: Any) -> Any:
            from explorer.core import zoo
            from explorer.core.notes.conv_features import BACKBONES, conv_features
            net = model     # the current model's own (maybe trained) weights, run in its thread
            if net is None:
                if backbone not in trunks:
                    trunks[backbone] = zoo.build(BACKBONES[backbone][0])
                net = trunks[backbone]
            return conv_features(image, backbone, net, weights if model is not None else "random")

        self.status.setText(f"Running {describe(backbone)} once over the whole image…")
        self.jobs.run_with("features", handle, backbone, work, self._on_features, self._on_failed)

    def _on_features(self, fmap: Any) -> None:
        self.fmap = fmap
        h, w = fmap.image_size
        fh, fw = fmap.size
        note = f" ({RANDOM_NOTE})" if fmap.weights == "random" else f" (weights: {fmap.weights})"
        self.status.setText(f"One conv pass over the {w}×{h} image gave a {fmap.channels}×{fh}×{fw} feature map "
                            f"at stride {fmap.stride}{note}.")
        self.channel.setMaximum(fmap.channels - 1)
        self.redraw()

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"<span style='color:#c00'>{message}</span>")

    # -- region -----------------------------------------------------------------------------------------
    def set_region(self, box: tuple[float, float, float, float]) -> None:
        h, w = self.image.shape[:2]
        x1, y1, x2, y2 = box
        self.box = (max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2))
        self.redraw()

    def feature_plane(self) -> np.ndarray:
        f = self.fmap.features
        c = self.channel.value()
        plane = f.mean(0) if c < 0 else f[min(c, f.shape[0] - 1)]
        return plane.numpy()

    def redraw(self) -> None:
        self.image_box.clear_overlays()
        x1, y1, x2, y2 = self.box
        self.image_box.add_overlay(rect_item(x1, y1, x2 - x1, y2 - y1, REGION_COLOUR, 2.5))
        if self.fmap is None:
            return
        plane = self.feature_plane()
        self.feature_box.set_image(plane, levels=(float(plane.min()), float(plane.max()) + 1e-6), lut=viridis_lut())
        self.feature_box.clear_overlays()
        try:
            self.update_pooling()
        except Exception as exc:  # noqa: BLE001 - an ExplorerError from a bad region: say so, keep the view
            self._on_failed(str(exc))

    def draw_cells_on_image(self, x0: int, y0: int, x1: int, y1: int, colour: QColor) -> None:
        """The feature cells' footprint on the image (cell x spans [S·x, S·(x+1)) at stride S), dashed."""
        s = self.fmap.stride
        self.image_box.add_overlay(rect_item(x0 * s, y0 * s, (x1 - x0 + 1) * s, (y1 - y0 + 1) * s, colour, 1.5,
                                             Qt.PenStyle.DashLine))

    def build_outputs(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def update_pooling(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
