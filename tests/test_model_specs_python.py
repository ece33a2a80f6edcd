"""path/to/net.py[:callable] specs: the user's own network file (explorer.core.model_specs.python_file)."""

from __future__ import annotations

import pytest
import torch

from explorer.cli import main
from explorer.core import model_specs, zoo
from explorer.core.capture import capture_graph
from explorer.core.errors import ConsentRequired, ModelSpecError
from explorer.core.opening import open_model
from spec_nets import graph_shapes, hook_shapes, numel, small_net, write_net


@pytest.fixture(autouse=True)
def _fresh_specs():
    model_specs.forget()
    yield
    model_specs.forget()


def test_python_file_opens_with_exact_params_and_hook_shapes(tmp_path):
    path = write_net(tmp_path)
    model_specs.grant_consent(str(path))
    opened = open_model(str(path), "random", "cpu", seed=3)
    reference = small_net()
    assert opened.graph is not None, opened.graph_error
    assert opened.graph.total_params == numel(reference) == numel(opened.handle.model)
    assert graph_shapes(opened.graph) == hook_shapes(reference, (3, 224, 224))
    assert opened.handle.entry.notes  # says ImageNet's mean and std were assumed
    # the seed makes the random weights: the same seed, the same network
    again = open_model(str(path), "random", "cpu", seed=3, capture=False).handle.model
    assert all(torch.equal(a, b) for a, b in zip(opened.handle.model.state_dict().values(),
                                                  again.state_dict().values()))


def test_consent_is_needed_before_the_file_runs(tmp_path):
    marker = tmp_path / "ran.txt"
    path = write_net(tmp_path, f"\nopen({str(marker)!r}, 'w').write('ran')\n")
    reason = model_specs.needs_consent(str(path))
    assert reason and "runs the Python code" in reason and "net.py" in reason
    with pytest.raises(ConsentRequired) as info:
        zoo.get(str(path))
    assert info.value.path == str(path.resolve())
    assert not marker.exists()
    model_specs.grant_consent(str(path))
    assert zoo.get(str(path)).source == "python"
    assert marker.exists()


def test_named_callable_and_input_size_attribute(tmp_path):
    path = write_net(tmp_path, """
        def build():
            net = SmallNet(num_classes=3)
            net.input_size = (3, 64, 96)
            return net
    """)
    spec = f"{path}:build"
    model_specs.grant_consent(spec)
    entry = zoo.get(spec)
    assert entry.input_size == (64, 96)
    graph = open_model(spec, "random", "cpu").graph
    assert graph.input_shape == (3, 64, 96)
    assert graph.total_params == numel(small_net()) - (7 - 3) * 17  # fc 16×3+3 instead of 16×7+7


@pytest.mark.parametrize("extra, spec_suffix, expected", [
    ("\ndef build():\n    raise ValueError('bad config')\n", ":build", "raised ValueError (line {last}) while making the network (build()): bad config"),
    ("\ndef build():\n    return 42\n", ":build", "returned int, not a torch.nn.Module"),
    ("\nclass Other(SmallNet):\n    pass\n", "", "defines 2 nn.Module subclasses (SmallNet, Other)"),
    ("\nraise RuntimeError('at import')\n", "", "raised RuntimeError (line 2) while being imported"),
    ("\ndef broken(:\n", "", "raised SyntaxError (line 2)"),
    ("", ":nothing", "has no 'nothing'"),
])
def test_bad_python_files_give_one_message(tmp_path, capsys, extra, spec_suffix, expected):
    path = tmp_path / "net.py"
    write_net(tmp_path, "")
    source = path.read_text() + extra
    if extra.startswith("\nraise") or extra.startswith("\ndef broken"):
        source = extra  # the error is the file's first statement
    path.write_text(source)
    if "{last}" in expected:  # the line of the `raise` in the file written
        expected = expected.format(last=next(i for i, line in enumerate(source.splitlines(), 1)
                                             if line.lstrip().startswith("raise")))
    code = main(["summary", str(path) + spec_suffix])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("error: ")
    assert expected in err[0]


def test_weights_file_is_a_state_dict_read_with_weights_only(tmp_path, capsys):
    path = write_net(tmp_path)
    reference = small_net(seed=5)
    weights = tmp_path / "w.pt"
    torch.save(reference.state_dict(), weights)
    model_specs.grant_consent(str(path))
    model = open_model(str(path), str(weights), "cpu", capture=False).handle.model
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(model(x), reference(x))


def test_cli_naming_a_python_file_is_consent(tmp_path, capsys):
    path = write_net(tmp_path)
    assert main(["summary", str(path), "--json", "--input", "3x32x32"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["total_params"] == numel(small_net())
    assert out["input_shape"] == [3, 32, 32]


def test_network_failing_at_the_input_size_names_the_layer(tmp_path, capsys):
    path = write_net(tmp_path, """
        class Fixed(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.body = torch.nn.Conv2d(3, 4, 3)
                self.head = torch.nn.Linear(4 * 30 * 30, 2)

            def forward(self, x):
                return self.head(torch.flatten(self.body(x), 1))

        def build():
            return Fixed()
    """)
    assert main(["summary", f"{path}:build", "--input", "3x64x64"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "head (Linear)" in err[0]


def test_predict_on_a_python_model_says_class_n(tmp_path, capsys):
    from conftest import SAMPLE_IMAGE

    path = write_net(tmp_path)
    assert main(["predict", str(path), str(SAMPLE_IMAGE), "--input", "3x64x64", "--json", "--seed", "1"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    labels = [t["label"] for t in out["results"][0]["topk"]]
    assert len(labels) == 5 and all(lab.startswith("class ") for lab in labels)


def test_not_a_file_and_unknown_names(tmp_path, capsys):
    assert main(["summary", str(tmp_path / "missing.py")]) == 2  # a file that is not there: what was given
    assert "no such file" in capsys.readouterr().err
    odd = tmp_path / "weights.bin"
    odd.write_bytes(b"\0" * 10)
    with pytest.raises(ModelSpecError, match="not a model file this app opens"):
        zoo.get(str(odd))
    assert main(["summary", "resnet19"]) != 0
    err = capsys.readouterr().err
    assert "did you mean resnet18" in err and "torchvision:NAME" in err


def test_list_says_how_to_name_other_models(capsys):
    assert main(["summary", "--list"]) == 0
    out = capsys.readouterr().out
    for form in ("torchvision:NAME", "timm:NAME", "net.py", ".pt2", ".onnx"):
        assert form in out


def test_capture_of_a_python_network_matches_hooks_at_another_size(tmp_path):
    path = write_net(tmp_path)
    model_specs.grant_consent(str(path))
    model = zoo.build(str(path))
    graph = capture_graph(model, "net", (3, 48, 40))
    assert graph_shapes(graph) == hook_shapes(small_net(), (3, 48, 40))
