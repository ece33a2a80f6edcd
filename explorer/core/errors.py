"""User-facing errors.

Every failure a user can cause (a bad file, a missing camera, a wrong checkpoint, an input too small for the
model) raises an ExplorerError subclass whose message is one clear sentence. The command line prints it as
one `error:` line; the UI shows it in the status bar or a dialog and keeps its previous state.
"""


class ExplorerError(Exception):
    """Base class: the message is shown to the user as is."""


class UnknownModelError(ExplorerError, KeyError):
    """A model name that is not in the zoo."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown model"


class ImageLoadError(ExplorerError):
    """An image that cannot be read or decoded safely."""


class SourceError(ExplorerError):
    """A folder, video or camera that cannot be opened or read."""


class WeightsError(ExplorerError):
    """Weights that cannot be found, downloaded or loaded into the model."""


class ModelInputError(ExplorerError):
    """An input the model cannot process (for example too small for its pooling layers)."""


class ModelSpecError(ExplorerError):
    """A model spec (torchvision:NAME, timm:NAME, a file) that names nothing this app can open, or a file that
    is not a model (explorer.core.model_specs)."""


class ConsentRequired(ExplorerError):
    """Opening this spec runs code from its file: the caller must ask the user first (model_specs.grant_consent).

    `path` is the file; `reason` says what would run, in one sentence the confirmation can show as is."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{reason}; confirm to open it (on the command line: --trust)")
        self.path = path
        self.reason = reason


class MissingExtraError(ExplorerError):
    """An optional extra (timm, onnx) that a spec needs is not installed."""


class ModelTooLargeError(ExplorerError):
    """Loading the model would need more memory than is free; raised before anything is loaded."""
