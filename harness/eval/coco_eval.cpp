#include "harness/eval/coco_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "harness/util/splitmix.h"

namespace focalab::harness {
inline namespace eval {

namespace {

constexpr int kNumIou = 10;
constexpr int kNumRec = 101;
constexpr int kNumArea = 4;
constexpr int kMaxDet = 100;
const std::array<int, 3> kMaxDets = {1, 10, 100};
const std::array<std::array<double, 2>, kNumArea> kAreaRanges = {
    {{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}}};

// numpy.linspace(start, stop, num): i * ((stop - start) / (num - 1)) + start, last = stop.
template <size_t N>
std::array<double, N> linspace(double start, double stop) {
  std::array<double, N> v{};
  const double step = (stop - start) / static_cast<double>(N - 1);
  for (size_t i = 0; i < N; ++i) v[i] = static_cast<double>(i) * step + start;
  v[N - 1] = stop;
  return v;
}
const std::array<double, kNumIou> kIouThrs = linspace<kNumIou>(0.5, 0.95);
const std::array<double, kNumRec> kRecThrs = linspace<kNumRec>(0.0, 1.0);

// maskApi.c bbIou for one pair.
double iou(const EvalBox& d, const EvalBox& g, bool crowd) {
  const double w = std::min(d.w + d.x, g.w + g.x) - std::max(d.x, g.x);
  if (w <= 0) return 0;
  const double h = std::min(d.h + d.y, g.h + g.y) - std::max(d.y, g.y);
  if (h <= 0) return 0;
  const double i = w * h;
  const double da = d.w * d.h;
  const double u = crowd ? da : da + g.w * g.h - i;
  return i / u;
}

// evaluateImg() of one (image, category) for every area range, at maxDet = 100.
struct ImageEval {
  std::vector<double> scores;  // detections by decreasing score, at most 100
  // per area range: per threshold and detection, matched / ignored
  std::array<std::vector<char>, kNumArea> matched, ignored;  // [t * nd + d]
  std::array<int64_t, kNumArea> num_gt_not_ignored{};
};

ImageEval evaluate_image(const std::vector<const GroundTruth*>& gts,
                         std::vector<const Detection*> dts) {
  ImageEval e;
  std::stable_sort(dts.begin(), dts.end(),
                   [](const Detection* a, const Detection* b) { return a->score > b->score; });
  if (dts.size() > static_cast<size_t>(kMaxDet)) dts.resize(kMaxDet);
  const size_t nd = dts.size(), ng = gts.size();
  e.scores.resize(nd);
  for (size_t d = 0; d < nd; ++d) e.scores[d] = dts[d]->score;
  std::vector<double> ious(nd * ng);
  for (size_t d = 0; d < nd; ++d) {
    for (size_t g = 0; g < ng; ++g) ious[d * ng + g] = iou(dts[d]->box, gts[g]->box, gts[g]->iscrowd);
  }
  std::vector<size_t> order(ng);
  std::vector<char> gt_ignored(ng), gt_matched(ng);
  for (int a = 0; a < kNumArea; ++a) {
    const auto& range = kAreaRanges[static_cast<size_t>(a)];
    auto ignored_gt = [&](const GroundTruth* g) {
      return g->iscrowd || g->area < range[0] || g->area > range[1];
    };
    // GTs not ignored first, stable (np.argsort kind="mergesort")
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      return ignored_gt(gts[x]) < ignored_gt(gts[y]);
    });
    for (size_t j = 0; j < ng; ++j) {
      gt_ignored[j] = ignored_gt(gts[order[j]]);
      e.num_gt_not_ignored[static_cast<size_t>(a)] += !gt_ignored[j];
    }
    auto& matched = e.matched[static_cast<size_t>(a)];
    auto& ignored = e.ignored[static_cast<size_t>(a)];
    matched.assign(kNumIou * nd, 0);
    ignored.assign(kNumIou * nd, 0);
    for (int t = 0; t < kNumIou; ++t) {
      std::fill(gt_matched.begin(), gt_matched.end(), 0);
      for (size_t d = 0; d < nd; ++d) {
        double best = std::min(kIouThrs[static_cast<size_t>(t)], 1 - 1e-10);
        int64_t m = -1;
        for (size_t j = 0; j < ng; ++j) {
          const GroundTruth* g = gts[order[j]];
          if (gt_matched[j] && !g->iscrowd) continue;
          if (m > -1 && !gt_ignored[static_cast<size_t>(m)] && gt_ignored[j]) break;
          const double v = ious[d * ng + order[j]];
          if (v < best) continue;
          best = v;
          m = static_cast<int64_t>(j);
        }
        const size_t at = static_cast<size_t>(t) * nd + d;
        bool is_matched = false, is_ignored = false;
        if (m > -1) {
          is_ignored = gt_ignored[static_cast<size_t>(m)];
          is_matched = gts[order[static_cast<size_t>(m)]]->id != 0;  // dtm holds the GT id
          gt_matched[static_cast<size_t>(m)] = 1;
        }
        if (!is_matched) {
          const double area = dts[d]->box.w * dts[d]->box.h;
          is_ignored = is_ignored || area < range[0] || area > range[1];
        }
        matched[at] = is_matched;
        ignored[at] = is_ignored;
      }
    }
  }
  return e;
}

// A detection in accumulate()'s ranking: its score, image (index into the category's evals)
// and rank within the image.
struct Entry {
  double score;
  uint32_t eval, det;
};

// One category's images (positions in the sorted ids) and their evaluateImg(); for the
// bootstrap, its detections at 100 per image ranked once (by_score): a resample keeps that order,
// leaving out the images it did not draw.
struct CategoryEvals {
  std::vector<size_t> images;
  std::vector<ImageEval> evals;
  std::vector<Entry> by_score;
};

// The detections of `evals` at `max_dets` per image, by decreasing score (ties: image order, then
// rank), skipping images `skip` says.
template <class Skip>
void rank_entries(const std::vector<ImageEval>& evals, size_t max_dets, Skip skip,
                  std::vector<Entry>& entries) {
  entries.clear();
  for (size_t i = 0; i < evals.size(); ++i) {
    if (skip(i)) continue;
    const size_t n = std::min(evals[i].scores.size(), max_dets);
    for (size_t d = 0; d < n; ++d) {
      entries.push_back({evals[i].scores[d], static_cast<uint32_t>(i), static_cast<uint32_t>(d)});
    }
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& x, const Entry& y) { return x.score > y.score; });
}

