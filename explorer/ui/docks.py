"""The registry of dock panels: each is built as `Class(state, window)` and placed in its area.

Adding a panel to the app is one line here; the main window builds the docks, lists them in View and saves
their layout.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DockSpec:
    title: str
    object_name: str          # stable name for QSettings' saveState
    factory: str              # "module:Class"; Class(state: AppState, window: MainWindow) -> QWidget
    area: str = "right"       # "left", "right", "bottom", "top"
    visible: bool = True      # shown on first start (later starts restore the saved layout)
    tabify_with: str = ""     # object_name of a dock to share tabs with


DOCKS: list[DockSpec] = [
    DockSpec("Inspector", "inspectorDock", "explorer.ui.inspector:InspectorPanel", "left"),
    DockSpec("Layers", "layersDock", "explorer.ui.layer_list:LayerList", "left", tabify_with="inspectorDock"),
    DockSpec("Feature maps", "featureMapsDock", "explorer.ui.feature_maps:FeatureMapsPanel", "bottom"),
    DockSpec("RPN anchors", "anchorsDock", "explorer.ui.anchors_view:AnchorsPanel", "bottom",
             tabify_with="featureMapsDock"),
    DockSpec("YOLO grid", "yoloDock", "explorer.ui.yolo_view:YoloPanel", "bottom", tabify_with="anchorsDock"),
    DockSpec("Model card and notes", "notesDock", "explorer.ui.notes.hub:NotesPanel", "bottom",
             tabify_with="yoloDock"),
]
