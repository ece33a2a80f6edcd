"""The status bar and the messages list: what the window says, and where everything it said is kept.

- Every error and note goes into the MessageLog with its time (View > Messages lists them, whole, with a copy
  button): nothing the app said is lost when the status bar moves on, and long messages are read in full there.
- An error stays in sight, in a red strip at the bottom with a ✕, until it is dismissed, replaced by a newer
  error, or answered by the user's next action that worked (an answer: "Mosaic written to …", an opened file,
  a model asked for after the error that opened). Its text is
  elided to the strip's width; the tooltip and the list show all of it. The same error repeated (a stream
  failing every frame) is counted ("×12"), not listed twelve times.
- A passive note (a weights warning, a video's end) shows for its time in the status bar's message area, and
  waits while an error is in sight.
- The model, weights, device and frame rate sit on the right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QStatusBar, QTableWidgetItem,
                               QToolButton, QVBoxLayout, QWidget)

from explorer.ui.dialog_parts import close_on_keys, readout_table
from explorer.ui.elided_label import ElidedLabel
from explorer.ui.state import AppState

REPEAT_S = 30.0  # the same text again within this time counts as a repeat of the entry, not a new one


@dataclass
class Message:
    when: float          # time.time()
    level: str           # "error" | "note"
    text: str
    count: int = 1

    @property
    def clock(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self.when))


class MessageLog(QObject):
    """Everything the window said, oldest first (at most `limit`)."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None, limit: int = 500) -> None:
        super().__init__(parent)
        self.limit = limit
        self.entries: list[Message] = []

    def add(self, level: str, text: str) -> Message:
        now = time.time()
        last = self.entries[-1] if self.entries else None
        if last is not None and last.text == text and last.level == level and now - last.when < REPEAT_S:
            last.count += 1
            last.when = now
        else:
            self.entries.append(Message(now, level, text))
            del self.entries[:-self.limit]
        self.changed.emit()
        return self.entries[-1]

    def clear(self) -> None:
        self.entries.clear()
        self.changed.emit()


class MessagesWindow(QDialog):
    """View > Messages: time, kind and the whole text of every message, newest first."""

    def __init__(self, log: MessageLog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Messages")
        self.setObjectName("messagesWindow")
        self.resize(760, 360)
        self.log = log
        self.table = readout_table(["time", "", "message"])
        self.table.setWordWrap(True)
        copy = QPushButton("Copy all")
        copy.clicked.connect(self.copy_all)
        clear = QPushButton("Clear")
        clear.clicked.connect(log.clear)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (copy, clear, close):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        close_on_keys(self)
        log.changed.connect(self.refresh)
        self.refresh()

    def rows(self) -> list[tuple[str, str, str]]:
        return [(m.clock, "⚠" if m.level == "error" else "ℹ", m.text + (f"  (×{m.count})" if m.count > 1 else ""))
                for m in reversed(self.log.entries)]

    def refresh(self) -> None:
        rows = self.rows()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeRowsToContents()

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText("\n".join("\t".join(row) for row in self.rows()))


class ErrorStrip(QWidget):
    """The error in sight: elided text (whole in the tooltip), 'Messages…' and a ✕ that dismisses it."""

    dismissed = Signal()
    detailsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorStrip")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#errorStrip { background: #fde7e9; border: 1px solid #d93025; border-radius: 3px; }"
                           "QLabel { color: #8c1d18; }")
        self.label = ElidedLabel("", min_chars=20)
        details = QToolButton()
        details.setText("Messages…")
        details.setToolTip("View > Messages: every message with its time (Ctrl+Shift+M)")
        details.setAutoRaise(True)
        details.clicked.connect(self.detailsRequested)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismissed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 2, 0)
        layout.addWidget(QLabel("⚠"))
        layout.addWidget(self.label, 1)
        layout.addWidget(details)
        layout.addWidget(close)
        self.dismiss_button = close

    def show_error(self, text: str) -> None:
        self.label.setText(text)
        self.label.setToolTip(text)
        self.setToolTip(text)
        self.setVisible(True)

    @property
    def text(self) -> str:
        return self.label.toolTip()


