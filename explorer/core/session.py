"""The Session: the one owner of the live pipeline, with no Qt in it.

It opens models (through explorer.core.opening.open_model, in a background job: latest wins), holds the
current source (an image, a folder, a video file or a camera), the one probe set the views want, and the
pipeline thread that runs the model on the newest frame (explorer.core.pipeline). A streaming source's
capture thread feeds the pipeline directly; nothing passes through a UI thread on its way to the model.

It reports through a `SessionListener`, whose methods are called from the Session's threads (the model
loader, the pipeline, a capture thread) or from the caller's: the Qt bridge (explorer/ui/bridge.py) turns them
into queued signals; tests and scripts can use the Session directly.

The data flows one way (DESIGN.md §2): source → session → state → views. Views change what the session does
through its methods (open this, add that probe, run the current frame again), never by reaching into its
threads.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from explorer.core.errors import SourceError
from explorer.core.jobs import Job, JobRunner
from explorer.core.pipeline import Pipeline
from explorer.core.probes import ProbeSet
from explorer.core.rate import RateMeter
from explorer.core.source_info import PipelineStats, SourceInfo
from explorer.core.sources import (CameraSource, CaptureThread, FolderSource, ImageSource, SkippedFile,
                                   VideoSource)

if TYPE_CHECKING:
    from explorer.core.engine import Probe
    from explorer.core.opening import ModelHandle, OpenedModel
    from explorer.core.results import Frame, FrameResult

# the frame rate shown counts the results of the last 2 seconds: steady to read, a change shows within 2 s
RATE_WINDOW_S = 2.0


class SessionListener:
    """What a Session reports. Every method may be called from any of the Session's threads."""

    def model_loading(self, name: str, weights: str, device: str) -> None: ...
    def loading_stage(self, text: str) -> None: ...
    def download_progress(self, done: int, total: int) -> None: ...
    def model_ready(self, opened: "OpenedModel") -> None: ...
    def model_failed(self, message: str, name: str, weights: str) -> None: ...
    def source_changed(self, info: SourceInfo) -> None: ...
    def source_warning(self, message: str) -> None: ...
    def frame_shown(self, frame: "Frame") -> None: ...
    def result_ready(self, result: "FrameResult", stats: PipelineStats) -> None: ...
    def inference_failed(self, message: str, frame: "Frame | None" = None) -> None: ...


@dataclass(frozen=True)
class ModelRequest:
    name: str
    weights: str = ""         # "" = the entry's default
    device: str = "auto"
    seed: int | None = 0
    input_size: tuple[int, int] | None = None  # (H, W); None = the model's own


