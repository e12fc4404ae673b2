#pragma once
// COCO-format datasets for training and evaluation (data.kind: coco): an instances JSON and the
// folder its file_names are relative to. Category ids, which need not be contiguous (COCO's run
// 1..90 with gaps), become labels 0..K-1 in increasing id order and go back to ids for
// evaluation. `iscrowd` boxes are ignore regions: anchors that lie mostly inside one (IoA >= 0.7,
// Detectron's CROWD_FILTER_THRESH) are ignored rather than negative. Boxes that reach at most one
// pixel outside the image are clipped to it. Train images without (non-crowd) annotations are
// dropped unless data.keep_empty; val keeps every image, since COCO AP counts them.
//
// Bad data — a missing or unreadable image, an image whose size differs from the JSON's, a
// repeated image / category / annotation id, an annotation naming an unknown image or category,
// a box with zero or negative width or height, a box outside the image — is skipped and counted
// with data.on_bad: skip (the counts go to stderr when the dataset is loaded), or stops the run
// with a DataError naming the file and the id (exit code 3) with data.on_bad: error. Every image
// header is read once when the dataset is loaded, with the file's completeness (a JPEG's
// end-of-image marker, a PNG's chunks up to IEND), so a missing, unreadable or truncated file is
// found before training and before anything is written; image data that is corrupt inside a
// complete file is found only when it is decoded (skipped then, or an error with on_bad: error).

#include <memory>

#include "harness/data/dataset.h"

namespace focalab::harness {
inline namespace data {

// REQUIRES: config.kind == DataKind::kCoco and finalize_config() passed. Cached per process.
std::shared_ptr<const DetectionDataset> open_coco_dataset(const DataConfig& config, Split split);

}  // namespace data
}  // namespace focalab::harness
