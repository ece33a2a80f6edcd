"""The feature-map dock (explorer.ui.docks registers `FeatureMapsPanel`), one module per part:

- panel: FeatureMapsPanel, the dock (built from the state and the session bridge);
- controls: its flowing row of controls; options: the remembered options, read through validated readers;
- image_view: ImageView, a fitted, zoomable picture reporting hovers and clicks in image pixels;
- channel_view: one channel large, the clicked feature pixel ringed;
- overlay: FeatureOverlay, what the dock draws on the source image (an overlay_base overlay it owns);
- explain: Grad-CAM and the gradient view; pins: pinned layers; export: PNG and NPY files;
- top_patches: the clicked channel's top K patches over a folder or video (explorer.core.patch_index), with
  patch_lookup (reading the index, in the jobs thread), patch_tiles (the grid) and indexing (the background run).

The geometry (a feature pixel's receptive field on the source image) is explorer.core.receptive's, the Grad-CAM
targets explorer.core.gradcam's: both are Qt-free."""

from explorer.ui.feature_maps.controls import MAX_PINS
from explorer.ui.feature_maps.image_view import ImageView
from explorer.ui.feature_maps.overlay import FeatureOverlay
from explorer.ui.feature_maps.panel import NO_PLACE, PROBE_PREFIX, FeatureMapsPanel

__all__ = ["MAX_PINS", "NO_PLACE", "PROBE_PREFIX", "FeatureMapsPanel", "FeatureOverlay", "ImageView"]
