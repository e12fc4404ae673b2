"""Reference outputs of torchvision's RetinaNet for focalab's parity tests.

Usage: /usr/bin/python3 retinanet_reference.py OUTDIR [--v2]
       /usr/bin/python3 retinanet_reference.py --fixture OUTDIR
The second form writes both models to OUTDIR/v1 and OUTDIR/v2 (the ctest fixture of the parity
tests); it exits 0 without torchvision, and the tests then skip.

Builds retinanet_resnet50_fpn (or _v2) with weights=None, weights_backbone=None from a fixed seed,
perturbs the batch-norm statistics, the head weights and the classification bias so that features
are non-trivial and scores spread over (0, 1), and writes to OUTDIR:
  retinanet.pth         the state_dict, torch.save zip format
  retinanet_legacy.pth  the same, legacy format (_use_new_zipfile_serialization=False)
  image.png             a non-square 8-bit RGB image (237 x 311) that the transform must resize
  expected.pth          a dict: transformed image, backbone features c3..c5, FPN p3..p7, the head's
                        classification logits and box regression [R, K] / [R, 4], anchors [R, 4],
                        detections (boxes in original pixels, scores, labels)
  expected_dets.json    the detections as COCO results (image_id 1)
  resnet50.pth          (v1 only) an ImageNet-layout resnet50 state_dict (legacy format, fc included)
  resnet_input.pth / resnet_expected.pth  an input and torchvision.models.resnet50's C3..C5 on it
The transform uses min_size 320, max_size 480; the model keeps 300 detections (torchvision).
"""
import json
import os
import sys

try:
    import numpy as np
    import torch
    import torchvision
    from PIL import Image
    from torchvision.models.detection import retinanet_resnet50_fpn, retinanet_resnet50_fpn_v2
    from torchvision.transforms.functional import pil_to_tensor
except ImportError as e:
    if sys.argv[1:2] == ["--fixture"]:
        print(f"retinanet_reference: {e}; the RetinaNet parity tests will skip")
        sys.exit(0)
    raise

MIN_SIZE, MAX_SIZE = 320, 480


def perturb_norms(module, gen):
    for m in module.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torchvision.ops.FrozenBatchNorm2d)):
            c = m.running_mean.numel()
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=gen) * 0.5 + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)
        elif isinstance(m, torch.nn.GroupNorm):
            c = m.weight.numel()
            m.weight.data.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


def main():
    if sys.argv[1] == "--fixture":
        for sub, v2 in (("v1", False), ("v2", True)):
            out = os.path.join(sys.argv[2], sub)
            os.makedirs(out, exist_ok=True)
            generate(out, v2)
    else:
        generate(sys.argv[1], "--v2" in sys.argv[2:])


def generate(out, v2):
    torch.manual_seed(2017)
    gen = torch.Generator().manual_seed(7)
    build = retinanet_resnet50_fpn_v2 if v2 else retinanet_resnet50_fpn
    model = build(weights=None, weights_backbone=None, min_size=MIN_SIZE, max_size=MAX_SIZE)
    with torch.no_grad():
        perturb_norms(model, gen)
        reg = model.head.regression_head
        reg.bbox_reg.weight.normal_(0.0, 0.02, generator=gen)
        reg.bbox_reg.bias.normal_(0.0, 0.1, generator=gen)
    model.eval()

    # A non-square image with structure (blobs and edges), so that features are not noise.
    rng = np.random.default_rng(11)
    h, w = 237, 311
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.float64)
    for _ in range(12):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(10, 60)
        color = rng.uniform(0, 255, 3)
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2) < r * r
        img[mask] = color
    img += rng.normal(0, 12, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    Image.fromarray(img).save(f"{out}/image.png")
    x = pil_to_tensor(Image.open(f"{out}/image.png").convert("RGB")).float() / 255.0

    # Classification head: random tower weights, then each output channel scaled to a spatial std
    # of 0.7 around a bias in [-4.5, -3.5] on this image, so that scores spread over ~(0, 0.6)
    # and many classes appear among the detections.
    cls = model.head.classification_head
    with torch.no_grad():
        images, _ = model.transform([x])
        features = list(model.backbone(images.tensors).values())
        for conv in cls.conv.modules():
            if isinstance(conv, torch.nn.Conv2d):
                conv.weight.normal_(0.0, 0.03, generator=gen)
        cls.cls_logits.weight.normal_(0.0, 0.01, generator=gen)
        cls.cls_logits.bias.zero_()
        raw = torch.cat([cls.cls_logits(cls.conv(f)).flatten(2) for f in features], 2)[0]
        scale = 0.7 / raw.std(1)
        cls.cls_logits.weight.mul_(scale.view(-1, 1, 1, 1))
        offset = torch.empty(scale.shape).uniform_(-4.5, -3.5, generator=gen)
        cls.cls_logits.bias.copy_(-raw.mean(1) * scale + offset)
    torch.save(model.state_dict(), f"{out}/retinanet.pth")
    torch.save(model.state_dict(), f"{out}/retinanet_legacy.pth",
               _use_new_zipfile_serialization=False)

    with torch.no_grad():
        images, _ = model.transform([x])
        body = model.backbone.body(images.tensors)
        features = list(model.backbone(images.tensors).values())
        head = model.head(features)
        anchors = model.anchor_generator(images, features)
        det = model([x])[0]
    expected = {
        "image": images.tensors[0].clone(),
        "image_size": torch.tensor(images.image_sizes[0]),
        "c3": body["0"][0].clone(), "c4": body["1"][0].clone(), "c5": body["2"][0].clone(),
        "cls_logits": head["cls_logits"][0].clone(),
        "bbox_regression": head["bbox_regression"][0].clone(),
        "anchors": anchors[0].clone(),
        "boxes": det["boxes"], "scores": det["scores"], "labels": det["labels"],
    }
    for i, f in enumerate(features):
        expected[f"p{i + 3}"] = f[0].clone()
    torch.save(expected, f"{out}/expected.pth")
    dets = [{"image_id": 1, "category_id": int(l), "score": float(s),
             "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]}
            for b, s, l in zip(det["boxes"], det["scores"], det["labels"])]
    with open(f"{out}/expected_dets.json", "w") as f:
        json.dump(dets, f)

    if v2:
        print(f"retinanet_reference (v2): {len(dets)} detections")
        return
    # The ImageNet classifier layout, as a backbone initialization.
    torch.manual_seed(5)
    resnet = torchvision.models.resnet50()
    with torch.no_grad():
        perturb_norms(resnet, gen)
    resnet.eval()
    torch.save(resnet.state_dict(), f"{out}/resnet50.pth", _use_new_zipfile_serialization=False)
    inp = torch.rand(1, 3, 96, 128, generator=gen)
    with torch.no_grad():
        r = resnet
        y = r.maxpool(r.relu(r.bn1(r.conv1(inp))))
        c2 = r.layer1(y)
        c3 = r.layer2(c2)
        c4 = r.layer3(c3)
        c5 = r.layer4(c4)
    torch.save({"input": inp}, f"{out}/resnet_input.pth")
    torch.save({"c3": c3, "c4": c4, "c5": c5}, f"{out}/resnet_expected.pth")
    print(f"retinanet_reference: {len(dets)} detections, image {tuple(images.image_sizes[0])} "
          f"padded {tuple(images.tensors.shape[-2:])}")


if __name__ == "__main__":
    main()