class Session:
    """Owns the model, the source, the probes and the pipeline thread. Methods are called from one thread
    (the UI's, or a script's); results come back through the listener."""

    def __init__(self, listener: SessionListener | None = None, *, engine_options: dict[str, Any] | None = None,
                 capture_graph: bool = True) -> None:
        self.listener = listener or SessionListener()
        self.probes = ProbeSet()
        self.handle: "ModelHandle | None" = None
        self.source_info = SourceInfo()
        self.capture_graph = capture_graph
        self.jobs = JobRunner("model-loader")
        self.request: ModelRequest | None = None  # the newest model asked for (loading or loaded)
        self._source: Any = None
        self._capture: CaptureThread | None = None
        self._still: "Frame | None" = None          # the still on screen (an image, a folder's file)
        self._video: tuple[str, bool, bool] | None = None  # (path, pace, loop) of the last video, to replay
        self._deliver = threading.Lock()  # a result and a model change reach the listener in the right order
        self._info_lock = threading.Lock()  # source_info's read-modify-write: UI thread and capture thread
        # Each opening of a source gets a number, stamped on its frames (Frame.generation): a frame or result of
        # a source already closed (still in the slot or the model when another opened) is never delivered as
        # the new source's.
        self._generation = 0
        self._rate = RateMeter(RATE_WINDOW_S)  # results per second while a stream plays
        self._dropped_before = 0  # the pipeline's drop count when the source shown was opened
        self.pipeline = Pipeline(self.probes, on_result=self._on_result, on_frame=self._on_frame,
                                 on_error=self._on_error, engine_options=engine_options)

    # -- models -----------------------------------------------------------------------------------------------
    def open_model(self, name: str, weights: str = "", device: str = "auto", seed: int | None = 0,
                   input_size: tuple[int, int] | None = None) -> None:
        """Open `name` (a zoo name or any model spec) in the background; the current model keeps running until
        the new one is ready. A newer request replaces one not yet started (and stops a running download)."""
        request = ModelRequest(name, weights, device or "auto", seed, input_size)
        self.request = request
        self.listener.model_loading(name, weights, request.device)
        self.jobs.submit("model", lambda job: self._load(request, job),
                         on_done=self._loaded, on_error=lambda exc: self._load_failed(request, exc))

    def use_model(self, opened: "OpenedModel") -> None:
        """Run a model opened elsewhere (by `open_model` in a script or a benchmark), now, as if loaded here."""
        self.request = ModelRequest(opened.handle.name, opened.handle.weights, opened.handle.device,
                                    opened.handle.seed)
        self._loaded(opened)

    def cancel_download(self) -> None:
        """Stop a pretrained download in progress (the load then fails with 'cancelled')."""
        self.jobs.interrupt("model")

    @property
    def loading(self) -> bool:
        return self.jobs.busy

    def _load(self, request: ModelRequest, job: Job) -> "OpenedModel":
        import torch  # noqa: F401 - the first import takes seconds: here, never in the caller's thread

        from explorer.core.opening import open_model
        from explorer.core.threads import use_one_thread

        # The runner set one thread before the job, when torch was not imported yet (then it does nothing):
        # without this, the graph capture below ran 2 threads and left this thread an OpenMP team for good,
        # which made every forward pass of the pipeline 30 % slower (explorer.core.threads).
        use_one_thread()

        return open_model(request.name, request.weights, request.device, seed=request.seed,
                          capture=self.capture_graph, input_size=request.input_size,
                          progress=self.listener.download_progress, cancel=job.cancel,
                          stage=self.listener.loading_stage)

    def _loaded(self, opened: "OpenedModel") -> None:
        with self._deliver:
            self.handle = opened.handle
            self._rate.reset()
            self.pipeline.set_model(opened.handle)
            self.listener.model_ready(opened)
        self.rerun()

    def _load_failed(self, request: ModelRequest, exc: BaseException) -> None:
        from explorer.core.errors import ExplorerError

        if isinstance(exc, MemoryError):
            text = f"Not enough memory to open {request.name}."
        elif isinstance(exc, ExplorerError):
            text = str(exc)
        else:
            text = f"Could not open {request.name}: {type(exc).__name__}: {exc}"
        self.listener.model_failed(text, request.name, request.weights)

    # -- sources ----------------------------------------------------------------------------------------------
    def open_image(self, path: str) -> SourceInfo:
        """Show one image (raises ImageLoadError/SourceError; the current source stays then)."""
        source = ImageSource(path)
        return self._show_still(source, SourceInfo("image", str(path), source.path.name))

    def open_folder(self, path: str) -> SourceInfo:
        """The folder's images in name order; files that cannot be decoded are skipped and reported."""
        found: list[SkippedFile] = []
        source = FolderSource(path, on_skip=found.append)
        source.on_skip = self._report_skip
        info = self._show_still(source, self._folder_info(source))
        for item in found:
            self._report_skip(item)
        return info

    def open_video(self, path: str, *, pace: bool = True, loop: bool = False) -> SourceInfo:
        source = VideoSource(path)
        self._video = (str(path), pace, loop)
        info = SourceInfo("video", str(path), source.path.name, count=source.frame_count, status="playing")
        return self._start_stream(source, info, pace=pace, loop=loop)

    @staticmethod
    def decode_video_frame(path: str, index: int) -> "_VideoFrame":
        """Decode frame `index` (0-based) of a video, for show_video_frame: the top patches of a channel open
        the frame a patch was cut from. From any thread (a frame deep in a long video takes a while); raises
        SourceError."""
        return _VideoFrame(path, index)

    def show_video_frame(self, decoded: "_VideoFrame") -> SourceInfo:
        """Show a frame decoded by decode_video_frame as a still."""
        info = SourceInfo("image", decoded.path, f"{decoded.name}, frame {decoded.index}")
        return self._show_still(decoded, info)

    def open_camera(self, index: int | str = 0, resolution: tuple[int, int] | None = None) -> SourceInfo:
        source = CameraSource(index, resolution)
        return self._start_stream(source, SourceInfo("camera", source.name, source.name, status="playing"),
                                  pace=False)

    def replay(self) -> SourceInfo | None:
        """Play the video that reached its end again, from its first frame."""
        if not self.source_info.can_replay or self._video is None:
            return None
        path, pace, loop = self._video
        return self.open_video(path, pace=pace, loop=loop)

    def close_source(self) -> None:
        self._close_source()
        self._set_info(SourceInfo())

    def next_item(self) -> None:
        """The next image of a folder (nothing for another source: `step` moves a stream; new-user trial: two
        controls that did the same thing)."""
        if isinstance(self._source, FolderSource):
            self._show_folder_frame(self._source.next())

    def previous_item(self) -> None:
        if isinstance(self._source, FolderSource):
            self._show_folder_frame(self._source.previous())

    def show_folder_file(self, path: str) -> bool:
        """Move the open folder to its image `path` (the folder stays the source, "n of N"): a top patch cut from
        a file of that folder. False, and nothing done, when no folder is open or `path` is not one of its files."""
        source = self._source
        if not isinstance(source, FolderSource):
            return False
        target = Path(path).resolve()
        if target.parent != source.path.resolve():
            return False
        index = next((i for i, f in enumerate(source.files) if f.name == target.name), None)
        if index is None:
            return False
        source.position = index - 1  # next() steps onto it (and past it only if it no longer decodes)
        self._show_folder_frame(source.next())
        return True

    def toggle_pause(self) -> bool:
        """Pause or resume a stream (a video that ended plays again); True when paused afterwards."""
        if self.source_info.can_replay:
            self.replay()
            return False
        capture = self._capture
        with self._info_lock:
            info = self.source_info
            if capture is None or info.ended:
                return True
            paused = info.status != "paused"  # the state the user sees decides (a step pauses, then reads one)
            capture.pause() if paused else capture.resume()
            self._set_info(replace(info, status="paused" if paused else "playing"))
        if paused:
            self._rate.reset()
        return paused

    def step(self) -> None:
        """One more frame of a stream (pausing it first); nothing for stills and folders (`next_item`)."""
        capture = self._capture
        if capture is not None and not self.source_info.ended:
            capture.step()
            with self._info_lock:
                info = self.source_info
                if info.status == "playing":  # never over an end or a break the capture thread just reported
                    self._rate.reset()
                    self._set_info(replace(info, status="paused"))

    @property
    def dropped(self) -> int:
        """Frames of the source shown that were replaced before the model took them."""
        return self.pipeline.dropped - self._dropped_before

    def _show_still(self, source: Any, info: SourceInfo) -> SourceInfo:
        self._close_source()
        self._source = source
        self._set_info(info)
        self._show_frame(source.current())
        return info

    def _show_folder_frame(self, frame: "Frame") -> None:
        self._set_info(self._folder_info(self._source))
        self._show_frame(frame)

    @staticmethod
    def _folder_info(source: FolderSource) -> SourceInfo:
        return SourceInfo("folder", str(source.path), source.files[source.position].name, source.position,
                          len(source.files), skipped=len(source.skipped))

    def _show_frame(self, frame: "Frame") -> None:
        frame.generation = self._generation
        self._still = frame
        self.listener.frame_shown(frame)
        if self.handle is not None:
            self.pipeline.submit(frame)

    def _report_skip(self, item: SkippedFile) -> None:
        self.listener.source_warning(f"skipped: {item.message}")

    def _start_stream(self, source: Any, info: SourceInfo, *, pace: bool, loop: bool = False) -> SourceInfo:
        self._close_source()
        capture = CaptureThread(source, pace=pace, loop=loop, slot=self.pipeline.slot,
                                on_event=lambda status, message: self._stream_stopped(capture, status, message))
        capture.generation = self._generation
        self._source, self._capture = source, capture
        self._set_info(info)
        capture.start()
        return info

    def _stream_stopped(self, capture: CaptureThread, status: str, message: str) -> None:
        """From the capture thread: a video ended or a stream broke."""
        if capture is not self._capture:
            return  # an old stream's last word
        self._rate.reset()
        with self._info_lock:
            self._set_info(replace(self.source_info, status=status, message=message))

    def _close_source(self) -> None:
        with self._deliver:
            self._generation += 1
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.on_event = None
            capture.stop()
        if self._source is not None:
            self._source.close()
            self._source = None
        self._still = None
        self.pipeline.slot.take(0.0)  # a frame of the closed source waiting for the model
        self.pipeline.last_input = None
        self._dropped_before = self.pipeline.dropped  # "dropped" counts the frames of the source shown
        self._rate.reset()

    def _set_info(self, info: SourceInfo) -> None:
        self.source_info = info
        self.listener.source_changed(info)

    # -- probes and re-runs -----------------------------------------------------------------------------------
    def add_probe(self, probe: "Probe", rerun: bool = True) -> None:
        """Run `probe` with every frame from now on; a still (or a paused stream) is run again at once."""
        self.probes.add(probe)
        if rerun:
            self.rerun()

    def remove_probe(self, name: str) -> None:
        self.probes.remove(name)

    def rerun(self) -> bool:
        """Run the model again on the frame on screen (a view wants its probes for that frame). Nothing to do
        while a stream plays (the next frame comes anyway) or without a model. True when a frame was sent."""
        if self.handle is None or self.source_info.playing:
            return False
        frame = self._still if self._still is not None else self.pipeline.last_input
        if frame is None:
            return False
        self.pipeline.submit(frame)
        return True

    def run_on_model(self, fn: Callable[["ModelHandle"], Any], on_done: Callable[[Any], None] | None = None,
                     on_error: Callable[[BaseException], None] | None = None) -> None:
        """Run `fn(handle)` in the pipeline's thread between two frames (a model must not run in two threads)."""
        self.pipeline.run_on_model(fn, on_done, on_error)

    # -- from the pipeline thread -----------------------------------------------------------------------------
    def _on_result(self, result: "FrameResult") -> None:
        with self._deliver:
            if self.pipeline.handle is not self.handle:
                return  # the previous model's last frame
            if result.frame.generation != self._generation:
                return  # a frame of a source closed since (another video, a broken one, an image)
            still = self._still
            if still is not None and result.frame is not still and not self.source_info.streaming:
                return  # an older still's result, finished after Next: the current one's is coming
            self.listener.result_ready(result, self._stats())

    def _on_frame(self, frame: "Frame") -> None:
        """A frame that went through without a model (a stream plays before one is open)."""
        with self._deliver:
            if self.source_info.streaming and frame.generation == self._generation:
                self.listener.frame_shown(frame)

    def _on_error(self, message: str, frame: "Frame | None" = None) -> None:
        if frame is not None and frame.generation != self._generation:
            return  # a closed source's frame
        self.listener.inference_failed(message, frame)

    def _stats(self) -> PipelineStats:
        """The figures sent with a result: the rate over the last seconds (explorer.core.rate: not a running
        mean of 1/Δt, which uneven gaps bias upward) while a stream plays, and the frames dropped of this
        source."""
        if not self.source_info.playing:
            self._rate.reset()
            fps = 0.0
        else:
            fps = self._rate.tick(time.perf_counter())
        return PipelineStats(fps, self.dropped, self.pipeline.frames_done)

    # -- life -------------------------------------------------------------------------------------------------
    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no model is loading and every frame sent to the pipeline has been delivered (tests and
        scripts)."""
        deadline = time.monotonic() + timeout
        if not self.jobs.wait_idle(timeout):
            return False
        while time.monotonic() < deadline:
            if self.pipeline.idle and not self.jobs.busy:
                return True
            time.sleep(0.005)
        return False

    def shutdown(self) -> None:
        """Stop the source, the loader and the pipeline (the model's hooks come off)."""
        self._close_source()
        self.jobs.shutdown()
        self.pipeline.stop()


__all__ = ["ModelRequest", "PipelineStats", "Session", "SessionListener", "SourceError", "SourceInfo"]


class _VideoFrame:
    """One frame of a video file held as a still (Session.decode_video_frame); the file is closed once read."""

    kind = "image"

    def __init__(self, path: str, index: int) -> None:
        video = VideoSource(path)
        self.name, self.path, self.index = video.name, str(path), int(index)
        try:
            for _ in range(max(0, int(index))):  # grab() in order: seeking is not exact in every container
                if not video.cap.grab():
                    raise SourceError(f"'{video.name}' has no frame {index} (it ended before)")
            video.index = int(index)
            frame = video.read()
        finally:
            video.close()
        self.frame = replace(frame, source=str(path))

    def current(self) -> "Frame":
        return self.frame

    def close(self) -> None:  # nothing held open
        pass
