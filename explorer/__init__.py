"""CNN Explorer: look inside classic convolutional networks.

`explorer.core` holds everything that is not drawing and never imports Qt; `explorer.ui` holds the thin Qt
views; `explorer.cli` the headless command line (`python -m explorer`).
"""

__version__ = "0.1.0"