// accumulate()'s precision[t][r][k][a][m] and recall[t][k][a][m], -1 where undefined.
struct Accumulated {
  explicit Accumulated(size_t nk)
      : nk(nk),
        precision(kNumIou * kNumRec * nk * kNumArea * kMaxDets.size(), -1.0),
        recall(kNumIou * nk * kNumArea * kMaxDets.size(), -1.0) {}
  size_t nk;
  std::vector<double> precision, recall;
  size_t pidx(size_t t, size_t r, size_t k, size_t a, size_t m) const {
    return (((t * kNumRec + r) * nk + k) * kNumArea + a) * kMaxDets.size() + m;
  }
  size_t ridx(size_t t, size_t k, size_t a, size_t m) const {
    return ((t * nk + k) * kNumArea + a) * kMaxDets.size() + m;
  }
  // summarize()'s AP: the mean precision over thresholds (one, t_only >= 0), recall thresholds
  // and categories where defined.
  double ap(int t_only, size_t a, size_t m) const {
    double sum = 0;
    int64_t n = 0;
    for (size_t t = 0; t < kNumIou; ++t) {
      if (t_only >= 0 && static_cast<int>(t) != t_only) continue;
      for (size_t r = 0; r < kNumRec; ++r) {
        for (size_t k = 0; k < nk; ++k) {
          const double v = precision[pidx(t, r, k, a, m)];
          if (v > -1) {
            sum += v;
            ++n;
          }
        }
      }
    }
    return n ? sum / static_cast<double>(n) : -1.0;
  }
};

