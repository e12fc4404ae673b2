"""Writes the small fixtures of the unit tests (run once; the files are committed so that the unit
tests need no Python):
  /usr/bin/python3 tests/data/make_fixtures.py tests/data
Images (tests/harness/image_io_test.cpp): rgb_16x20.png / .jpg (R = 12 x, G = 15 y, B = 77),
gray_16x20.png ((20 y + x) mod 256), rgba_16x20.png (the RGB image with alpha 128), CMYK and
grayscale JPEGs with PIL's RGB conversion of each (cmyk_16x20_rgb.png, gray_16x20_jpg_rgb.png).
torch.save files (tests/harness/torch_file_test.cpp):
tiny_zip.pth and tiny_legacy.pth hold the same OrderedDict: float, int64, half and bool tensors,
a 0-d tensor, an empty tensor, two tensors sharing one storage (one a strided view), a nested
dict, and a non-tensor entry (an int) that a reader must skip."""
import collections
import sys

import numpy as np
import torch
from PIL import Image

out = sys.argv[1]
base = torch.arange(10, dtype=torch.float32) * 0.5 - 1.0
sd = collections.OrderedDict()
sd["conv.weight"] = torch.tensor([[1.5, -2.0, 3.25], [0.0, 1e-8, -7.0]])
sd["counts"] = torch.arange(6, dtype=torch.int64).reshape(2, 3) * 1000000000000
sd["half"] = torch.tensor([0.5, -1.25], dtype=torch.float16)
sd["mask"] = torch.tensor([True, False, True])
sd["scalar"] = torch.tensor(42.0)
sd["empty"] = torch.zeros(0, 4)
sd["base"] = base
sd["view"] = base[1::3]
sd["nested"] = collections.OrderedDict(x=torch.tensor([9.0]))
sd["epoch"] = 3
torch.save(sd, f"{out}/tiny_zip.pth")
torch.save(sd, f"{out}/tiny_legacy.pth", _use_new_zipfile_serialization=False)

rgb = np.zeros((16, 20, 3), np.uint8)
rgb[..., 0] = np.arange(20)[None, :] * 12
rgb[..., 1] = np.arange(16)[:, None] * 15
rgb[..., 2] = 77
Image.fromarray(rgb).save(f"{out}/rgb_16x20.png")
Image.fromarray(rgb).save(f"{out}/rgb_16x20.jpg", quality=95)
gray = (np.arange(16 * 20).reshape(16, 20) % 256).astype(np.uint8)
Image.fromarray(gray).save(f"{out}/gray_16x20.png")
rgba = np.concatenate([rgb, np.full((16, 20, 1), 128, np.uint8)], 2)
Image.fromarray(rgba).save(f"{out}/rgba_16x20.png")

# CMYK JPEG (as Photoshop writes them: Adobe APP14 marker, inverted CMYK) and a grayscale JPEG;
# the expected RGB is PIL's convert("RGB") of the decoded file, saved losslessly as PNG.
cmyk = Image.fromarray(rgb).convert("CMYK")
cmyk.save(f"{out}/cmyk_16x20.jpg", quality=95)
Image.open(f"{out}/cmyk_16x20.jpg").convert("RGB").save(f"{out}/cmyk_16x20_rgb.png")
Image.fromarray(gray).save(f"{out}/gray_16x20.jpg", quality=95)
Image.open(f"{out}/gray_16x20.jpg").convert("RGB").save(f"{out}/gray_16x20_jpg_rgb.png")
