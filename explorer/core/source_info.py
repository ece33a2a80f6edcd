"""What the Session says about its source and its pipeline: small frozen records, light to import (the window
imports them before its first paint)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceInfo:
    """What is open: its kind, where it is, where in it the frame shown comes from, and how it plays."""

    kind: str = ""            # "" (nothing), "image", "folder", "video", "camera"
    path: str = ""            # the file, folder or camera ("camera:0")
    name: str = ""            # what is shown now: the image's file name (a folder's current file), the video's
    position: int = -1        # a folder: index of the file shown in `count` files (0-based)
    count: int = 0            # a folder's images (files that failed to decode are not counted), a video's frames
    skipped: int = 0          # a folder's files found so far that cannot be decoded
    status: str = ""          # streams: "playing", "paused", "ended" (a video's end), "error" (it broke)
    message: str = ""         # why a stream stopped

    @property
    def streaming(self) -> bool:
        return self.kind in ("video", "camera")

    @property
    def playing(self) -> bool:
        """Frames keep coming: only then is a frame rate meaningful ("live")."""
        return self.streaming and self.status == "playing"

    @property
    def ended(self) -> bool:
        return self.streaming and self.status in ("ended", "error")

    @property
    def can_replay(self) -> bool:
        """A video that reached its end, or broke (a truncated file plays again up to where it is cut); a camera
        does not end."""
        return self.kind == "video" and self.status in ("ended", "error")

    def allows(self, control: str) -> bool:
        """Whether a source control means something now: "next" and "previous" move in a folder, "step" steps a
        video or camera that plays or is paused, "pause" pauses or resumes it (or replays a video that ended).
        The panel's buttons and the File menu's actions follow this one rule."""
        stream = self.streaming and not self.ended
        return {"next": self.kind == "folder", "previous": self.kind == "folder", "step": stream,
                "pause": stream or self.can_replay}[control]

    @property
    def describe(self) -> str:
        """One line for the source label and the window title: 'folder: cat.jpg (3 of 12)', or
        'folder: cat.jpg (3 of 12 · 2 skipped)' once files that cannot be decoded were found."""
        if not self.kind:
            return ""
        text = f"{self.kind}: {self.name or self.path}"
        if self.kind == "folder" and self.count:
            skipped = f" · {self.skipped} skipped" if self.skipped else ""
            text += f" ({self.position + 1} of {self.count}{skipped})"
        if self.streaming and self.status in ("paused", "ended"):
            text += f" — {self.status}"
        elif self.streaming and self.status == "error":
            text += " — broken"
        return text

    def frame_text(self, index: int) -> str:
        """The frame shown, for a stream: 'frame 12 of 300' (a camera, or a file that does not say: 'frame 12')."""
        if not self.streaming:
            return ""
        return f"frame {index + 1}" + (f" of {self.count}" if self.kind == "video" and self.count else "")


@dataclass(frozen=True)
class PipelineStats:
    """Figures of the live pipeline at the time of a result."""

    fps: float = 0.0          # results per second while a stream plays (0: no rate, a still or a pause)
    dropped: int = 0          # frames of the source shown replaced before the model took them
    frames_done: int = 0
