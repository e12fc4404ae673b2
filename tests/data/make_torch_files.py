"""Writes the small torch.save fixtures of tests/harness/torch_file_test.cpp (run once; the files
are committed so that the unit tests need no Python):
  /usr/bin/python3 tests/data/make_torch_files.py tests/data
tiny_zip.pth and tiny_legacy.pth hold the same OrderedDict: float, int64, half and bool tensors,
a 0-d tensor, an empty tensor, two tensors sharing one storage (one a strided view), a nested
dict, and a non-tensor entry (an int) that a reader must skip."""
import collections
import sys

import torch

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
