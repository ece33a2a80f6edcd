"""explorer.core.weights: random, pretrained (through a local HTTP server), bundled and file weights."""

from __future__ import annotations

import hashlib
import http.server
import os
import pickle
import threading
from pathlib import Path

import pytest
import torch

from explorer.core import weights as W
from explorer.core import zoo
from explorer.core.errors import WeightsError


@pytest.fixture(scope="module")
def resnet18_state():
    torch.manual_seed(0)
    return zoo.build("resnet18").state_dict()


@pytest.fixture(scope="module")
def served(tmp_path_factory, resnet18_state):
    """A 127.0.0.1 server for a folder; /cut/<name> sends half the file with the full Content-Length."""
    root = tmp_path_factory.mktemp("www")
    torch.save(resnet18_state, root / "resnet18-test.pth")
    (root / "blob-0123abcd.bin").write_bytes(os.urandom(300_000))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path.startswith("/cut/"):
                data = (root / self.path[5:]).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            super().do_GET()

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            import sys

            if not isinstance(sys.exc_info()[1], ConnectionError):  # a cancelled download hangs up: expected
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home" / "hub" / "checkpoints"


def _same(model, state):
    return all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_random_is_labelled():
    info = W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), "random")
    assert info.is_random and "random" in info.note


def test_pretrained_downloaded_through_local_server(served, hub, monkeypatch, resnet18_state):
    base, _ = served
    monkeypatch.setattr(W, "pretrained_url", lambda entry: f"{base}/resnet18-test.pth")
    seen = []
    model = zoo.build("resnet18")
    info = W.load_weights(model, zoo.get("resnet18"), "pretrained", progress=lambda d, t: seen.append((d, t)))
    assert info.kind == "pretrained" and Path(info.source) == hub / "resnet18-test.pth"
    assert (hub / "resnet18-test.pth").is_file()
    assert _same(model, resnet18_state)
    size = (hub / "resnet18-test.pth").stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert [p for p in hub.iterdir() if p.name.endswith(".partial")] == []


def test_pretrained_from_cache_without_network(hub, monkeypatch, resnet18_state):
    # the real torchvision file name, already in the cache: no download is attempted (the URL is unreachable)
    monkeypatch.setenv("CNN_EXPLORER_WEIGHTS_MIRROR", "http://127.0.0.1:9")
    url = zoo.tv_weights_enum(zoo.get("resnet18")).url
    hub.mkdir(parents=True)
    torch.save(resnet18_state, hub / os.path.basename(url))
    model = zoo.build("resnet18")
    W.load_weights(model, zoo.get("resnet18"), "pretrained")
    assert _same(model, resnet18_state)


def test_pretrained_offline_message(hub, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_WEIGHTS_MIRROR", "http://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(WeightsError, match=r"no internet\?"):
        W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), "pretrained")
    assert not hub.exists() or list(hub.iterdir()) == []


def test_download_cancelled_leaves_nothing(served, tmp_path):
    base, _ = served
    cancel = threading.Event()
    dst = tmp_path / "cache" / "blob-0123abcd.bin"
    with pytest.raises(W.DownloadCancelled, match="cancelled"):
        W.download(f"{base}/blob-0123abcd.bin", dst, progress=lambda d, t: d > 0 and cancel.set(),
                   cancel=cancel, check_hash=False)
    assert list(dst.parent.iterdir()) == []


def test_download_interrupted_leaves_nothing(served, tmp_path):
    base, _ = served
    dst = tmp_path / "cache" / "blob.bin"
    with pytest.raises(WeightsError, match="broke off"):
        W.download(f"{base}/cut/blob-0123abcd.bin", dst)
    assert list(dst.parent.iterdir()) == []


def test_download_hash_checked(served, tmp_path):
    base, root = served
    dst = tmp_path / "cache" / "blob-0123abcd.bin"  # the name promises a SHA-256 starting 0123abcd
    with pytest.raises(WeightsError, match="damaged"):
        W.download(f"{base}/blob-0123abcd.bin", dst)
    assert list(dst.parent.iterdir()) == []
    good = hashlib.sha256((root / "blob-0123abcd.bin").read_bytes()).hexdigest()[:8]
    ok = W.download(f"{base}/blob-0123abcd.bin", tmp_path / "cache" / f"blob-{good}.bin")
    assert ok.read_bytes() == (root / "blob-0123abcd.bin").read_bytes()


