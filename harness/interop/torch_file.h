#pragma once
// Reading and writing the files Python's torch.save makes, without Python: both its zip format
// (the default since torch 1.6) and the legacy single-file format (`_use_new_zipfile_serialization
// =False`, what many older published checkpoints use). Only the pickle subset torch.save writes
// for a state_dict is understood: dicts and OrderedDicts, lists, tuples, numbers, strings, tensors
// rebuilt by torch._utils._rebuild_tensor_v2 / _rebuild_parameter over persistent storages. Any
// other object (an argparse.Namespace in a training checkpoint, say) is kept as an opaque
// placeholder, so the tensors around it still load. LibTorch's own writer's type tags
// (torch.jit._pickle.restore_type_tag) are read through.
//
// LibTorch's own torch::pickle_load cannot be used for this: LibTorch 1.13 turns an OrderedDict,
// which every state_dict is, into None.

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace focalab::harness {
inline namespace interop {

// Tensors in file order with their dotted names.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

// Reads the state_dict in `path`. The file's top-level object may be the state_dict itself or a
// dict that holds it under "model", "state_dict", "model_state" or "model_state_dict" (training
// checkpoints); nested
// dicts of tensors are flattened with dotted names. Throws DataError naming the file and what is
// wrong (not a torch.save file, truncated, an unsupported pickle opcode, no tensors).
StateDict read_state_dict(const std::string& path);

// Writes `state` in torch.save's zip format through torch::pickle_save: the file opens with
// Python's torch.load as a dict of tensors (in this order), which load_state_dict takes. Tensors
// are saved contiguous, on CPU.
// Writes to `path`.tmp and renames, so an interrupted save never leaves a truncated file.
void write_state_dict(const std::string& path, const StateDict& state);

}  // namespace interop
}  // namespace focalab::harness
