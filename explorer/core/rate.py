"""The live frame rate the window shows: results counted over a sliding window of time.

(n − 1) / (t_n − t_1) over the results of the last `window_s` seconds is the mean interval's inverse. A running
mean of the instantaneous rates 1/Δt, used before, is biased upward whenever the gaps are uneven (the mean of
1/Δt exceeds 1/mean Δt, Jensen's inequality): gaps of 10 and 190 ms average to 50 fps for a 10 fps video. That
happened whenever something else shared the model's thread (the graph's timing run), and the window said
"38.2 fps" for a 10 fps video (new-user trial).
"""

from __future__ import annotations

import threading
from collections import deque


class RateMeter:
    """Events per second over the last `window_s` seconds; `tick` from one thread, `reset` from any."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float) -> float:
        """Count an event at `now` (seconds, a monotonic clock); the rate over the window, 0 until there are
        two events in it."""
        with self._lock:
            times = self._times
            times.append(now)
            while now - times[0] > self.window_s:
                times.popleft()
            span = now - times[0]
            return (len(times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        """Forget every event (a pause, a new source): the next rate is measured afresh."""
        with self._lock:
            self._times.clear()
