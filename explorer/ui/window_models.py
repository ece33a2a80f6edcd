"""The Model menu's side of the main window: opening any model (with the confirmation a file's code needs),
recent models, the input size, weights and device, and the download dialog of pretrained weights.

A mixin of MainWindow (it uses the window's state, bridge, settings and menus).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QFileDialog, QInputDialog, QProgressDialog

from explorer.core import zoo
from explorer.ui.settings import fill_recent_menu, read_list

if TYPE_CHECKING:
    from explorer.core.opening import ModelHandle

WEIGHTS_FILTER = "PyTorch weights (*.pt *.pth *.bin);;All files (*)"


def _still_there(model: str) -> bool:
    """A zoo name, a torchvision:/timm: spec, or a model file that still exists."""
    if model in zoo.ZOO or model.startswith(("torchvision:", "timm:")):
        return True
    from explorer.core import model_specs
    from explorer.core.errors import ExplorerError

    try:
        return model_specs.is_spec(model) and bool(model_specs.parse(model))
    except ExplorerError:
        return False


def _torchvision_names() -> list[str]:
    from explorer.core.model_specs.torchvision_models import names

    return [f"torchvision:{n}" for n in names()]


def _resize_note(handle: "ModelHandle") -> str:
    """For a torchvision detector, what the size means: it resizes every image itself (GeneralizedRCNNTransform),
    so the size sets that resize, not the image given to it (new-user trial: 8×8 was said, 224×224 was run)."""
    if handle.entry.preprocess != "detection":
        return ""
    from explorer.core.detection_builders import aspect_resize

    rule = aspect_resize(handle.model)  # a fixed-size transform (SSD's) takes H×W as it is: nothing to explain
    if rule is None:
        return ""
    return (f"\n{handle.name} resizes each image itself (torchvision's GeneralizedRCNNTransform): now the shorter "
            f"side to {rule[0]} px, the longer to at most {rule[1]} px. A size H×W sets the shorter side to the "
            f"smaller of the two and the longer side's limit to the larger (or more, in the model's own "
            f"proportion), so the graph's shapes and the live detections are at that size.")


class ModelMenuMixin:
    """Opening models from the window (see the module docstring)."""

    # -- models -----------------------------------------------------------------------------------------
    def load_model(self, name: str, weights: str = "", device: str = "",
                   input_size: tuple[int, int] | None = None) -> bool:
        """Open `name`, a zoo name or any model spec, once the user agreed to run its file's code where opening
        it does; the current model stays until the new one is ready. False when nothing was asked for."""
        from explorer.ui.open_model import ask_consent

        if self.bridge is None:
            return False
        if name not in zoo.ZOO and not ask_consent(self, name, self.settings):
            return False
        for model, action in self.model_actions.items():
            action.setChecked(model == name)
        self.bridge.open_model(name, weights, device, input_size=input_size)
        return True

    def choose_model(self) -> None:
        """File > Open model…: any CNN (zoo, torchvision:NAME, timm:NAME, a file), with an input size."""
        from explorer.ui.open_model import OpenModelDialog

        names = [*zoo.names(), *read_list(self.settings, "recentModels")]
        dialog = OpenModelDialog(self, self.settings, list(dict.fromkeys(names)), self._last_dir())
        if self.bridge is not None:  # torchvision's catalogue: listing it imports torchvision, so not here
            self.bridge.jobs.submit("torchvision-catalogue", _torchvision_names, dialog.add_names)
        accepted = dialog.exec() == dialog.DialogCode.Accepted
        spec, size = dialog.spec, dialog.input_size
        dialog.deleteLater()  # one dialog per use, not one more kept for each
        if accepted:
            self.load_model(spec, input_size=size)

    def _fill_recent_models_menu(self) -> None:
        fill_recent_menu(self.recent_models_menu, self.settings, "recentModels", self.load_model)

    def choose_input_size(self) -> None:
        """Model > Input size…: capture the model (and preprocess a model without a preset of its own) at
        another size; a torchvision detector resizes its images by it (detection_builders.set_input_size), and
        the dialog says how it does now."""
        from explorer.arguments import CLIError, parse_image_size

        handle = self.state.handle
        if handle is None or self.bridge is None:
            return
        h, w = handle.entry.input_size
        ask = f"Input size of {handle.name} (H×W, C×H×W or one number):"
        text, prompt = f"{h}x{w}", ask + _resize_note(handle)
        while True:  # a wrong entry is said in the dialog, which stays to be corrected
            text, ok = QInputDialog.getText(self, "Input size", prompt, text=text)
            if not ok:
                return
            try:
                size = parse_image_size(text)
            except CLIError as exc:
                prompt = f"{exc}.\n{ask}{_resize_note(handle)}"
                continue
            break
        if size is not None:
            self.bridge.set_input_size(size)

    def _on_download_progress(self, done: int, total: int) -> None:
        if self._download_dialog is None:
            dialog = QProgressDialog("Downloading pretrained weights…", "Cancel", 0, 100, self)
            dialog.setWindowTitle("Downloading weights")
            dialog.setMinimumDuration(300)
            dialog.canceled.connect(lambda: self.bridge.cancel_download() if self.bridge else None)
            self._download_dialog = dialog
        if total > 0:
            self._download_dialog.setMaximum(100)
            self._download_dialog.setValue(int(100 * done / total))
            self._download_dialog.setLabelText(
                f"Downloading pretrained weights… {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self._download_dialog.setMaximum(0)

    def _close_download_dialog(self) -> None:
        if self._download_dialog is not None:
            self._download_dialog.reset()
            self._download_dialog.deleteLater()
            self._download_dialog = None

    def _fill_weights_menu(self) -> None:
        self.weights_menu.clear()
        handle = self.state.handle
        if handle is None:
            self.weights_menu.addAction("(no model loaded)").setEnabled(False)
            return
        group = QActionGroup(self.weights_menu)
        for choice in handle.entry.weight_choices:
            action = QAction(choice, self.weights_menu, checkable=True)
            action.setChecked(handle.weights == choice)
            action.triggered.connect(lambda _=False, c=choice: self.bridge.set_weights(c) if self.bridge else None)
            group.addAction(action)
            self.weights_menu.addAction(action)
        self.weights_menu.addSeparator()
        self.weights_menu.addAction("From file…").triggered.connect(self.choose_weights_file)

    def choose_weights_file(self) -> None:
        if self.state.handle is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load weights (state_dict)", self._last_dir(), WEIGHTS_FILTER)
        if path and self.bridge is not None:
            self.bridge.set_weights(path)

    def _fill_device_menu(self) -> None:
        self.device_menu.clear()
        available = {"cpu": True, "cuda": False, "mps": False}
        torch = sys.modules.get("torch")  # only ask once the loader has imported torch
        if torch is not None:
            available["cuda"] = bool(torch.cuda.is_available())
            available["mps"] = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
        current = self.state.handle.device if self.state.handle else ""
        group = QActionGroup(self.device_menu)
        for device, ok in available.items():
            action = QAction(device.upper() if ok else f"{device.upper()} (not available)", self.device_menu,
                             checkable=True)
            action.setEnabled(ok)
            action.setChecked(current.startswith(device))
            action.triggered.connect(lambda _=False, d=device: self.set_device(d))
            group.addAction(action)
            self.device_menu.addAction(action)

    def set_device(self, device: str) -> None:
        if self.bridge is not None:
            self.bridge.set_device(device)
