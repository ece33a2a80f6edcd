"""The dock's remembered options: how the maps are drawn, whether the channel is overlaid on the image and at
what opacity, the live refresh rate and whether the gradient view is on.

Every stored value goes through a validated reader (explorer.ui.settings): a hand-edited or damaged settings
file (opacity=1000000000000, topK=-5, low=nan, colormap=[a, b]) gives the nearest allowed value or the
default, never an exception, so the dock always opens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from explorer.core.mosaic import COLORMAPS, NORMS, ORDERS

from explorer.ui.settings import read_bool, read_choice, read_float, read_int

GROUP = "featureMaps"
RATE_KEY = f"{GROUP}/liveRate"
LIVE_RATES = [("every frame", 0), ("20/s", 20), ("10/s", 10), ("5/s", 5)]
DEFAULT_LIVE_RATE = 10
COLORMAP_CHOICES = ["auto", *COLORMAPS]
MAX_TOP_K = 4096
RANGE_LIMIT = 1e6      # the fixed range's ends (the spin boxes' range)


@dataclass(frozen=True)
class DockOptions:
    """What the dock's controls show; the defaults are a first start's."""

    order: str = "index"
    top_k: int = 0               # 0: every channel
    norm: str = "channel"
    low: float = 0.0
    high: float = 1.0
    colormap: str = "auto"
    opacity: int = 60            # the overlay's, in percent
    live_rate: int = DEFAULT_LIVE_RATE
    gradient: bool = False       # the gradient view: a click in the large map also shows |∂A/∂input|
    overlay: bool = False        # Overlay: the large channel laid over the input image


def load_options(settings: Any) -> DockOptions:
    """The options of the last session, each clamped to what its control allows (None settings: defaults)."""
    d = DockOptions()
    if settings is None:
        return d
    rate = read_int(settings, RATE_KEY, d.live_rate, 0, 1000)
    if rate not in [r for _, r in LIVE_RATES]:
        rate = d.live_rate
    return DockOptions(
        order=read_choice(settings, f"{GROUP}/order", list(ORDERS), d.order),
        top_k=read_int(settings, f"{GROUP}/topK", d.top_k, 0, MAX_TOP_K),
        norm=read_choice(settings, f"{GROUP}/norm", list(NORMS), d.norm),
        low=read_float(settings, f"{GROUP}/low", d.low, -RANGE_LIMIT, RANGE_LIMIT),
        high=read_float(settings, f"{GROUP}/high", d.high, -RANGE_LIMIT, RANGE_LIMIT),
        colormap=read_choice(settings, f"{GROUP}/colormap", COLORMAP_CHOICES, d.colormap),
        opacity=read_int(settings, f"{GROUP}/opacity", d.opacity, 0, 100),
        live_rate=rate,
        gradient=read_bool(settings, f"{GROUP}/gradient", d.gradient),
        overlay=read_bool(settings, f"{GROUP}/overlay", d.overlay),
    )


def save_options(settings: Any, options: DockOptions) -> None:
    if settings is None:
        return
    for name, value in (("order", options.order), ("topK", options.top_k), ("norm", options.norm),
                        ("low", options.low), ("high", options.high), ("colormap", options.colormap),
                        ("opacity", options.opacity), ("gradient", options.gradient),
                        ("overlay", options.overlay)):
        settings.setValue(f"{GROUP}/{name}", value)
    settings.setValue(RATE_KEY, options.live_rate)
