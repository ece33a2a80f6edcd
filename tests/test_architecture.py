"""The shape of the code (DESIGN.md §2, issue 17), checked on the source: import rules, one emitter of the
state's signals, panels built from the state and the bridge alone, no module far beyond 600 lines."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = {"PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6"}
MAX_LINES = 650  # "about 600"


def _imports(path: Path) -> list[str]:
    """Every module `path` imports, relative imports resolved against its package, and dynamic imports
    (importlib.import_module / __import__ of a string constant) included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    try:
        package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    except ValueError:
        package = []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.append(node.module or "")
            else:
                base = package[:len(package) - node.level + 1]
                names.append(".".join(base + ([node.module] if node.module else [])))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id == "__import__"))):
            names.append(node.args[0].value)
    return names


def _python_files(*parts: str) -> list[Path]:
    return sorted((ROOT.joinpath(*parts)).rglob("*.py"))


@pytest.mark.parametrize("folder, forbidden, why", [
    (("explorer", "core"), QT | {"explorer.ui", "explorer.cli"}, "core imports no Qt, no ui and no cli"),
    (("models",), {"explorer"}, "models import nothing from explorer"),
    (("explorer", "cli"), {"explorer.ui"} | QT, "cli never imports ui (or Qt)"),
    (("explorer", "ui"), {"explorer.cli"}, "ui never imports cli"),
])
def test_import_rules(folder, forbidden, why):
    broken = []
    for path in _python_files(*folder):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                broken.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not broken, f"{why}: " + "; ".join(broken)


def test_the_import_rule_test_can_fail():
    bad = ROOT / "explorer" / "ui" / "_not_a_module_for_the_test.py"
    text = ("from explorer.cli.common import print_json\nimport PySide6.QtCore\nfrom ..cli import summary\n"
            "from . import state\nimportlib.import_module('explorer.cli.graph')\n")
    tree_path = bad
    try:
        tree_path.write_text(text)
        assert _imports(tree_path) == ["explorer.cli.common", "PySide6.QtCore", "explorer.cli", "explorer.ui",
                                       "explorer.cli.graph"]
    finally:
        tree_path.unlink()


def _state_signals() -> set[str]:
    from PySide6.QtCore import Signal

    from explorer.ui.state import AppState

    return {name for name, value in vars(AppState).items() if isinstance(value, Signal)}


def test_only_the_state_emits_its_signals():
    """Views change the state through its methods; a `state.<signal>.emit(...)` anywhere else is a view
    speaking for the state (issue 17: several views emitted its signals themselves)."""
    signals = _state_signals()
    assert {"modelChanged", "resultReady", "sourceChanged", "thresholdChanged"} <= signals
    offenders = []
    own = {}  # signals a module declares itself (a Signal of the same name on its own class is its own)
    for path in _python_files("explorer"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own[path] = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                     and ast.unparse(n.value.func) == "Signal" for t in n.targets if isinstance(t, ast.Name)}
    for path in _python_files("explorer"):
        if path.name == "state.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            # <anything>.<signal>.emit(...) where <signal> is one of AppState's and the owner looks like a state
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "emit"
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr in signals
                    and node.func.value.attr not in own[path]):
                owner = ast.unparse(node.func.value.value)
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {owner}.{node.func.value.attr}.emit")
    assert not offenders, offenders


def _dock_factories():
    import importlib

    from explorer.ui.docks import DOCKS
    from explorer.ui.window_layout import INFERENCE_DOCK

    out = []
    for spec in [INFERENCE_DOCK, *DOCKS]:
        module, _, name = spec.factory.partition(":")
        out.append((spec.object_name, getattr(importlib.import_module(module), name)))
    from explorer.ui.graph_view import GraphPanel

    out.append(("graph", GraphPanel))
    return out


def test_panels_are_built_from_the_state_and_the_bridge_alone():
    for name, cls in _dock_factories():
        params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
        required = [p.name for p in params if p.default is inspect.Parameter.empty]
        assert required == ["state", "bridge"], f"{name}: {cls.__name__}{inspect.signature(cls.__init__)}"
        source = inspect.getsource(inspect.getmodule(cls))
        for forbidden in ("window.inference_panel", "self.window_", "window_ref", "_panel_call"):
            assert forbidden not in source, f"{name}: {forbidden}"


def test_no_module_is_far_beyond_600_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in _python_files("explorer")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not long, long


def test_views_do_not_discover_each_other_with_getattr():
    """Reflection only where it is really needed: the count of getattr/hasattr calls in explorer/ui (93 before
    the redesign) stays small."""
    count = 0
    for path in _python_files("explorer", "ui"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        count += sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call)
                     and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr"))
    assert count <= 25, count


def test_the_tiny_detectors_learn_their_classes_from_the_zoo():
    """models/ import nothing from explorer: the zoo hands the tiny detectors the scenes' class names, and their
    defaults (for code that builds them directly) match the scenes' classes."""
    import inspect

    from explorer.core import zoo
    from explorer.core.scenes import SHAPE_CLASSES
    from models.fasterrcnn_tiny import fasterrcnn_tiny
    from models.yolov1_tiny import yolov1_tiny

    yolo = zoo.build("yolov1-tiny")
    assert yolo.C == len(SHAPE_CLASSES) and yolo.class_names == tuple(SHAPE_CLASSES)
    frcnn = zoo.build("fasterrcnn-tiny")
    assert frcnn.roi_heads.box_predictor.cls_score.out_features == len(SHAPE_CLASSES) + 1
    assert inspect.signature(yolov1_tiny).parameters["C"].default == len(SHAPE_CLASSES)
    assert inspect.signature(fasterrcnn_tiny).parameters["num_classes"].default == len(SHAPE_CLASSES) + 1