def test_download_404(served, tmp_path):
    base, _ = served
    with pytest.raises(WeightsError, match="404"):
        W.download(f"{base}/missing.pth", tmp_path / "x.pth")


def test_bundled(tmp_path, monkeypatch):
    entry = zoo.get("resnet18")
    entry = type(entry)(**{**entry.__dict__, "bundled_weights": "weights/r18.pt"})  # a frozen copy
    monkeypatch.setenv("CNN_EXPLORER_RESOURCES", str(tmp_path))
    with pytest.raises(WeightsError, match="bundled weights for resnet18 are missing"):
        W.load_weights(zoo.build("resnet18"), entry, "bundled")
    torch.manual_seed(1)
    state = zoo.build("resnet18").state_dict()
    (tmp_path / "weights").mkdir()
    torch.save({"model": state, "epoch": 3}, tmp_path / "weights" / "r18.pt")
    model = zoo.build("resnet18")
    info = W.load_weights(model, entry, "bundled")
    assert info.kind == "bundled" and _same(model, state)
    with pytest.raises(WeightsError, match="no bundled weights"):
        W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), "bundled")


def test_file_state_dict_and_wrappers(tmp_path, resnet18_state):
    state = resnet18_state
    for i, obj in enumerate([state, {"state_dict": state}, {f"module.{k}": v for k, v in state.items()}]):
        torch.save(obj, tmp_path / f"w{i}.pt")
        model = zoo.build("resnet18")
        info = W.load_weights(model, zoo.get("resnet18"), str(tmp_path / f"w{i}.pt"))
        assert info.kind == "file" and _same(model, state)


def test_file_other_architecture_lists_keys(tmp_path, resnet18_state):
    torch.save(resnet18_state, tmp_path / "r18.pt")
    with pytest.raises(WeightsError) as info:
        W.load_weights(zoo.build("alexnet"), zoo.get("alexnet"), str(tmp_path / "r18.pt"))
    msg = str(info.value)
    n_resnet = len(resnet18_state)
    assert "does not fit alexnet" in msg and "16 missing keys (features.0.weight" in msg
    assert f"{n_resnet} unexpected keys (conv1.weight" in msg
    assert "\n" not in msg


def test_file_shape_mismatch(tmp_path):
    state = zoo.build("resnet18").state_dict()
    state["fc.weight"] = torch.zeros(10, 512)
    state["fc.bias"] = torch.zeros(10)
    torch.save(state, tmp_path / "r18_10.pt")
    with pytest.raises(WeightsError, match=r"2 shape mismatches.*fc\.weight \(10, 512\) vs \(1000, 512\)"):
        W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), str(tmp_path / "r18_10.pt"))
    state = zoo.build("resnet18").state_dict()
    state["extra.weight"] = torch.zeros(1)                 # one of them: singular
    torch.save(state, tmp_path / "r18_extra.pt")
    with pytest.raises(WeightsError, match=r"does not fit resnet18: 1 unexpected key \(extra\.weight"):
        W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), str(tmp_path / "r18_extra.pt"))


class _Evil:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["EVIL_MARKER"]),))


def test_malicious_pickle_refused_and_not_executed(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EVIL_MARKER", str(marker))
    torch.save({"fc.weight": torch.zeros(1), "evil": _Evil()}, tmp_path / "evil.pt")
    with open(tmp_path / "evil.pkl", "wb") as f:  # a plain (non-zip) pickle too
        pickle.dump(_Evil(), f, protocol=2)
    assert not marker.exists()
    for name in ("evil.pt", "evil.pkl"):
        with pytest.raises(WeightsError, match=r"refused .*: it asks to run code \(.+\) when unpickled; only tensors"):
            W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), str(tmp_path / name))
        assert not marker.exists()


class _EvilSystem:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['EVIL_MARKER']}",))


def test_protocol4_pickle_refused_silently_and_not_executed(tmp_path, monkeypatch):
    """A plain pickle.dump (protocol 4) whose __reduce__ calls os.system: torch's weights_only reader warns
    "Detected pickle protocol 4" before refusing it; the warning must not reach the user (one error line)."""
    import warnings

    marker = tmp_path / "pwned"
    monkeypatch.setenv("EVIL_MARKER", str(marker))
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump(_EvilSystem(), f, protocol=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(WeightsError) as info:
            W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), str(tmp_path / "evil.pt"))
    assert not marker.exists()
    assert [str(w.message) for w in caught] == []
    assert "evil.pt" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("how", ["pickle2", "pickle4", "pickle5", "torch.save"])