class StatusArea(QObject):
    """The window's status bar, following the state; `log` keeps every message."""

    def __init__(self, bar: QStatusBar, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent or bar)
        self.bar = bar
        self.state = state
        self.log = MessageLog(self)
        self.window: MessagesWindow | None = None
        self.first_error = ""          # a --screenshot run exits 1 with it
        self.error = ErrorStrip()
        self.error.setVisible(False)
        self.error.dismissed.connect(self.dismiss)
        self.error.detailsRequested.connect(self.show_messages)
        self.message = QLabel("")      # passive notes and the loader's stage
        self.message.setObjectName("statusMessage")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate: a model is loading
        self.busy.setMaximumWidth(120)
        self.busy.setMaximumHeight(14)
        self.busy.setVisible(False)
        self.model_label = QLabel("")
        self.device_label = QLabel("device: …")
        self.fps_label = QLabel("– fps")
        bar.addWidget(self.error, 3)
        bar.addWidget(self.message, 2)
        for w in (self.busy, self.model_label, self.device_label, self.fps_label):
            bar.addPermanentWidget(w)
        self._note_timer = QTimer(self)
        self._note_timer.setSingleShot(True)
        self._note_timer.timeout.connect(lambda: self.message.setText(""))
        self._waiting_note: tuple[str, int] | None = None

        state.message.connect(self.show_message)
        state.error.connect(self.show_error)
        state.stageChanged.connect(self._on_stage)
        state.modelLoading.connect(self._on_model_loading)
        state.modelChanged.connect(self._on_model)
        state.modelFailed.connect(lambda _text: self.busy.setVisible(False))
        state.fpsChanged.connect(self._on_fps)
        self._fps_at = 0.0
        self._fps_shown = 0.0
        self._error_at = 0.0   # when the error in sight was shown
        self._asked_at = -1.0  # when the newest model was asked for

    # -- messages ---------------------------------------------------------------------------------------------
    @property
    def error_in_sight(self) -> bool:
        return not self.error.isHidden()

    def show_error(self, text: str) -> None:
        self.first_error = self.first_error or text
        self._error_at = time.monotonic()
        entry = self.log.add("error", text)
        self.error.show_error(text + (f"  (×{entry.count})" if entry.count > 1 else ""))
        self.message.setVisible(False)  # the error takes the whole width; notes wait behind it anyway

    def dismiss(self) -> None:
        self.error.setVisible(False)
        self.message.setVisible(True)
        if self._waiting_note is not None:
            note, self._waiting_note = self._waiting_note, None
            self._show_note(*note)

    def show_message(self, text: str, ms: int = 5000, answer: bool = False) -> None:
        """A note waits while an error is in sight (unless it answers the user's action: then it replaces it).
        An empty note takes the current one off the bar and is not logged (View > Messages lists what was said)."""
        if text:
            self.log.add("note", text)
        if answer:
            self._waiting_note = None
            self.error.setVisible(False)
            self.message.setVisible(True)
        if self.error_in_sight:
            self._waiting_note = (text, ms)  # the newest one: it would replace any earlier one anyway
            return
        self._show_note(text, ms)

    def _show_note(self, text: str, ms: int) -> None:
        self.message.setText(text)
        self.message.setToolTip(text)
        if ms > 0:
            self._note_timer.start(ms)
        else:
            self._note_timer.stop()

    @property
    def current(self) -> str:
        """What the status bar says now: the error in sight, else the note."""
        return self.error.text if self.error_in_sight else self.message.text()

    def show_messages(self) -> None:
        if self.window is None:
            self.window = MessagesWindow(self.log, self.bar.window())
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def _on_fps(self, fps: float) -> None:
        """The rate, 4 times a second while a stream plays (a label's new text re-lays out the status bar);
        0 means no rate (a still image, a paused stream, a new model): a dash, not "0.0 fps"."""
        now = time.perf_counter()
        if fps > 0 and self._fps_shown > 0 and now - self._fps_at < 0.25:
            return  # the first rate of a stream shows at once; the next ones at a readable pace
        self._fps_at, self._fps_shown = now, fps
        self.fps_label.setText(f"{fps:.1f} fps" if fps > 0 else "– fps")

    # -- model ------------------------------------------------------------------------------------------------
    def _on_stage(self, text: str) -> None:
        if text:
            self._note_timer.stop()
            self.message.setText(text)
        elif self.busy.isVisible() or self.message.text().startswith(
                ("Loading", "Building", "Capturing", "Importing")):
            self.message.setText("")  # the load is over: no stage stays in sight for good
        if not text:
            self.busy.setVisible(bool(self.state.loading))

    def _on_model_loading(self, name: str) -> None:
        self._asked_at = time.monotonic()
        self.busy.setVisible(True)
        self.message.setText(f"Loading {name}…")

    def _on_model(self, handle) -> None:
        self.busy.setVisible(False)
        if self.error_in_sight and self._error_at < self._asked_at:
            self.dismiss()  # the model asked for after that error opened: the failure is not news any more
        h, w = handle.entry.input_size
        size, given = f"{h}×{w}", f"input {handle.entry.input_channels}×{h}×{w}"
        rule = None
        if handle.entry.task == "detection":  # a model is in: torch is loaded (not at start-up, before the paint)
            from explorer.core.detection_builders import aspect_resize

            rule = aspect_resize(handle.model)
        if rule is not None:  # a detector resizes each image itself, keeping its aspect: "800×800" was no box
            size = f"short side {rule[0]}"
            given = f"each image resized to a shorter side of {rule[0]} px, the longer at most {rule[1]} px"
        self.model_label.setText(f"{handle.name} · {size} · {handle.weights_label} weights")
        self.model_label.setToolTip(f"{handle.name}: {given} (Model > Input size… changes it), "
                                    f"{handle.weights_label} weights, on {handle.device}")
        self.device_label.setText(f"device: {handle.device.upper()}")
