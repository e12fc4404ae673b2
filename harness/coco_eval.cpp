#include "harness/coco_eval.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace focalab::harness {

namespace {

constexpr int kNumIou = 10;
constexpr int kNumRec = 101;
const std::array<int, 3> kMaxDets = {1, 10, 100};
const std::array<std::array<double, 2>, 4> kAreaRanges = {
    {{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}}};

double iou_threshold(int t) { return 0.5 + 0.05 * t; }

double iou(const EvalBox& d, const EvalBox& g, bool crowd) {
  const double w = std::max(0.0, std::min(d.x2, g.x2) - std::max(d.x1, g.x1));
  const double h = std::max(0.0, std::min(d.y2, g.y2) - std::max(d.y1, g.y1));
  const double inter = w * h;
  const double da = (d.x2 - d.x1) * (d.y2 - d.y1);
  const double uni = crowd ? da : da + (g.x2 - g.x1) * (g.y2 - g.y1) - inter;
  return uni > 0 ? inter / uni : 0;
}

// evaluateImg() for one (image, category, area range) at maxDet = 100.
struct ImageEval {
  std::vector<double> scores;                       // detections by decreasing score
  std::array<std::vector<char>, kNumIou> matched;   // per threshold, per detection
  std::array<std::vector<char>, kNumIou> ignored;
  int64_t num_gt_not_ignored = 0;
};

ImageEval evaluate_image(std::vector<const GroundTruth*> gts, std::vector<const Detection*> dts,
                         const std::array<double, 2>& range) {
  ImageEval e;
  auto gt_ignored = [&](const GroundTruth* g) {
    return g->iscrowd || g->area < range[0] || g->area > range[1];
  };
  // GTs not ignored first (stable), detections by score (stable), cut at maxDet.
  std::stable_sort(gts.begin(), gts.end(), [&](auto a, auto b) {
    return gt_ignored(a) < gt_ignored(b);
  });
  std::stable_sort(dts.begin(), dts.end(), [](auto a, auto b) { return a->score > b->score; });
  if (dts.size() > static_cast<size_t>(kMaxDets.back())) dts.resize(kMaxDets.back());
  const size_t nd = dts.size(), ng = gts.size();
  std::vector<char> gi(ng);
  for (size_t g = 0; g < ng; ++g) {
    gi[g] = gt_ignored(gts[g]);
    e.num_gt_not_ignored += !gi[g];
  }
  std::vector<double> ious(nd * ng);
  for (size_t d = 0; d < nd; ++d) {
    e.scores.push_back(dts[d]->score);
    for (size_t g = 0; g < ng; ++g) ious[d * ng + g] = iou(dts[d]->box, gts[g]->box, gts[g]->iscrowd);
  }
  for (int t = 0; t < kNumIou; ++t) {
    std::vector<char> gt_matched(ng, 0);
    e.matched[t].assign(nd, 0);
    e.ignored[t].assign(nd, 0);
    for (size_t d = 0; d < nd; ++d) {
      double best = std::min(iou_threshold(t), 1 - 1e-10);
      int64_t m = -1;
      for (size_t g = 0; g < ng; ++g) {
        if (gt_matched[g] && !gts[g]->iscrowd) continue;
        if (m > -1 && !gi[static_cast<size_t>(m)] && gi[g]) break;
        if (ious[d * ng + g] < best) continue;
        best = ious[d * ng + g];
        m = static_cast<int64_t>(g);
      }
      if (m == -1) continue;
      e.ignored[t][d] = gi[static_cast<size_t>(m)];
      e.matched[t][d] = 1;
      gt_matched[static_cast<size_t>(m)] = 1;
    }
    // Unmatched detections outside the area range are ignored.
    for (size_t d = 0; d < nd; ++d) {
      const auto& b = dts[d]->box;
      const double area = (b.x2 - b.x1) * (b.y2 - b.y1);
      if (!e.matched[t][d] && (area < range[0] || area > range[1])) e.ignored[t][d] = 1;
    }
  }
  return e;
}

}  // namespace

