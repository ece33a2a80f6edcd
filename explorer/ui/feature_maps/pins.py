"""Pinned layers: up to four layers' mosaics side by side under the main view, each with its own probe (so
each has hooks on its own layer only) and a small view it is laid out for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QToolButton, QVBoxLayout, QWidget

from explorer.core.activations import ActivationFrame, ActivationProbe
from explorer.core.mosaic import Mosaic, MosaicOptions, build_mosaic
from explorer.ui.elided_label import ElidedLabel
from explorer.ui.feature_maps.controls import MAX_PINS
from explorer.ui.feature_maps.image_view import ImageView, carried_range

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState

ViewOptions = Callable[[ImageView, "Mosaic | None"], MosaicOptions]  # the dock's options laid out for a view


class Pin(QWidget):
    """A pinned layer: its own probe and a small mosaic view."""

    closed = Signal(str)

    def __init__(self, layer: str, probe: ActivationProbe, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        self.probe = probe
        self.frame: ActivationFrame | None = None
        self.view = ImageView(self)
        self.title = ElidedLabel(layer, min_chars=6)  # four pins share a laptop-wide dock
        close = QToolButton()
        close.setText("×")
        close.setToolTip(f"Unpin {layer}")
        close.clicked.connect(lambda: self.closed.emit(self.layer))
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        head.addWidget(close)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(head)
        lay.addWidget(self.view, 1)

    def draw(self, frame: ActivationFrame) -> None:
        previous = self.frame.mosaic if self.frame is not None else None
        self.frame = frame
        mosaic = frame.mosaic
        self.view.set_image(mosaic.rgba if mosaic is not None else None,
                            carried_range(self.view, previous, mosaic) if mosaic is not None else None)
        c, h, w = frame.shape
        self.title.setText(f"{self.layer}  {c}×{h}×{w}" + (f" — {frame.note}" if frame.mosaic is None else ""))


class PinRow(QWidget):
    """The row of pins. `view_options` lays the dock's drawing options out for a pin's own view."""

    def __init__(self, state: AppState, bridge: SessionBridge, view_options: ViewOptions,
                 probe_prefix: str) -> None:
        super().__init__()
        self.state, self.bridge = state, bridge
        self.view_options = view_options
        self.prefix = probe_prefix
        self.pins: dict[str, Pin] = {}
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.setVisible(False)
        # re-lay out the pins' mosaics once a resize settles (a window resize moves them all), not per event
        self._refit_timer = QTimer(self)
        self._refit_timer.setSingleShot(True)
        self._refit_timer.setInterval(150)
        self._refit_timer.timeout.connect(lambda: [self.refit(pin) for pin in list(self.pins.values())])

    @property
    def probes(self) -> list[ActivationProbe]:
        return [pin.probe for pin in self.pins.values()]

    def pin(self, layer: str, interval_s: float, shown: ActivationFrame | None = None) -> bool:
        """Pin `layer` (at most MAX_PINS) with the probes' rate limit `interval_s`; `shown`: its frame already on
        screen, drawn at once."""
        if not layer or layer in self.pins:
            return False
        if len(self.pins) >= MAX_PINS:
            self.state.show_message(f"At most {MAX_PINS} pinned layers: unpin one first.", 4000)
            return False
        probe = ActivationProbe(layer, self.state.graph, name=f"{self.prefix}pin:{layer}")
        probe.min_interval_s = interval_s
        pin = Pin(layer, probe)
        pin.closed.connect(self.unpin)
        self.pins[layer] = pin
        self._layout.addWidget(pin, 1)
        self.setVisible(True)
        if self.parentWidget() is not None:
            self.parentWidget().layout().activate()  # the pin's view gets its size now: its first mosaic fits
        probe.options = self.view_options(pin.view, None)
        pin.view.resized.connect(self._refit_timer.start)  # more pins: narrower views (once it settles)
        pin.view.fitChanged.connect(lambda _fit, pin=pin: self.refit(pin))
        if shown is not None:
            pin.draw(replace(shown))
        self.bridge.add_probe(probe)
        QTimer.singleShot(0, self.bring_into_view)  # once the dock has laid the new row out
        return True

    def bring_into_view(self) -> None:
        """Scroll the dock that holds the row (a scroll area around the panel) until the pins are in sight: in a
        short dock only a new pin's title showed, its mosaic below the fold (new-user trial)."""
        area = self.parentWidget()
        while area is not None and not isinstance(area, QScrollArea):
            area = area.parentWidget()
        if area is not None and self.isVisible():
            area.ensureWidgetVisible(self, 0, 0)

    def unpin(self, layer: str) -> None:
        pin = self.pins.pop(layer, None)
        if pin is None:
            return
        self.bridge.remove_probe(pin.probe.name)
        pin.probe.detach()  # now: a still image sends no next frame for the pipeline to take the hooks off
        pin.setParent(None)
        pin.deleteLater()
        self.setVisible(bool(self.pins))

    def clear(self) -> None:
        for layer in list(self.pins):
            self.unpin(layer)

    def draw(self, extras: dict[str, Any]) -> None:
        for pin in self.pins.values():
            frame = extras.get(pin.probe.name)
            if isinstance(frame, ActivationFrame):
                pin.draw(frame)

    def refit(self, pin: Pin) -> None:
        """A pin's view changed size or zoom: its next mosaics are laid out for it; the shown one is rebuilt now
        when its layout no longer fits (a still image sends no next frame)."""
        if self.pins.get(pin.layer) is not pin:
            return
        pin.probe.options = self.view_options(pin.view, pin.frame.mosaic if pin.frame is not None else None)
        frame = pin.frame
        if frame is not None and frame.mosaic is not None and not frame.mosaic.laid_out_as(pin.probe.options):
            pin.draw(replace(frame, mosaic=build_mosaic(frame.activation, pin.probe.options)))

    def redraw(self) -> None:
        """The dock's drawing options changed: every pin takes them and is drawn again from its activations."""
        for pin in self.pins.values():
            pin.probe.options = self.view_options(pin.view, pin.frame.mosaic if pin.frame is not None else None)
            if pin.frame is not None and pin.frame.activation.numel() > 0:
                pin.draw(replace(pin.frame, mosaic=build_mosaic(pin.frame.activation, pin.probe.options)))

    def set_interval(self, interval_s: float) -> None:
        for probe in self.probes:
            probe.min_interval_s = interval_s
