"""TorchScript archives and torch.export programs (explorer.core.model_specs.exported), made by the tests."""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

from explorer.cli import main
from explorer.core import model_specs, zoo
from explorer.core.errors import ConsentRequired, ModelSpecError
from explorer.core.opening import open_model
from spec_nets import graph_shapes, hook_shapes, numel, small_net

SIZE = (3, 32, 32)


@pytest.fixture(autouse=True)
def _fresh_specs():
    model_specs.forget()
    yield
    model_specs.forget()


class _WritesMarker:
    """A pickle that creates a file when unpickled (what a malicious file would do instead)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _export(tmp_path: Path, net: torch.nn.Module, name: str = "net.pt2") -> Path:
    path = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.export.save(torch.export.export(net, (torch.rand(1, *SIZE),)), str(path))
    return path


def _script(tmp_path: Path, net: torch.nn.Module, how: str) -> Path:
    path = tmp_path / f"net_{how}.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.trace(net, torch.rand(1, *SIZE)) if how == "trace" else torch.jit.script(net)
        torch.jit.save(module, str(path))
    return path


def _rewrite_zip(src: Path, dst: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, replace.get(item.filename, zin.read(item.filename)))


def _check_network(spec: str, reference: torch.nn.Module) -> None:
    """Parameters against sum(numel), shapes against forward hooks, outputs against the network itself."""
    opened = open_model(spec, "", "cpu", input_size=SIZE[1:])
    assert opened.graph is not None, opened.graph_error
    assert opened.handle.weights == "embedded"
    assert opened.graph.total_params == numel(reference)
    expected = hook_shapes(reference, SIZE)
    got = graph_shapes(opened.graph)
    convs = [p for p, m in reference.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert convs and all(got[p] == expected[p] for p in convs)  # layers with weights keep their paths
    assert all(got[p] == expected[p] for p in got if p in expected)
    reference_macs = sum(n.macs for n in open_model_graph(reference).nodes)
    assert opened.graph.total_macs == reference_macs
    x = torch.rand(1, *SIZE)
    with torch.no_grad():
        torch.testing.assert_close(opened.handle.model(x), reference(x))


def open_model_graph(net: torch.nn.Module):
    from explorer.core.capture import capture_graph

    return capture_graph(net, "reference", SIZE)


def test_export_program_opens_with_its_hierarchy(tmp_path):
    net = small_net()
    path = _export(tmp_path, net)
    model_specs.grant_consent(str(path))
    entry = zoo.get(str(path))
    assert entry.input_size == SIZE[1:] and entry.family == "torch.export"
    _check_network(str(path), net)
    graph = open_model(str(path), "", "cpu").graph
    assert {"features.0", "features.1", "fc"} <= {n.module_path for n in graph.nodes}
    assert next(n for n in graph.nodes if n.id == "features.0").formula == "3×3×3×8 = 216 (+8 bias)"


@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_opens_with_layers_placed_by_weight(tmp_path, how):
    net = small_net()
    path = _script(tmp_path, net, how)
    assert model_specs.needs_consent(str(path)) is None  # parsed by C++, nothing Python is unpickled
    _check_network(str(path), net)


def test_pt2_needs_consent_and_the_danger_is_real(tmp_path, capsys):
    """torch.export.load unpickles `use_pickle` weights with weights_only=False: a crafted .pt2 runs code."""
    clean = _export(tmp_path, small_net(), "clean.pt2")
    marker = tmp_path / "pwned.txt"
    with zipfile.ZipFile(clean) as z:
        config_name = next(n for n in z.namelist() if n.endswith("model_weights_config.json"))
        config = json.loads(z.read(config_name))
    first = next(iter(config["config"].values()))
    first["use_pickle"] = True
    payload = config_name.rsplit("/", 1)[0] + "/" + first["path_name"]
    evil = tmp_path / "evil.pt2"
    _rewrite_zip(clean, evil, {config_name: json.dumps(config).encode(),
                               payload: pickle.dumps(_WritesMarker(marker), protocol=2)})

    assert "can run Python code pickled" in (model_specs.needs_consent(str(evil)) or "")
    with pytest.raises(ConsentRequired):
        zoo.get(str(evil))
    assert main(["summary", str(evil)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--trust" in err[0]
    assert not marker.exists()
    model_specs.grant_consent(str(evil))
    with pytest.raises(Exception):  # noqa: B017 - whatever fails after the unpickling, it already ran
        zoo.get(str(evil))
    assert marker.exists()  # what --trust lets happen: why the confirmation says so


def test_torchscript_never_unpickles_python(tmp_path):
    """A TorchScript archive whose data.pkl asks for builtins.open is refused by the C++ unpickler."""
    clean = _script(tmp_path, small_net(), "script")
    marker = tmp_path / "pwned.txt"
    with zipfile.ZipFile(clean) as z:
        data = next(n for n in z.namelist() if n.endswith("/data.pkl"))
    evil = tmp_path / "evil.pt"
    _rewrite_zip(clean, evil, {data: pickle.dumps(_WritesMarker(marker), protocol=2)})
    entry = zoo.get(str(evil))  # no consent asked
    with pytest.raises(ModelSpecError, match="cannot load the TorchScript archive 'evil.pt'"):
        zoo.build(entry.name)
    assert not marker.exists()


def test_files_that_are_not_models(tmp_path, capsys):
    weights = tmp_path / "weights.pt"
    torch.save(small_net().state_dict(), weights)
    assert main(["summary", str(weights)]) != 0
    assert "holds weights or objects saved with torch.save, not a network" in capsys.readouterr().err
    junk = tmp_path / "junk.pt2"
    junk.write_bytes(b"not a zip")
    assert main(["summary", str(junk), "--trust"]) != 0
    assert "is not a model" in capsys.readouterr().err
    empty = tmp_path / "empty.pt2"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("empty/extra/notes.txt", "no program here")
    assert main(["summary", str(empty), "--trust"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no exported program" in err[0]


def test_static_program_at_another_size_is_one_message(tmp_path, capsys):
    path = _export(tmp_path, small_net())
    assert main(["summary", str(path), "--trust", "--input", "3x40x40"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: input 3×40×40 does not fit")


def test_feature_maps_and_grad_cam_on_a_program(tmp_path):
    from explorer.core.activations import capture_activation
    from explorer.core.gradcam import grad_cam

    net = small_net()
    path = _export(tmp_path, net)
    model_specs.grant_consent(str(path))
    model = open_model(str(path), "", "cpu", capture=False).handle.model
    x = torch.rand(1, *SIZE)
    with torch.no_grad():
        act, *_ = capture_activation(model, "features.2", lambda: model(x))
        expected = net.features[:3](x)[0]
    torch.testing.assert_close(act, expected)
    cam = grad_cam(model, "features.4", x, 2)
    assert cam.cam.shape == (8, 8) and cam.weights.shape == (16,)
