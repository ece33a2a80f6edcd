"""Training yolov1-tiny on synthetic scenes with the YOLOv1 paper's loss.

Redmon et al., You Only Look Once, CVPR 2016, section 2.2: a sum-squared error over the S×S×(B·5+C) output,
with λcoord = 5 for box coordinates, λnoobj = 0.5 for the confidences of predictors without an object, square
roots of width and height, and the predictor with the highest IoU with the ground truth "responsible" for it.
The confidence target of the responsible predictor is that IoU (as darknet's `rescore`). Optimiser: Adam (the
paper used SGD with momentum on ImageNet-pretrained features; from scratch, Adam converges faster here).
"""

from __future__ import annotations

import torch

from explorer.core.train_common import (Progress, SceneSet, TrainConfig, flip_batch, generate_scene_set,
                                        load_checkpoint, lr_at, save_checkpoint, save_weights, seed_everything)

LAMBDA_COORD = 5.0
LAMBDA_NOOBJ = 0.5


def split_darknet(out: torch.Tensor, S: int, B: int, C: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """darknet flat order → class probs (N, S, S, C), confidences (N, S, S, B), boxes (N, S, S, B, 4)."""
    n = out.shape[0]
    probs = out[:, :S * S * C].reshape(n, S, S, C)
    conf = out[:, S * S * C:S * S * (C + B)].reshape(n, S, S, B)
    boxes = out[:, S * S * (C + B):].reshape(n, S, S, B, 4)
    return probs, conf, boxes


def cell_boxes_to_xyxy(boxes: torch.Tensor, S: int) -> torch.Tensor:
    """(…, S, S, B, 4) boxes as (x, y in the cell, sqrt w, sqrt h of the image) → x1, y1, x2, y2 in 0..1."""
    rows = torch.arange(S, dtype=boxes.dtype, device=boxes.device).view(S, 1, 1)
    cols = torch.arange(S, dtype=boxes.dtype, device=boxes.device).view(1, S, 1)
    cx = (cols + boxes[..., 0]) / S
    cy = (rows + boxes[..., 1]) / S
    w = boxes[..., 2].clamp(min=0) ** 2
    h = boxes[..., 3].clamp(min=0) ** 2
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def encode_targets(boxes: list[torch.Tensor], labels: list[torch.Tensor], S: int, C: int, size: int
                   ) -> torch.Tensor:
    """Ground truth → (N, S, S, 5 + C): x, y (in the cell), sqrt w, sqrt h, has-object, one-hot class.

    The cell holding an object's centre is responsible for it; if two centres fall in one cell, the larger
    object wins (YOLOv1 can predict one class per cell).
    """
    n = len(boxes)
    t = torch.zeros(n, S, S, 5 + C)
    for i, (b, l) in enumerate(zip(boxes, labels)):
        if len(b) == 0:
            continue
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        for k in torch.argsort(area):  # small first, so a larger object in the same cell overwrites it
            x1, y1, x2, y2 = (b[k] / size).tolist()
            cx, cy = (x1 + x2) / 2 * S, (y1 + y2) / 2 * S
            col, row = min(int(cx), S - 1), min(int(cy), S - 1)
            t[i, row, col, :5] = torch.tensor([cx - col, cy - row, (x2 - x1) ** 0.5, (y2 - y1) ** 0.5, 1.0])
            t[i, row, col, 5:] = 0
            t[i, row, col, 5 + int(l[k])] = 1
    return t


def yolo_loss(out: torch.Tensor, target: torch.Tensor, S: int, B: int, C: int) -> tuple[torch.Tensor, dict]:
    """The paper's sum-squared loss, averaged over the batch; also returns its parts (floats)."""
    probs, conf, boxes = split_darknet(out, S, B, C)
    obj = target[..., 4] > 0                                            # (N, S, S)
    with torch.no_grad():  # which predictor is responsible: highest IoU with the ground truth
        pred_xyxy = cell_boxes_to_xyxy(boxes, S)                         # (N, S, S, B, 4)
        gt_xyxy = cell_boxes_to_xyxy(target[..., None, :4], S)          # (N, S, S, 1, 4)
        lt = torch.maximum(pred_xyxy[..., :2], gt_xyxy[..., :2])
        rb = torch.minimum(pred_xyxy[..., 2:], gt_xyxy[..., 2:])
        inter = (rb - lt).clamp(min=0).prod(-1)
        area_p = (pred_xyxy[..., 2:] - pred_xyxy[..., :2]).clamp(min=0).prod(-1)
        area_g = (gt_xyxy[..., 2:] - gt_xyxy[..., :2]).clamp(min=0).prod(-1)
        iou = inter / (area_p + area_g - inter + 1e-9)                  # (N, S, S, B)
        best = iou.argmax(-1)
        resp = torch.nn.functional.one_hot(best, B).bool() & obj[..., None]  # 1_ij^obj
    coord = ((boxes - target[..., None, :4]) ** 2).sum(-1)
    coord_loss = LAMBDA_COORD * coord[resp].sum()
    obj_loss = ((conf - iou) ** 2)[resp].sum()
    noobj_loss = LAMBDA_NOOBJ * (conf ** 2)[~resp].sum()
    class_loss = ((probs - target[..., 5:]) ** 2).sum(-1)[obj].sum()
    n = out.shape[0]
    total = (coord_loss + obj_loss + noobj_loss + class_loss) / n
    parts = {"coord": coord_loss.item() / n, "obj": obj_loss.item() / n, "noobj": noobj_loss.item() / n,
             "class": class_loss.item() / n}
    return total, parts


def load_backbone(model: torch.nn.Module, path) -> None:
    """Copy the "backbone.*" tensors of a fasterrcnn-tiny state_dict (or checkpoint) into yolov1-tiny."""
    from explorer.core.errors import WeightsError
    from explorer.core.weights import read_checkpoint

    state = read_checkpoint(path)
    own = model.backbone.state_dict()
    picked = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    if set(picked) != set(own) or any(picked[k].shape != own[k].shape for k in own):
        raise WeightsError(f"'{path}' has no fasterrcnn-tiny backbone to start yolov1-tiny from")
    model.backbone.load_state_dict(picked)


def train(config: TrainConfig) -> torch.nn.Module:
    """Train yolov1-tiny; writes a checkpoint after each epoch and the final state_dict to config.out."""
    from models.yolov1_tiny import yolov1_tiny

    torch.set_num_threads(config.threads)
    g = seed_everything(config.seed)
    model = yolov1_tiny().to(config.device)
    S, B, C = model.S, model.B, model.C
    scales = [1.0, 1.0]
    if config.init_backbone is not None:
        load_backbone(model, config.init_backbone)
        scales[0] = config.backbone_lr_scale
    optimizer = torch.optim.Adam([{"params": model.backbone.parameters()},
                                  {"params": [*model.neck.parameters(), *model.head.parameters()]}], lr=config.lr)
    ckpt_path = config.out.with_name(config.out.name + ".ckpt")
    start_epoch = load_checkpoint(config.resume, model, optimizer, g, config) if config.resume else 0

    data: SceneSet = generate_scene_set(config.scenes, config.seed)
    size = data.images.shape[-1]
    steps_per_epoch = (len(data) + config.batch_size - 1) // config.batch_size
    total = steps_per_epoch * config.epochs  # the learning-rate schedule spans the whole run
    stop = min(total, config.max_steps) if config.max_steps is not None else total
    progress = Progress(stop, start_epoch * steps_per_epoch)
    step = start_epoch * steps_per_epoch
    for epoch in range(start_epoch, config.epochs):
        model.train()
        order = torch.randperm(len(data), generator=g)
        running, count = 0.0, 0
        for b0 in range(0, len(data), config.batch_size):
            if step >= stop:
                break
            idx = order[b0:b0 + config.batch_size]
            images, boxes = flip_batch(data.images[idx], [data.boxes[i] for i in idx], g)
            labels = [data.labels[i] for i in idx]
            x = images.to(config.device, torch.float32) / 255.0
            target = encode_targets(boxes, labels, S, C, size).to(config.device)
            for group, scale in zip(optimizer.param_groups, scales):
                group["lr"] = scale * lr_at(step / max(total, 1), config.lr)
            loss, parts = yolo_loss(model(x), target, S, B, C)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.item()
            count += 1
            step += 1
            progress.step(f"epoch {epoch + 1}/{config.epochs} loss {running / count:.3f}")
        progress.line(f"epoch {epoch + 1}/{config.epochs}: loss {running / max(count, 1):.4f} "
                      f"(last batch coord {parts['coord']:.3f} obj {parts['obj']:.3f} "
                      f"noobj {parts['noobj']:.3f} class {parts['class']:.3f})")
        save_checkpoint(ckpt_path, model, optimizer, epoch + 1, g, config)
        if step >= stop:
            break
    model.eval()
    save_weights(config.out, model)
    return model
