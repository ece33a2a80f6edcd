"""The patch index: for every channel of chosen layers, the K frames of a folder or video that activate it most.

Zeiler and Fergus answered "what does this unit respond to in general?" with the 9 dataset patches that
activate it most, each cropped to the unit's receptive field ("Visualizing and Understanding Convolutional
Networks", ECCV 2014, Fig. 2); Yosinski et al.'s Deep Visualization Toolbox (ICML DL workshop 2015) computed
them offline. Here they are indexed on the user's own folder or video, in minutes, and kept in an SQLite file.

Modules: files (recursive walk, content hashes), scoring (decode → preprocess → batched forward → each frame's
strongest positions), topk (order-independent merge), store (SQLite), indexer (the DataLoader pipeline,
progress and cancel), shards (the same per-shard work on Ray Data), query (a channel's patches and boxes),
geometry (the receptive-field box, as the feature-map dock draws it), identity (weights keys).

The UI's entry points, all Qt-free:
- `index_source(source, IndexRequest(model, layers, ...), db, progress=..., cancel=Event())` → IndexSummary
- `top_patches(model, layer, channel, weights=..., seed=..., db=...)` → ChannelTop(patches=[Patch ...]);
  with an open store: `find_layer_index` + `channel_patches`; `patch_image(patch)` cuts its pixels
- `PatchStore(db).list_indexes()` → what is indexed; `rebuild_store(db)` after an IndexCorruptError
"""

from explorer.core.patch_index.errors import (IndexCorruptError, IndexLockedError, IndexMismatchError,
                                              IndexStoreError, IndexWriteError, NoIndexError)
from explorer.core.patch_index.geometry import FrameGeometry, PatchBox, frame_geometry, patch_box
from explorer.core.patch_index.identity import WeightsIdentity, weights_identity
from explorer.core.patch_index.indexer import (DEFAULT_TOP_K, IndexProgress, IndexRequest, IndexSummary,
                                               SkippedFrame, index_source)
from explorer.core.patch_index.query import (ChannelTop, Patch, channel_patches, find_layer_index, patch_image,
                                             top_patches)
from explorer.core.patch_index.store import IndexInfo, PatchStore, default_db_path, rebuild_store

__all__ = [
    "ChannelTop", "DEFAULT_TOP_K", "FrameGeometry", "IndexCorruptError", "IndexInfo", "IndexLockedError",
    "IndexMismatchError", "IndexProgress", "IndexRequest", "IndexStoreError", "IndexSummary", "IndexWriteError",
    "NoIndexError", "Patch", "PatchBox", "PatchStore", "SkippedFrame", "WeightsIdentity", "channel_patches",
    "default_db_path", "find_layer_index", "frame_geometry", "index_source", "patch_box", "patch_image",
    "rebuild_store", "top_patches", "weights_identity",
]