def test_system_call_pickle_is_refused_naming_the_global(tmp_path, monkeypatch, how, resnet18_state):
    """os.system is posix.system; torch refuses it as "unsupported GLOBAL posix.system" (protocol 2) or stops
    at the FRAME opcode first (protocols 4 and 5): both are refusals, never "corrupt", and nothing runs."""
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EVIL_MARKER", str(marker))
    path = tmp_path / "x.pt"
    payload = {"fc.bias": resnet18_state["fc.bias"], "evil": _EvilSystem()}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f, protocol=int(how[-1]))
    with pytest.raises(WeightsError) as info:
        W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), str(path))
    assert str(info.value) == (f"refused '{path}': it asks to run code (posix.system) when unpickled; "
                               "only tensors are loaded")
    assert not marker.exists()


def test_weights_messages_name_the_file_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.pt").write_bytes(b"garbage")
    for name in ("sub/bad.pt", "sub/none.pt"):
        with pytest.raises(WeightsError) as info:
            W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), name)
        assert f"'{name}'" in str(info.value)


def test_non_finite_weights_load_with_a_warning(tmp_path, resnet18_state):
    state = {k: v.clone() for k, v in resnet18_state.items()}
    state["conv1.weight"][0, 0, 0, 0] = float("nan")
    state["fc.bias"][3] = float("inf")
    torch.save(state, tmp_path / "nan.pt")
    floats = sum(1 for v in state.values() if v.is_floating_point())
    with pytest.warns(W.WeightsWarning, match=f"2 of {floats} tensors hold NaN or Inf values"):
        info = W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), str(tmp_path / "nan.pt"))
    assert info.warnings == [info.note] and f"2 of {floats} tensors" in info.note and "nan.pt" in info.note
    torch.save(resnet18_state, tmp_path / "ok.pt")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), str(tmp_path / "ok.pt"))
    assert info.warnings == [] and info.note == ""


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, "truncated"])
def test_corrupt_files(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content == "truncated":
        torch.save(zoo.build("resnet18").state_dict(), path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    else:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match="corrupt"):
        W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), str(path))


def test_missing_file_and_not_a_state_dict(tmp_path):
    with pytest.raises(WeightsError, match="no such file"):
        W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), str(tmp_path / "none.pt"))
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(WeightsError, match="not a state_dict"):
        W.load_weights(zoo.build("resnet18"), zoo.get("resnet18"), str(tmp_path / "list.pt"))


def test_googlenet_aux_keys_ignored_and_densenet_keys_renamed(tmp_path, hub, monkeypatch):
    # torchvision's GoogLeNet checkpoint holds aux1/aux2 heads the zoo model drops; DenseNet's uses 'norm.1'
    g = zoo.build("googlenet")
    state = dict(g.state_dict())
    state["aux1.fc2.weight"] = torch.zeros(1000, 1024)
    url = zoo.tv_weights_enum(zoo.get("googlenet")).url
    hub.mkdir(parents=True)
    torch.save(state, hub / os.path.basename(url))
    info = W.load_weights(zoo.build("googlenet"), zoo.get("googlenet"), "pretrained")
    assert info.ignored_keys == ["aux1.fc2.weight"]
    renamed = W._densenet_keys({"features.denseblock1.denselayer1.norm.1.weight": 1, "classifier.bias": 2})
    assert renamed == {"features.denseblock1.denselayer1.norm1.weight": 1, "classifier.bias": 2}


def test_default_spec_prefers_bundled_then_cached_pretrained_then_random(tmp_path, monkeypatch):
    import torch

    from explorer.core import weights, zoo

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(weights, "RESOURCES_ROOT", tmp_path / "res")
    resnet = zoo.get("resnet18")
    assert weights.default_spec(resnet) == "random"  # nothing cached: never download unasked
    cached = weights.hub_checkpoint_dir() / weights.pretrained_url(resnet).rsplit("/", 1)[-1]
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert weights.default_spec(resnet) == "pretrained"
    tiny = zoo.get("yolov1-tiny")
    assert weights.default_spec(tiny) == "random"  # bundled file missing
    bundled = tmp_path / "res" / tiny.bundled_weights
    bundled.parent.mkdir(parents=True)
    bundled.write_bytes(b"x")
    assert weights.default_spec(tiny) == "bundled"
