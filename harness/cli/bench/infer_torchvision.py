#!/usr/bin/python3
# Builds torchvision's retinanet_resnet50_fpn (seeded, classification bias raised so that every
# level yields its 1000 candidates), saves its state_dict and a random image for focalab to load,
# times model([image]) in eval mode; prints "median_seconds num_detections".
# (`focalab bench` runs it: compiled into focalab at build time, written to a temporary file and
# run with /usr/bin/python3 or $FOCALAB_PYTHON.)
import sys, time, torch
from PIL import Image
from torchvision.models.detection import retinanet_resnet50_fpn
threads, out, h, w, min_size, max_size, reps = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = retinanet_resnet50_fpn(weights=None, weights_backbone=None, min_size=min_size, max_size=max_size)
with torch.no_grad():
    model.head.classification_head.cls_logits.bias.fill_(-1.5)
model.eval()
torch.save(model.state_dict(), out + "/weights.pth")
img = (torch.rand(h, w, 3, generator=torch.Generator().manual_seed(1)) * 255).to(torch.uint8)
Image.fromarray(img.numpy()).save(out + "/image.png")
x = img.permute(2, 0, 1).float() / 255
times = []
with torch.no_grad():
    for i in range(reps + 1):
        t0 = time.perf_counter(); det = model([x])[0]; dt = time.perf_counter() - t0
        if i > 0: times.append(dt)
times.sort()
print(times[len(times) // 2], det["scores"].numel())
