"""The model-graph viewer: the captured graph as collapsible blocks on a QGraphicsScene.

One concept per module: `style` (colours, fonts, the readable zoom), `items` (boxes, edges and their names),
`canvas` (the view: zoom, pan, clicks, keys), `minimap` (the overview), `caption` (the input the shapes are
for), `legend`, `toolbar`, `colouring` (what the colour shows), `navigation` (arrow keys), `export` (SVG, PNG,
CSV) and `panel` (GraphPanel, built from the app's state and bridge).
"""

from explorer.ui.graph_view.panel import GraphPanel

__all__ = ["GraphPanel"]
