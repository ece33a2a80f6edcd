"""Qt-free core of CNN Explorer: zoo, graph capture, layout, anchors, YOLO decoding, sources, engine.

Nothing under this package may import PySide6 or pyqtgraph: it must run from a plain shell, the command line
and tests without a display.
"""
