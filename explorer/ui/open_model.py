"""File > Open model…: any CNN, not only the zoo's, and the confirmation before running a file's code.

The dialog takes a zoo name, `torchvision:NAME` (the whole catalogue completes as you type; it is listed in the
background, since listing it imports torchvision), `timm:NAME`, or a file: a Python file (`net.py[:callable]`),
TorchScript, a torch.export program (.pt2) or ONNX (explorer.core.model_specs). An input size may be given; by
default the model's own is used.

Consent (issue 19): opening a Python file runs its code, and loading a .pt2 can unpickle Python objects. The
window asks once per file and remembers the answer for that file as it is (its path, size and modification
time: a changed file is asked about again). Nothing of the file is read before the answer.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, QStringListModel, Qt
from PySide6.QtWidgets import (QCompleter, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QMessageBox, QPushButton, QVBoxLayout, QWidget)

from explorer.arguments import CLIError, parse_image_size
from explorer.ui.settings import read_list

MODEL_FILTER = ("Models (*.py *.pt *.pth *.ts *.jit *.pt2 *.onnx);;Python (*.py);;TorchScript (*.pt *.pth *.ts *.jit);;"
                "torch.export (*.pt2);;ONNX (*.onnx);;All files (*)")
TRUSTED_KEY = "trustedModelFiles"


def _fingerprint(path: str) -> str:
    st = os.stat(path)
    return f"{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}"


def ask_consent(parent: QWidget | None, spec: str, settings: QSettings) -> bool:
    """True when `spec` may be opened: it runs no file's code, or the user said so (now or before, for this
    file as it is). Grants the consent to explorer.core.model_specs for this process."""
    from explorer.core import model_specs

    reason = model_specs.needs_consent(spec)
    if reason is None or model_specs.has_consent(spec):  # no code to run, or consent given (the command line)
        return True
    path = model_specs.consent_key(spec)
    key = _fingerprint(path) if os.path.exists(path) else path
    trusted = read_list(settings, TRUSTED_KEY)
    if key not in trusted:
        text = reason.replace("`", "").replace(f"'{Path(path).name}'", f"'{path}'", 1)  # the whole path: which file
        box = QMessageBox(QMessageBox.Icon.Warning, "Open a model that runs code",
                          f"{text[:1].upper()}{text[1:]}.\n\nOpen it?", parent=parent)
        box.setObjectName("consentBox")
        yes = box.addButton("Open it", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is not yes:
            return False
        settings.setValue(TRUSTED_KEY, [key, *[k for k in trusted if k != key]][:50])
    model_specs.grant_consent(spec)
    return True


class OpenModelDialog(QDialog):
    """A spec (completed from the zoo, recent models and torchvision's catalogue), a File… button and an
    optional input size."""

    def __init__(self, parent: QWidget | None, settings: QSettings, names: list[str], start_dir: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open model")
        self.setObjectName("openModelDialog")
        self.settings = settings
        self.start_dir = start_dir
        self.spec_edit = QLineEdit()
        self.spec_edit.setObjectName("modelSpec")
        self.spec_edit.setPlaceholderText("resnet18, torchvision:efficientnet_b0, timm:NAME, or a file")
        self.spec_edit.setMinimumWidth(420)
        self._names = QStringListModel(names, self)
        completer = QCompleter(self._names, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.spec_edit.setCompleter(completer)
        completer.popup().installEventFilter(self)  # Return with no completion chosen opens (see eventFilter)
        browse = QPushButton("File…")
        browse.setToolTip("A Python file, TorchScript (.pt), a torch.export program (.pt2) or ONNX (.onnx)")
        browse.clicked.connect(self._browse)
        self.size_edit = QLineEdit()
        self.size_edit.setObjectName("inputSize")
        self.size_edit.setPlaceholderText("the model's own (e.g. 224x224)")
        self.error = QLabel("")
        self.error.setStyleSheet("color: #b3261e;")
        self.error.setWordWrap(True)
        hint = QLabel("A zoo name, <b>torchvision:</b>NAME (every classification, detection and segmentation "
                      "model), <b>timm:</b>NAME, or a file: <i>net.py[:callable]</i>, TorchScript <i>.pt</i>, "
                      "<i>.pt2</i>, <i>.onnx</i>. Files whose opening runs code are confirmed first.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555;")
        row = QHBoxLayout()
        row.addWidget(self.spec_edit, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Model:", row)
        form.addRow("Input size:", self.size_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.spec = ""
        self.input_size: tuple[int, int] | None = None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Return in the completion list with no row chosen opens the model typed: the list took the first Return
        for itself, and a user who had typed a whole name had to press it twice (new-user trial)."""
        popup = self.spec_edit.completer().popup() if self.spec_edit.completer() else None
        if obj is popup and event.type() == QEvent.Type.KeyPress and \
                event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not popup.currentIndex().isValid():
            popup.hide()
            self.accept()
            return True
        return super().eventFilter(obj, event)

    def _show_error(self, text: str) -> None:
        """The error under the fields, the dialog grown to show all of it (a long one was cut in half)."""
        self.error.setText(text)
        layout = self.layout()
        layout.activate()
        height = layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() else self.sizeHint().height()
        if height > self.height():
            self.resize(self.width(), height)

    def add_names(self, names: list[str]) -> None:
        """More completions (torchvision's catalogue, listed in the background)."""
        current = self._names.stringList()
        self._names.setStringList(current + [n for n in names if n not in set(current)])

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model file", self.start_dir, MODEL_FILTER)
        if path:
            self.spec_edit.setText(path)

    def accept(self) -> None:  # noqa: D401 - Qt's name
        """Check what can be checked without loading: a spec's form, that a file exists, the size."""
        from explorer.core import model_specs, zoo
        from explorer.core.errors import ExplorerError

        spec = self.spec_edit.text().strip()
        try:
            if not spec:
                raise ValueError("name a model: a zoo name, torchvision:NAME, timm:NAME or a file")
            if spec not in zoo.ZOO:
                if not model_specs.is_spec(spec):
                    raise ValueError(f"unknown model '{spec}': write a zoo name (the Model menu lists them), "
                                     f"or {model_specs.SPEC_FORMS}")
                model_specs.parse(spec)
            self.input_size = parse_image_size(self.size_edit.text())
        except (ValueError, ExplorerError, CLIError) as exc:
            self._show_error(str(exc))
            return
        self.spec = spec
        super().accept()