CocoSummary evaluate_coco(const std::vector<int64_t>& image_ids, int64_t num_categories,
                          const std::vector<GroundTruth>& gts, const std::vector<Detection>& dts) {
  // Group by (category, image) in the order of image_ids.
  std::map<int64_t, size_t> image_index;
  for (size_t i = 0; i < image_ids.size(); ++i) image_index[image_ids[i]] = i;
  const size_t ni = image_ids.size(), nk = static_cast<size_t>(num_categories);
  std::vector<std::vector<const GroundTruth*>> g_by(nk * ni);
  std::vector<std::vector<const Detection*>> d_by(nk * ni);
  for (const auto& g : gts) {
    auto it = image_index.find(g.image_id);
    if (it != image_index.end() && g.category >= 0 && g.category < num_categories) {
      g_by[static_cast<size_t>(g.category) * ni + it->second].push_back(&g);
    }
  }
  for (const auto& d : dts) {
    auto it = image_index.find(d.image_id);
    if (it != image_index.end() && d.category >= 0 && d.category < num_categories) {
      d_by[static_cast<size_t>(d.category) * ni + it->second].push_back(&d);
    }
  }

  // precision[t][r][k][a][m], recall[t][k][a][m]
  const size_t na = kAreaRanges.size(), nm = kMaxDets.size();
  auto pidx = [&](size_t t, size_t r, size_t k, size_t a, size_t m) {
    return (((t * kNumRec + r) * nk + k) * na + a) * nm + m;
  };
  auto ridx = [&](size_t t, size_t k, size_t a, size_t m) { return ((t * nk + k) * na + a) * nm + m; };
  std::vector<double> precision(kNumIou * kNumRec * nk * na * nm, -1.0);
  std::vector<double> recall(kNumIou * nk * na * nm, -1.0);

  for (size_t k = 0; k < nk; ++k) {
    for (size_t a = 0; a < na; ++a) {
      std::vector<ImageEval> evals;
      evals.reserve(ni);
      for (size_t i = 0; i < ni; ++i) {
        evals.push_back(evaluate_image(g_by[k * ni + i], d_by[k * ni + i], kAreaRanges[a]));
      }
      int64_t npig = 0;
      for (const auto& e : evals) npig += e.num_gt_not_ignored;
      if (npig == 0) continue;
      for (size_t m = 0; m < nm; ++m) {
        // Concatenate each image's first maxDet detections; sort by score (stable mergesort).
        struct Entry {
          double score;
          size_t image, det;
        };
        std::vector<Entry> entries;
        for (size_t i = 0; i < ni; ++i) {
          const size_t n = std::min(evals[i].scores.size(), static_cast<size_t>(kMaxDets[m]));
          for (size_t d = 0; d < n; ++d) entries.push_back({evals[i].scores[d], i, d});
        }
        std::stable_sort(entries.begin(), entries.end(),
                         [](const Entry& x, const Entry& y) { return x.score > y.score; });
        for (size_t t = 0; t < kNumIou; ++t) {
          std::vector<double> rc, pr;
          double tp = 0, fp = 0;
          for (const auto& en : entries) {
            if (evals[en.image].ignored[t][en.det]) continue;
            if (evals[en.image].matched[t][en.det]) tp += 1; else fp += 1;
            rc.push_back(tp / static_cast<double>(npig));
            pr.push_back(tp / (fp + tp + std::numeric_limits<double>::epsilon()));
          }
          recall[ridx(t, k, a, m)] = rc.empty() ? 0 : rc.back();
          for (size_t i = pr.size(); i-- > 1;) pr[i - 1] = std::max(pr[i - 1], pr[i]);
          for (size_t r = 0; r < kNumRec; ++r) {
            const double thr = static_cast<double>(r) / (kNumRec - 1);
            // np.searchsorted(rc, thr, side="left")
            const size_t pi = static_cast<size_t>(std::lower_bound(rc.begin(), rc.end(), thr) - rc.begin());
            precision[pidx(t, r, k, a, m)] = pi < pr.size() ? pr[pi] : 0.0;
          }
        }
      }
    }
  }

  auto summarize_ap = [&](int t_only, size_t a, size_t m) {
    double sum = 0;
    int64_t n = 0;
    for (size_t t = 0; t < kNumIou; ++t) {
      if (t_only >= 0 && static_cast<int>(t) != t_only) continue;
      for (size_t r = 0; r < kNumRec; ++r)
        for (size_t k = 0; k < nk; ++k) {
          const double v = precision[pidx(t, r, k, a, m)];
          if (v > -1) { sum += v; ++n; }
        }
    }
    return n ? sum / static_cast<double>(n) : -1.0;
  };
  auto summarize_ar = [&](size_t a, size_t m) {
    double sum = 0;
    int64_t n = 0;
    for (size_t t = 0; t < kNumIou; ++t)
      for (size_t k = 0; k < nk; ++k) {
        const double v = recall[ridx(t, k, a, m)];
        if (v > -1) { sum += v; ++n; }
      }
    return n ? sum / static_cast<double>(n) : -1.0;
  };
  CocoSummary s;
  s.stats = {summarize_ap(-1, 0, 2), summarize_ap(0, 0, 2), summarize_ap(5, 0, 2),
             summarize_ap(-1, 1, 2), summarize_ap(-1, 2, 2), summarize_ap(-1, 3, 2),
             summarize_ar(0, 0),     summarize_ar(0, 1),     summarize_ar(0, 2),
             summarize_ar(1, 2),     summarize_ar(2, 2),     summarize_ar(3, 2)};
  for (size_t k = 0; k < nk; ++k) {
    double sum = 0, sum50 = 0;
    int64_t n = 0, n50 = 0;
    for (size_t t = 0; t < kNumIou; ++t)
      for (size_t r = 0; r < kNumRec; ++r) {
        const double v = precision[pidx(t, r, k, 0, 2)];
        if (v > -1) { sum += v; ++n; if (t == 0) { sum50 += v; ++n50; } }
      }
    s.class_ap.push_back(n ? sum / static_cast<double>(n) : -1.0);
    s.class_ap50.push_back(n50 ? sum50 / static_cast<double>(n50) : -1.0);
  }
  return s;
}

}  // namespace focalab::harness
