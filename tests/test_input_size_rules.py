"""Input size, one meaning everywhere (new-user trial): a torchvision detector resizes every image itself
(GeneralizedRCNNTransform), so Model > Input size… and `--input` set that resize, and the graph, the command
line's tables and the live detections follow it; the window and the command line refuse the same sizes."""

from __future__ import annotations

import json

import pytest
import torch

from explorer.arguments import CLIError, parse_image_size
from explorer.cli import main
from explorer.core import zoo
from explorer.core.engine import Engine
from explorer.core.opening import open_model
from explorer.core.results import Frame
from explorer.core.scenes import make_scenes


def _node(graph, node_id):
    return next(n for n in graph.nodes if n.id == node_id)


def test_the_chosen_size_is_the_size_the_detector_runs_at():
    """8×8 for fasterrcnn-tiny: the caption said 3×8×8 while the transform still gave 224×224 and the backbone
    96×14×14. Now an 8×8 image passes the transform unscaled (padded to a multiple of 32: 32×32) and the
    backbone (stride 16) gives 2×2."""
    from explorer.core.detection_builders import resize_rule

    opened = open_model("fasterrcnn-tiny", "bundled", "cpu", input_size=(8, 8))
    graph = opened.graph
    assert graph.input_shape == (3, 8, 8) and opened.handle.entry.input_size == (8, 8)
    assert _node(graph, "transform").output_shapes[0] == (1, 3, 32, 32)
    assert _node(graph, "backbone.0").input_shapes[0] == (1, 3, 32, 32)
    assert resize_rule(opened.handle.model) == (8, 8)
    wide = open_model("fasterrcnn-tiny", "bundled", "cpu", input_size=(96, 320)).graph
    assert _node(wide, "transform").output_shapes[0] == (1, 3, 96, 320)  # H×W kept, not squared


@pytest.mark.parametrize("name", ["fasterrcnn-tiny", "fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_vgg16"])
def test_the_models_own_size_gives_back_its_own_transform(name):
    """min_size = min(H, W); max_size = max(H, W) or more in the model's own proportion (320/640, 600/1000): so
    the zoo's sizes, which name min_size, change nothing, and a smaller size keeps the proportion."""
    from explorer.core.detection_builders import resize_rule, set_input_size

    model = zoo.build(name)
    own = resize_rule(model)
    assert set_input_size(model, zoo.get(name).input_size) and resize_rule(model) == own
    set_input_size(model, (own[0] // 2, own[0] // 2))
    assert resize_rule(model) == (own[0] // 2, round(own[0] // 2 * own[1] / own[0]))
    assert not set_input_size(zoo.build("resnet18"), (8, 8))  # no transform of its own: nothing to set


def test_the_live_detections_follow_the_chosen_size():
    scene = make_scenes(1, seed=3)[0]
    frame = Frame(scene.image, "scene", 0, 0.0, 0.0)

    def boxes(size):
        handle = open_model("fasterrcnn-tiny", "bundled", "cpu", capture=False, input_size=size).handle
        return Engine(handle.model, handle.entry, "cpu", handle.weights, score_threshold=0.0).run(frame).raw

    full, small = boxes(None), boxes((32, 32))
    assert len(full["scores"])
    assert len(full["scores"]) != len(small["scores"]) or not torch.allclose(torch.as_tensor(full["boxes"]),
                                                                            torch.as_tensor(small["boxes"]))


def test_summary_of_a_detector_at_another_size(capsys):
    assert main(["summary", "fasterrcnn-tiny", "--input", "8", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    layers = {row["name"]: row["output_shape"] for row in data["layers"]}
    assert data["input_shape"] == [3, 8, 8] and layers["transform"] == [3, 32, 32]
    assert layers["backbone.17"] == [96, 2, 2] and layers["rpn.head.cls_logits"] == [9, 2, 2]


@pytest.mark.parametrize("side", [1, 5, 7, 8, 9, 4096, 4097])
def test_the_window_and_the_command_line_refuse_the_same_sizes(side):
    """The window refused 5x5 while `summary resnet18 --input 3x1x1` printed a table."""
    from explorer.cli.specs import checked_input_shape

    try:
        parse_image_size(f"{side}x{side}")
        window_ok = True
    except CLIError:
        window_ok = False
    try:
        checked_input_shape(f"3x{side}x{side}")
        cli_ok = True
    except CLIError as exc:
        cli_ok = False
        assert str(exc).startswith(f"invalid input size '3x{side}x{side}': ") and "H×W" not in str(exc)
    assert window_ok == cli_ok


def test_summary_refuses_a_size_the_window_refuses(capsys):
    assert main(["summary", "resnet18", "--input", "3x1x1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: invalid input size '3x1x1'") and err.count("\n") == 1
