"""ONNX files from torch's own exporters, converted to PyTorch (explorer.core.model_specs.onnx_import).

Optional extra [onnx]: skipped cleanly without onnx/onnx2torch; torch's current exporter (dynamo=True) also needs
onnxscript. onnxruntime, where installed, is the independent reference for the converted network's outputs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnx2torch")

from explorer.cli import main  # noqa: E402
from explorer.core import model_specs, zoo  # noqa: E402
from explorer.core.errors import MissingExtraError, ModelSpecError  # noqa: E402
from explorer.core.opening import open_model  # noqa: E402
from spec_nets import graph_shapes, hook_shapes, numel, small_net  # noqa: E402

SIZE = (3, 32, 32)


@pytest.fixture(autouse=True)
def _fresh_specs():
    model_specs.forget()
    yield
    model_specs.forget()


def _export(net: nn.Module, path: Path, *, dynamo: bool, opset: int | None = None) -> Path:
    if dynamo:
        pytest.importorskip("onnxscript")
    logging.disable(logging.WARNING)  # the exporters report their progress on the root logger and stdout
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (torch.rand(1, *SIZE),), str(path), dynamo=dynamo, opset_version=opset)
    finally:
        logging.disable(logging.NOTSET)
    return path


def _outputs_match(spec: str, path: Path, reference: nn.Module) -> nn.Module:
    model = zoo.build(spec)
    x = torch.rand(1, *SIZE)
    with torch.no_grad():
        got = model(x)
        torch.testing.assert_close(got, reference(x), rtol=1e-4, atol=1e-5)
    try:
        import onnxruntime
    except ImportError:
        return model
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (ort_out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(got, torch.from_numpy(ort_out), rtol=1e-4, atol=1e-5)
    return model


def test_current_exporter_file_opens_with_params_shapes_and_names(tmp_path):
    """torch 2.14's default exporter (opset 20: ReduceMean-18, Reshape-19 with allowzero, ...)."""
    net = small_net(norm=False)  # no batch norm for the exporter to fold: the parameters stay the network's
    path = _export(net, tmp_path / "net.onnx", dynamo=True)
    assert model_specs.needs_consent(str(path)) is None  # a protobuf: nothing in it runs
    entry = zoo.get(str(path))
    assert entry.input_size == SIZE[1:] and entry.family == "ONNX" and entry.weight_choices == ["embedded"]
    _outputs_match(str(path), path, net)
    opened = open_model(str(path), "", "cpu")
    assert opened.graph is not None, opened.graph_error
    assert opened.graph.total_params == numel(net)
    expected = hook_shapes(net, SIZE)
    got = graph_shapes(opened.graph)
    for layer in ("features.0", "features.4", "fc"):  # named by the exporter's module paths
        assert got[layer] == expected[layer]
    conv = next(n for n in opened.graph.nodes if n.id == "features.0")
    assert conv.op == "Conv2d" and conv.formula == "3×3×3×8 = 216 (+8 bias)" and conv.receptive_field == 3


@pytest.mark.parametrize("opset", [18, 21, 23])
def test_current_exporter_at_other_opsets(tmp_path, opset):
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.GELU(), nn.AvgPool2d(2), nn.Conv2d(8, 4, 3), nn.Hardswish(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()
    path = _export(net, tmp_path / f"net{opset}.onnx", dynamo=True, opset=opset)
    model = _outputs_match(str(path), path, net)
    assert numel(model) == numel(net)


def test_legacy_export_with_merged_initializers_and_folded_batch_norm(tmp_path):
    """The legacy exporter folds batch norm into the conv and merges identical initializers (here the equal
    zero biases) into Identity nodes, which onnx2torch alone cannot convert."""
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                        nn.Conv2d(8, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).eval()
    with torch.no_grad():
        net[3].bias.zero_()
        net[5].bias.zero_()
    path = _export(net, tmp_path / "legacy.onnx", dynamo=False, opset=17)
    assert any(n.op_type == "Identity" for n in onnx.load(str(path)).graph.node)  # the case this test is for
    _outputs_match(str(path), path, net)
    graph = open_model(str(path), "", "cpu").graph
    assert {"0", "3", "5", "8"} <= {n.module_path for n in graph.nodes}  # '/3/Conv' -> module 3


def test_unconvertible_ops_are_named_in_one_message(tmp_path, capsys):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Hardmax", ["a"], ["b"]),
             helper.make_node("Det", ["b"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 20)])
    path = tmp_path / "odd.onnx"
    onnx.save(model, str(path))
    assert main(["summary", str(path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "no converter for Hardmax (opset 20), Det (opset 20)" in err[0]


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x00\xff definitely not protobuf" * 10)
    with pytest.raises(ModelSpecError, match="not a model"):
        zoo.get(str(path))


def test_missing_extra_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "net.onnx"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "onnx2torch", None)  # import fails as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'cnn-explorer\[onnx\]'"):
        zoo.get(str(path))


def test_activations_cli_on_an_onnx_model(tmp_path, capsys):
    from conftest import SAMPLE_IMAGE

    net = small_net(norm=False)
    path = _export(net, tmp_path / "net.onnx", dynamo=True)
    out = tmp_path / "maps.png"
    assert main(["activations", str(path), str(SAMPLE_IMAGE), "--layer", "features.4", "--out", str(out),
                 "--json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["shape"] == [16, 8, 8] and out.is_file()
