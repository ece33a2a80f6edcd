"""The study notes' views: R-CNN, SPPNet, Fast R-CNN, Faster R-CNN pipeline, FCN, model cards, charts and the
parameter calculator. `hub.NotesPanel` is the dock; `hub.VIEWS` lists the views for a menu."""
