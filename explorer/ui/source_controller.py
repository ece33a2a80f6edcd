"""Between the core's sources (plain threads, no Qt) and the Qt world.

Still sources (an image, a folder) hand their frame to `on_frame` at once. Streaming sources (a video file,
a camera) are read by explorer.core.sources.CaptureThread into its one-slot holder; a QTimer on the UI thread
polls the slot at display rate and passes the newest frame on, so at most one frame per tick reaches the UI
and nothing queues up. The capture thread's end/error report crosses to the UI thread through a queued signal.

A new source is opened before the old one is closed: when opening fails, the previous source (and the
previous image) stays and the error goes to `on_error`.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from explorer.core.errors import ExplorerError
from explorer.core.sources import (CameraSource, CaptureThread, FolderSource, ImageSource, SkippedFile,
                                   VideoSource)

POLL_MS = 10  # 100 Hz: at most 10 ms between a capture and its display


class SourceController(QObject):
    """Owns the current source; `on_frame(Frame)` is called on the UI thread for every frame shown."""

    streamStopped = Signal(str, str)     # status ("ended" | "error"), message; from the capture thread, queued
    sourceChanged = Signal(str, str)     # kind ("image" | "folder" | "video" | "camera"), name
    pausedChanged = Signal(bool)

    def __init__(self, on_frame: Callable[[Any], None], on_error: Callable[[str], None],
                 on_message: Callable[[str], None] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.on_frame = on_frame
        self.on_error = on_error
        self.on_message = on_message or (lambda text: None)
        self.source: Any = None
        self.capture: CaptureThread | None = None
        self.frames_shown = 0
        self._video: tuple[str, bool, bool] | None = None  # (path, pace, loop) of the last video, to replay
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self.streamStopped.connect(self._on_stream_stopped)

    # -- opening ------------------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return getattr(self.source, "kind", "")

    @property
    def streaming(self) -> bool:
        return self.capture is not None

    def _replace(self, source: Any, capture: CaptureThread | None = None) -> None:
        self.close()
        self.source = source
        self.capture = capture
        name = getattr(source, "name", None) or str(getattr(source, "path", ""))
        self.sourceChanged.emit(source.kind, name)

    def _fail(self, exc: Exception) -> bool:
        self.on_error(str(exc))
        return False

    def open_image(self, path: str) -> bool:
        try:
            source = ImageSource(path)
        except ExplorerError as exc:
            return self._fail(exc)
        self._replace(source)
        self._show(source.current())
        return True

    def open_folder(self, path: str) -> bool:
        skipped: list[SkippedFile] = []
        try:
            source = FolderSource(path, on_skip=skipped.append)
        except ExplorerError as exc:
            return self._fail(exc)
        source.on_skip = self._report_skip
        self._replace(source)
        for item in skipped:
            self._report_skip(item)
        self._show(source.current())
        return True

    def _report_skip(self, item: SkippedFile) -> None:
        self.on_error(f"skipped {item.message}")

    def open_video(self, path: str, *, pace: bool = True, loop: bool = False) -> bool:
        try:
            source = VideoSource(path)
        except ExplorerError as exc:
            return self._fail(exc)
        self._video = (str(path), pace, loop)
        return self._start_stream(source, pace=pace, loop=loop)

    @property
    def ended(self) -> bool:
        """The video reached its end or the stream broke: nothing to pause, step or resume."""
        return self.capture is not None and self.capture.status in ("ended", "error")

    @property
    def can_replay(self) -> bool:
        """A video that reached its end (a broken one would break again)."""
        return (self.capture is not None and self.capture.status == "ended" and self.kind == "video"
                and self._video is not None)

    def replay(self) -> bool:
        """Play the video that ended again from its first frame."""
        if not self.can_replay or self._video is None:
            return False
        path, pace, loop = self._video
        return self.open_video(path, pace=pace, loop=loop)

    def open_camera(self, index: int | str = 0, resolution: tuple[int, int] | None = None) -> bool:
        try:
            source = CameraSource(index, resolution)
        except ExplorerError as exc:
            return self._fail(exc)
        return self._start_stream(source, pace=False)

    def _start_stream(self, source: Any, *, pace: bool, loop: bool = False) -> bool:
        capture = CaptureThread(source, pace=pace, loop=loop,
                                on_event=lambda status, message: self.streamStopped.emit(status, message))
        self._replace(source, capture)
        capture.start()
        self._timer.start()
        self.pausedChanged.emit(False)
        return True

    # -- frames -------------------------------------------------------------------------------------------
    def _show(self, frame: Any) -> None:
        self.frames_shown += 1
        self.on_frame(frame)

    @Slot()
    def _poll(self) -> None:
        capture = self.capture
        if capture is None:
            return
        frame = capture.slot.take(0.0)
        if frame is not None:
            self._show(frame)

    @Slot(str, str)
    def _on_stream_stopped(self, status: str, message: str) -> None:
        self._poll()  # the last frame, if the timer has not taken it yet
        self._timer.stop()
        if status == "error":
            self.on_error(message)
        else:
            self.on_message(message)

    @property
    def dropped(self) -> int:
        return self.capture.dropped if self.capture is not None else 0

    # -- controls -----------------------------------------------------------------------------------------
    def next_item(self) -> None:
        if isinstance(self.source, FolderSource):
            self._show(self.source.next())
        elif self.capture is not None:
            self.step()

    def previous_item(self) -> None:
        if isinstance(self.source, FolderSource):
            self._show(self.source.previous())

    def toggle_pause(self) -> bool:
        """Pause or resume a stream; returns True when paused (still sources are always 'paused')."""
        if self.capture is None:
            return True
        paused = self.capture.toggle_pause()
        self.pausedChanged.emit(paused)
        return paused

    def step(self) -> None:
        """One more frame of a paused stream (pausing it first); the next image of a folder."""
        if self.capture is not None:
            was_paused = self.capture.paused
            self.capture.step()
            if not was_paused:
                self.pausedChanged.emit(True)
        elif isinstance(self.source, FolderSource):
            self.next_item()

    @property
    def playing(self) -> bool:
        """A video or camera delivers frames now: not paused, not ended or broken, not a still."""
        return self.capture is not None and self.capture.status == "running"

    @property
    def paused(self) -> bool:
        return self.capture.paused if self.capture is not None else True

    def close(self) -> None:
        self._timer.stop()
        if self.capture is not None:
            self.capture.on_event = None
            self.capture.stop()
            self.capture = None
        if self.source is not None:
            self.source.close()
            self.source = None