// COCOeval.accumulate() over the categories' evaluated images, each image counted `weights[i]`
// times (empty: once each; the arithmetic is then exactly COCOeval's). `ap_only`: only the area
// "all" at 100 detections (what AP, AP50 and AP75 read); the rest stays -1.
void accumulate(const std::vector<CategoryEvals>& categories, const std::vector<double>& weights,
                bool ap_only, Accumulated& out) {
  std::fill(out.precision.begin(), out.precision.end(), -1.0);
  std::fill(out.recall.begin(), out.recall.end(), -1.0);
  const size_t nm = kMaxDets.size();
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t kk = 0; kk < static_cast<int64_t>(categories.size()); ++kk) {
    const size_t k = static_cast<size_t>(kk);
    const auto& images = categories[k].images;
    const auto& evals = categories[k].evals;
    auto weight = [&](size_t i) { return weights.empty() ? 1.0 : weights[images[i]]; };
    const auto& ranked = categories[k].by_score;
    std::vector<Entry> entries;
    std::vector<double> rc, pr;
    for (size_t a = 0; a < (ap_only ? 1 : kNumArea); ++a) {
      double npig = 0;
      for (size_t i = 0; i < evals.size(); ++i) {
        npig += weight(i) * static_cast<double>(evals[i].num_gt_not_ignored[a]);
      }
      if (npig == 0) continue;
      for (size_t m = ap_only ? nm - 1 : 0; m < nm; ++m) {
        if (m + 1 == nm && !ranked.empty()) {
          entries.clear();  // the ranking made once, without the images not drawn
          for (const auto& en : ranked) {
            if (weight(en.eval) != 0) entries.push_back(en);
          }
        } else {
          rank_entries(evals, static_cast<size_t>(kMaxDets[m]),
                       [&](size_t i) { return weight(i) == 0; }, entries);
        }
        for (size_t t = 0; t < kNumIou; ++t) {
          rc.clear();
          pr.clear();
          double tp = 0, fp = 0;
          for (const auto& en : entries) {
            const auto& e = evals[en.eval];
            const size_t at = t * e.scores.size() + en.det;
            if (e.ignored[a][at]) continue;  // neither TP nor FP; see below
            const double w = weight(en.eval);
            if (e.matched[a][at]) tp += w; else fp += w;
            rc.push_back(tp / npig);
            pr.push_back(tp / (fp + tp + std::numeric_limits<double>::epsilon()));
          }
          // COCOeval keeps ignored detections in its cumulative sums as repeats of the previous
          // (tp, fp); after the monotone envelope and a left searchsorted those repeats never
          // change a sampled value, so they are skipped here.
          out.recall[out.ridx(t, k, a, m)] = rc.empty() ? 0 : rc.back();
          for (size_t i = pr.size(); i-- > 1;) pr[i - 1] = std::max(pr[i - 1], pr[i]);
          size_t pi = 0;
          for (size_t r = 0; r < kNumRec; ++r) {
            // np.searchsorted(rc, recThrs, side="left"); thresholds increase, so pi only grows
            while (pi < rc.size() && rc[pi] < kRecThrs[r]) ++pi;
            out.precision[out.pidx(t, r, k, a, m)] = pi < pr.size() ? pr[pi] : 0.0;
          }
        }
      }
    }
  }
}

}  // namespace

