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
