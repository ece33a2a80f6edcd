"""The frame rate the window shows (explorer.core.rate), against hand computations."""

from __future__ import annotations

import pytest

from explorer.core.rate import RateMeter


def test_uneven_gaps_give_the_mean_rate_not_the_mean_of_instant_rates():
    """New-user trial: a 10 fps video read "38.2 fps" while the graph's timing run shared the model's thread.
    Gaps of 10 and 190 ms alternate (mean 100 ms): the rate is 10/s; the old running mean of 1/Δt said ~50."""
    meter = RateMeter(window_s=2.0)
    t, rates = 0.0, []
    for i in range(40):
        rates.append(meter.tick(t))
        t += 0.010 if i % 2 == 0 else 0.190
    assert rates[0] == 0.0                                   # one event: no rate yet
    # a window of 2 s holds 21 events over 2.0 s (or 20 over 1.81 s): 10.0 or 10.5, never near 50
    assert all(9.5 <= r <= 10.6 for r in rates[25:]), rates[25:]
    old = 0.0
    for dt in [0.010, 0.190] * 20:                           # the old estimate, for the record
        old = 1 / dt if old == 0 else 0.8 * old + 0.2 / dt
    assert old > 30


def test_the_window_forgets_what_is_older_and_reset_starts_afresh():
    meter = RateMeter(window_s=1.0)
    for k in range(11):                                      # 20 fps for 0.5 s
        meter.tick(k * 0.05)
    assert meter.tick(0.55) == pytest.approx(20.0)
    assert meter.tick(3.0) == 0.0                            # everything before 2.0 s has left the window
    assert meter.tick(3.5) == pytest.approx(2.0)             # two events 0.5 s apart
    meter.reset()
    assert meter.tick(3.6) == 0.0
