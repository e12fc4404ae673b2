#pragma once
// The label form with the loss accounting, shared by the vectorized paths (avx2.cpp,
// avx512.cpp): per class, hard negatives' count and loss and easy negatives' loss (hard:
// x >= theta, the logit of hard_score, which equals sigmoid(x) >= hard_score), as float sums
// flushed into the double totals every kFlush rows (counts exact: at most kFlush a class).
// Where a path keeps the sums in registers through its loss pass (AVX-512 with up to
// Path::kRegisterChunks class chunks of 16), that pass does everything. Otherwise blocks of
// kBlock rows: first the path's loss pass, which writes each element's loss to a small buffer
// (in L1) instead of adding it to a running sum and lists the block's counted (not ignored) rows;
// then the path's accounting pass over the block, class chunk by class chunk, with the per-class
// sums in registers. The positives go to PosSums; their hard counts are taken back at the end
// (their lane in the buffer is zero). Not part of the losses library's interface.
//
// Path provides (each compiled for its instruction set, not inlined here):
//   static void store_pass(logits, labels, grad, b0, b1, k, p, scratch, kpad, xr, ps, &n)
//   static void account_block(xr, x0, n, k, scratch, kpad, theta, hard_n, hard_l, easy_l)
//   static constexpr int64_t kRegisterChunks;  (0: none)
//   static int64_t account_in_registers(chunks, logits, labels, grad, r0, r1, k, p, ps,
//                                       hard_n, hard_l, easy_l)   (returns the counted rows)

#include <algorithm>
#include <cstdint>
#include <vector>

#include "losses/kernel/paths.h"

namespace focalab::losses::kernel::detail {

template <class Path>
double rows_accounted(const float* logits, const int64_t* labels, float* grad, int64_t rb,
                      int64_t re, int64_t k, const FocalParams& p, Accounting* acc) {
  double total = 0;
  constexpr int64_t kBlock = 16, kFlush = 256;
  const int64_t kpad = (k + 15) / 16 * 16;
  std::vector<float> scratch(static_cast<size_t>(kBlock * kpad + 16));
  std::vector<float> easy_l(static_cast<size_t>(kpad)), hard_l(easy_l.size()), hard_n(easy_l.size());
  std::vector<double> pos_n(static_cast<size_t>(k)), pos_l(pos_n.size());
  std::vector<double> pos_hard_n(pos_n.size());
  std::vector<double> hard_cnt(pos_n.size());
  const PosSums ps{pos_n.data(), pos_l.data(), pos_hard_n.data(), acc->hard_theta};
  int64_t valid_rows = 0;
  // 64-byte aligned, so that no vector store straddles two cache lines.
  float* const sc_p = scratch.data() + (16 - reinterpret_cast<uintptr_t>(scratch.data()) / 4 % 16) % 16;
  float* const hn_p = hard_n.data();
  float* const hl_p = hard_l.data();
  float* const el_p = easy_l.data();
  const float* xr[kBlock];  // the block's counted rows
  const int64_t chunks16 = kpad / 16;
  const bool in_registers = chunks16 >= 1 && chunks16 <= Path::kRegisterChunks;
  for (int64_t f0 = rb; f0 < re; f0 += kFlush) {
    const int64_t f1 = std::min(re, f0 + kFlush);
    if (in_registers) {
      valid_rows += Path::account_in_registers(chunks16, logits, labels, grad, f0, f1, k, p, &ps,
                                               hn_p, hl_p, el_p);
    }
    for (int64_t b0 = f0; b0 < f1 && !in_registers; b0 += kBlock) {
      const int64_t b1 = std::min(f1, b0 + kBlock);
      int64_t n = 0;
      Path::store_pass(logits, labels, grad, b0, b1, k, p, sc_p, kpad, xr, &ps, &n);
      valid_rows += n;
      // x0: the block's first row when every row of it is counted (the rows are then k floats
      // apart), else null.
      Path::account_block(xr, n == b1 - b0 ? logits + b0 * k : nullptr, n, k, sc_p, kpad,
                          acc->hard_theta, hn_p, hl_p, el_p);
    }
    // Flush the float sums into the double totals.
    for (int64_t c = 0; c < k; ++c) {
      const auto i = static_cast<size_t>(c);
      acc->count[k + c] += hard_n[i];
      acc->loss_sum[k + c] += hard_l[i];
      acc->loss_sum[2 * k + c] += easy_l[i];
      total += static_cast<double>(hard_l[i]) + easy_l[i];
      hard_cnt[i] += hard_n[i];
    }
    std::fill(hard_n.begin(), hard_n.end(), 0.f);
    std::fill(hard_l.begin(), hard_l.end(), 0.f);
    std::fill(easy_l.begin(), easy_l.end(), 0.f);
  }
  // The positives, and their places in the hard counts taken back.
  for (int64_t c = 0; c < k; ++c) {
    const auto i = static_cast<size_t>(c);
    acc->count[c] += pos_n[i];
    acc->loss_sum[c] += pos_l[i];
    total += pos_l[i];
    acc->count[k + c] -= pos_hard_n[i];
    acc->count[2 * k + c] +=
        static_cast<double>(valid_rows) - pos_n[i] - (hard_cnt[i] - pos_hard_n[i]);
  }
  return total;
}

}  // namespace focalab::losses::kernel::detail
