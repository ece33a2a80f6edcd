"""The study notes' comparisons as data and arithmetic: R-CNN proposals and warping, SPPNet's spatial pyramid,
Fast R-CNN's RoI pooling, FCN output sizes, model cards, ILSVRC results and the parameter calculator.

Nothing here imports Qt; torch is imported inside the functions that need it.
"""
