#!/usr/bin/python3
# Runs torchvision's focal loss forward + backward; prints the median seconds on stdout.
# (`focalab bench` runs it: compiled into focalab at build time, written to a temporary file and
# run with /usr/bin/python3 or $FOCALAB_PYTHON.)
import sys, time, torch
from torchvision.ops import sigmoid_focal_loss
threads, m, k, reps, device = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
torch.set_num_threads(threads)
g = torch.Generator().manual_seed(0)
x = (torch.randn(m, k, generator=g) * 2 - 4).to(device)
t = torch.zeros(m, k)
pos = torch.randint(0, m, (m // 300,), generator=g)
t[pos, torch.randint(0, k, (pos.numel(),), generator=g)] = 1
t = t.to(device)
def step():
    xx = x.detach().requires_grad_(True)
    loss = sigmoid_focal_loss(xx, t, alpha=0.25, gamma=2.0, reduction="sum")
    loss.backward()
    if device != "cpu": torch.cuda.synchronize()
for _ in range(2): step()
times = []
for _ in range(reps):
    t0 = time.perf_counter(); step(); times.append(time.perf_counter() - t0)
times.sort()
print(times[len(times) // 2])
