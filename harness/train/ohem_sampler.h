#pragma once
// The training side of loss.kind ohem: which anchors the loss scores. The loss itself is CE on
// the selected anchors (losses::ClassificationLoss); the selection needs the predicted boxes
// (decoding, NMS), so it lives here, beside the training step, and the losses know no boxes.
//
// Online hard example mining as Table 1(d) of the focal-loss paper describes it: "each example
// is scored by its loss, NMS is then applied, and a minibatch is constructed with the
// highest-loss examples". What the paper leaves open, and what focalab does (recorded with each
// trial through its loss.* keys):
//   - an example is an anchor (all K binary problems of it together); its score is its summed
//     sigmoid CE, the loss OHEM then trains;
//   - NMS runs on the anchors' decoded predicted boxes, scored by that loss, at loss.ohem_nms;
//     only the 8 x loss.ohem_batch_size highest-loss anchors of an image enter the NMS (bounds
//     its cost on 10^5 anchors; the rest could never reach the minibatch anyway unless NMS
//     removes over 7/8 of them);
//   - the minibatch is per image: the loss.ohem_batch_size highest-loss survivors;
//   - the 1:3 variant (loss.ohem_pos_fraction = 0.25) takes positives first, up to a quarter
//     of the batch, and fills the rest with negatives (Fast R-CNN sampling: a quarter of the
//     batch at most, not an exact 1:3 when negatives run short);
//   - anchors not selected count as ignored (loss_intervals.ignored_anchors);
//   - the classification and box losses cover the selected anchors only (the box loss its
//     selected positives), normalized by loss.normalizer computed over them (default: the
//     positives among them, at least 1).

#include <torch/types.h>

#include "losses/classification_loss.h"
#include "models/anchors/box_coder.h"

namespace focalab::harness {
inline namespace train {

// anchor_labels: [N, R] int64 (class k >= 0 positive, -1 negative, -2 ignored);
// cls_logits [N, R, K]; box_deltas [N, R, 4]; anchors [R, 4]. Returns anchor_labels with every
// anchor that is not selected set to -2.
torch::Tensor select_ohem(const torch::Tensor& anchor_labels, const torch::Tensor& cls_logits,
                          const torch::Tensor& box_deltas, const torch::Tensor& anchors,
                          const models::BoxCoder& box_coder,
                          const losses::OhemOptions& options);

}  // namespace train
}  // namespace focalab::harness
