#!/usr/bin/python3
# torchvision's side: builds the model, reads the boxes focalab wrote, times model(images,
# targets) + sum + zero_grad + backward + SGD step; prints "median_seconds trainable_params".
# (`focalab bench` runs it: compiled into focalab at build time, written to a temporary file and
# run with /usr/bin/python3 or $FOCALAB_PYTHON.)
import contextlib, sys, time, torch
from functools import partial
from torch import nn
from torchvision.models import resnet50
from torchvision.models.resnet import BasicBlock
from torchvision.ops import misc as misc_nn_ops
from torchvision.ops.feature_pyramid_network import LastLevelP6P7
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor, BackboneWithFPN
from torchvision.models.detection.retinanet import RetinaNet, RetinaNetHead
from torchvision.models.detection.anchor_utils import AnchorGenerator
threads, kind, size, batch, reps, warmup, boxes_file, device, amp, preset_classes = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7], sys.argv[8], sys.argv[9], int(sys.argv[10])
torch.set_num_threads(threads)
torch.manual_seed(0)

class TinyResNet(nn.Module):
    # focalab's `tiny` backbone: ResNet-10 (one basic block a stage) 16/32/64/128 wide, batch norm
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 16
        for s in range(4):
            planes = 16 << s
            stride = 1 if s == 0 else 2
            down = None
            if stride != 1 or inplanes != planes:
                down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            setattr(self, "layer%d" % (s + 1), nn.Sequential(BasicBlock(inplanes, planes, stride, down)))
            inplanes = planes

if kind == "r50":
    # retinanet_resnet50_fpn as torchvision builds it with an ImageNet backbone (frozen batch
    # norm, trainable_backbone_layers=3), without downloading the weights
    backbone = resnet50(weights=None, norm_layer=misc_nn_ops.FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(backbone, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
    num_classes = 91
    model = RetinaNet(backbone, num_classes, min_size=size, max_size=size)
else:
    backbone = BackboneWithFPN(TinyResNet(), {"layer2": "0", "layer3": "1", "layer4": "2"}, [32, 64, 128], 64,
                               extra_blocks=LastLevelP6P7(128, 64))
    num_classes = preset_classes  # tiny: 4; regime (the paper_regime preset): 102
    anchors = AnchorGenerator(tuple((x, x * 2 ** (1 / 3), x * 2 ** (2 / 3)) for x in [16, 32, 64, 128, 256]),
                              ((0.5, 1.0, 2.0),) * 5)
    class Fp32GroupNorm(nn.GroupNorm):
        # as focalab's heads: CPU autocast in torch 1.13 has no rule for group_norm
        def forward(self, x):
            return super().forward(x.float())
    head = RetinaNetHead(64, 9, num_classes, norm_layer=partial(Fp32GroupNorm if amp != "off" else nn.GroupNorm, 32))
    head.classification_head.conv = head.classification_head.conv[:2]
    head.regression_head.conv = head.regression_head.conv[:2]
    model = RetinaNet(backbone, num_classes, min_size=size, max_size=size, anchor_generator=anchors, head=head)
model.to(device).train()
targets = [{"boxes": [], "labels": []} for _ in range(batch)]
for line in open(boxes_file):
    i, x1, y1, x2, y2, c = line.split()
    targets[int(i)]["boxes"].append([float(x1), float(y1), float(x2), float(y2)])
    targets[int(i)]["labels"].append(int(c))
targets = [{"boxes": torch.tensor(t["boxes"]).reshape(-1, 4).to(device), "labels": torch.tensor(t["labels"], dtype=torch.int64).to(device)} for t in targets]
g = torch.Generator().manual_seed(1)
images = [torch.rand(3, size, size, generator=g).to(device) for _ in range(batch)]
params = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
# mixed precision as torch.amp documents it: autocast around the forward pass (torchvision's
# losses are inside it), GradScaler for fp16
dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
scaler = None
if amp == "fp16":
    scaler = torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()
def step():
    with torch.autocast(device_type="cuda" if device != "cpu" else "cpu", dtype=dtype) if dtype else contextlib.nullcontext():
        losses = model(images, targets)
        loss = sum(losses.values())
    opt.zero_grad()
    if scaler:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    else:
        loss.backward()
        opt.step()
    if device != "cpu": torch.cuda.synchronize()
for _ in range(warmup): step()
times = []
for _ in range(reps):
    t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
times.sort()
print(times[len(times) // 2], sum(p.numel() for p in params))
