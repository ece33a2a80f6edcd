"""Training fasterrcnn-tiny on synthetic scenes: torchvision's FasterRCNN losses, end to end.

Ren et al., Faster R-CNN, NeurIPS 2015: the RPN (objectness + anchor regression) and the Fast R-CNN head
(classification + box regression) are trained jointly ("approximate joint training", section 3.2), which is
what torchvision's FasterRCNN computes in train mode. Optimiser: Adam with warm-up and cosine decay (from random
initialisation with batch norm it converges in fewer steps than the paper's SGD schedule).
"""

from __future__ import annotations

import torch

from explorer.core.train_common import (Progress, TrainConfig, flip_batch, generate_scene_set, load_checkpoint,
                                        lr_at, save_checkpoint, save_weights, seed_everything)


def train(config: TrainConfig) -> torch.nn.Module:
    """Train fasterrcnn-tiny; writes a checkpoint after each epoch and the final state_dict to config.out."""
    from models.fasterrcnn_tiny import fasterrcnn_tiny

    torch.set_num_threads(config.threads)
    g = seed_everything(config.seed)
    model = fasterrcnn_tiny().to(config.device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=1e-4)
    ckpt_path = config.out.with_name(config.out.name + ".ckpt")
    start_epoch = load_checkpoint(config.resume, model, optimizer, g, config) if config.resume else 0

    data = generate_scene_set(config.scenes, config.seed)
    steps_per_epoch = (len(data) + config.batch_size - 1) // config.batch_size
    total = steps_per_epoch * config.epochs  # the learning-rate schedule spans the whole run
    stop = min(total, config.max_steps) if config.max_steps is not None else total
    progress = Progress(stop, start_epoch * steps_per_epoch)
    step = start_epoch * steps_per_epoch
    parts: dict[str, float] = {}
    for epoch in range(start_epoch, config.epochs):
        model.train()
        order = torch.randperm(len(data), generator=g)
        running, count = 0.0, 0
        for b0 in range(0, len(data), config.batch_size):
            if step >= stop:
                break
            idx = order[b0:b0 + config.batch_size]
            images, boxes = flip_batch(data.images[idx], [data.boxes[i] for i in idx], g)
            x = list((images.to(config.device, torch.float32) / 255.0).unbind(0))
            targets = [{"boxes": b.to(config.device), "labels": (data.labels[i] + 1).to(config.device)}
                       for b, i in zip(boxes, idx.tolist())]  # label 0 is the background
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step / max(total, 1), config.lr)
            losses = model(x, targets)
            loss = sum(losses.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)  # early RPN regression can spike from random init
            optimizer.step()
            running += loss.item()
            count += 1
            step += 1
            parts = {k.replace("loss_", ""): v.item() for k, v in losses.items()}
            progress.step(f"epoch {epoch + 1}/{config.epochs} loss {running / count:.3f}")
        progress.line(f"epoch {epoch + 1}/{config.epochs}: loss {running / max(count, 1):.4f} (last batch "
                      + " ".join(f"{k} {v:.3f}" for k, v in parts.items()) + ")")
        save_checkpoint(ckpt_path, model, optimizer, epoch + 1, g, config)
        if step >= stop:
            break
    model.eval()
    save_weights(config.out, model)
    return model
