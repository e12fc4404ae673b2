"""Reference values for focalab's parity tests: torchvision.ops.sigmoid_focal_loss.

Usage: /usr/bin/python3 focal_loss_reference.py DIR M K
Reads DIR/x.bin, DIR/t.bin, DIR/w.bin (float32, M x K) and DIR/cases.txt (lines
"gamma alpha reduction"); for case i writes DIR/out_i.bin (the loss) and DIR/grad_i.bin (the
gradient of sum(loss * w) for reduction none, of the loss otherwise).
"""
import sys

import numpy as np
import torch
from torchvision.ops import sigmoid_focal_loss


def main():
    d, m, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    load = lambda name: torch.from_numpy(np.fromfile(f"{d}/{name}.bin", dtype=np.float32).reshape(m, k))
    x, t, w = load("x"), load("t"), load("w")
    with open(f"{d}/cases.txt") as f:
        cases = [line.split() for line in f if line.strip()]
    for i, (gamma, alpha, reduction) in enumerate(cases):
        xx = x.clone().requires_grad_(True)
        out = sigmoid_focal_loss(xx, t, alpha=float(alpha), gamma=float(gamma), reduction=reduction)
        (out * w if reduction == "none" else out).sum().backward()
        out.detach().numpy().astype(np.float32).tofile(f"{d}/out_{i}.bin")
        xx.grad.numpy().astype(np.float32).tofile(f"{d}/grad_{i}.bin")


if __name__ == "__main__":
    main()