CocoSummary evaluate_coco(const std::vector<int64_t>& image_ids, int64_t num_categories,
                          const std::vector<GroundTruth>& gts, const std::vector<Detection>& dts,
                          int64_t bootstrap) {
  std::vector<int64_t> ids = image_ids;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::unordered_map<int64_t, size_t> image_index;
  image_index.reserve(ids.size() * 2);
  for (size_t i = 0; i < ids.size(); ++i) image_index.emplace(ids[i], i);
  const size_t nk = static_cast<size_t>(std::max<int64_t>(num_categories, 0));

  // Per category: the images that have GTs or detections of it, with those, in input order.
  struct Cell {
    std::vector<const GroundTruth*> gts;
    std::vector<const Detection*> dts;
  };
  std::vector<std::unordered_map<size_t, Cell>> cells(nk);
  for (const auto& g : gts) {
    auto it = image_index.find(g.image_id);
    if (it != image_index.end() && g.category >= 0 && static_cast<size_t>(g.category) < nk) {
      cells[static_cast<size_t>(g.category)][it->second].gts.push_back(&g);
    }
  }
  for (const auto& d : dts) {
    auto it = image_index.find(d.image_id);
    if (it != image_index.end() && d.category >= 0 && static_cast<size_t>(d.category) < nk) {
      cells[static_cast<size_t>(d.category)][it->second].dts.push_back(&d);
    }
  }

  // The matching, once: per category, its images in increasing id order (as COCOeval
  // concatenates them) and their evaluateImg().
  std::vector<CategoryEvals> categories(nk);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t kk = 0; kk < static_cast<int64_t>(nk); ++kk) {
    const size_t k = static_cast<size_t>(kk);
    auto& cat = categories[k];
    cat.images.reserve(cells[k].size());
    for (const auto& [i, cell] : cells[k]) cat.images.push_back(i);
    std::sort(cat.images.begin(), cat.images.end());
    cat.evals.reserve(cat.images.size());
    for (size_t i : cat.images) cat.evals.push_back(evaluate_image(cells[k][i].gts, cells[k][i].dts));
  }
  Accumulated acc(nk);
  accumulate(categories, {}, false, acc);
  auto summarize_ar = [&](size_t a, size_t m) {
    double sum = 0;
    int64_t n = 0;
    for (size_t t = 0; t < kNumIou; ++t) {
      for (size_t k = 0; k < nk; ++k) {
        const double v = acc.recall[acc.ridx(t, k, a, m)];
        if (v > -1) {
          sum += v;
          ++n;
        }
      }
    }
    return n ? sum / static_cast<double>(n) : -1.0;
  };
  CocoSummary s;
  s.stats = {acc.ap(-1, 0, 2),   acc.ap(0, 0, 2),   acc.ap(5, 0, 2),
             acc.ap(-1, 1, 2),   acc.ap(-1, 2, 2),   acc.ap(-1, 3, 2),
             summarize_ar(0, 0),     summarize_ar(0, 1),     summarize_ar(0, 2),
             summarize_ar(1, 2),     summarize_ar(2, 2),     summarize_ar(3, 2)};
  for (size_t k = 0; k < nk; ++k) {
    double sum = 0, sum50 = 0;
    int64_t n = 0, n50 = 0;
    for (size_t t = 0; t < kNumIou; ++t) {
      for (size_t r = 0; r < kNumRec; ++r) {
        const double v = acc.precision[acc.pidx(t, r, k, 0, 2)];
        if (v > -1) {
          sum += v;
          ++n;
          if (t == 0) {
            sum50 += v;
            ++n50;
          }
        }
      }
    }
    s.class_ap.push_back(n ? sum / static_cast<double>(n) : -1.0);
    s.class_ap50.push_back(n50 ? sum50 / static_cast<double>(n50) : -1.0);
  }
  // Bootstrap replicates: the images drawn with replacement, each counted as often as drawn.
  if (bootstrap > 0) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t kk = 0; kk < static_cast<int64_t>(nk); ++kk) {
      auto& cat = categories[static_cast<size_t>(kk)];
      rank_entries(cat.evals, static_cast<size_t>(kMaxDets.back()), [](size_t) { return false; },
                   cat.by_score);
    }
  }
  const size_t n_images = ids.size();
  std::vector<double> weights(n_images);
  for (int64_t r = 0; r < bootstrap && n_images > 0; ++r) {
    std::fill(weights.begin(), weights.end(), 0.0);
    for (size_t i = 0; i < n_images; ++i) {
      const uint64_t draw = splitmix64(kBootstrapSeed + static_cast<uint64_t>(r) * n_images + i);
      weights[draw % n_images] += 1;
    }
    accumulate(categories, weights, true, acc);
    s.bootstrap.push_back({acc.ap(-1, 0, 2), acc.ap(0, 0, 2), acc.ap(5, 0, 2)});
  }
  return s;
}

}  // namespace eval
}  // namespace focalab::harness
