// Golden trial keys: the canonical config JSON of a trial and its key (FNV-1a 64 of that JSON)
// name the trial in every results database, so a refactoring of the config code (the field
// table, enums instead of strings, another JSON writer) must leave both byte for byte as they
// are. The expected values were printed by `focalab sweep plan FILE` (and `--print-config 2` for
// the JSON) with the code that made the databases of docs/REPRODUCTION.md.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/config/config.h"
#include "harness/config/sweep.h"

namespace focalab::harness {
namespace {

std::vector<TrialSpec> trials_of(const std::string& relative) {
  return expand_sweep(load_sweep(std::string(FOCALAB_SOURCE_DIR) + "/" + relative),
                      InputCheck::kList);
}

std::vector<std::string> first_keys(const std::string& relative, size_t n) {
  std::vector<std::string> keys;
  for (const auto& t : trials_of(relative)) {
    if (keys.size() < n) keys.push_back(t.key);
  }
  return keys;
}

TEST(TrialKey, QuickSweepConfigJsonIsPinned) {
  const auto trials = trials_of("experiments/mini/quick.yaml");
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_EQ(trials[2].config_json,
            R"({"data.kind":"synthetic","data.image_size":128,"data.num_classes":4,)"
            R"("data.train_images":4096,"data.val_images":256,"data.min_objects":1,)"
            R"("data.max_objects":4,"data.min_object_size":12,"data.max_object_size":64,)"
            R"("data.clutter":0.5,"data.noise":0.03,"data.class_imbalance":0,"data.distractors":0,)"
            R"("data.max_overlap":0.3,"data.seed":0,"data.train.annotations":"",)"
            R"("data.train.images":"","data.val.annotations":"","data.val.images":"",)"
            R"("data.min_size":800,"data.max_size":1333,"data.keep_empty":false,)"
            R"("data.on_bad":"skip","data.flip":0.5,"model.backbone":"tiny","model.norm":"bn",)"
            R"("model.frozen_stages":0,"model.backbone_weights":"","model.fpn_channels":64,)"
            R"("model.p6_from":"c5","model.head_convs":2,"model.head_norm":"gn",)"
            R"("model.prior_prob":0.01,"model.anchor_sizes":[16,32,64,128,256],)"
            R"("model.anchor_integer_sizes":false,"model.scales_per_octave":3,)"
            R"("model.aspect_ratios":[0.5,1,2],"model.fg_iou":0.5,"model.bg_iou":0.4,)"
            R"("model.box_weights":[1,1,1,1],"model.low_quality":"above_bg",)"
            R"("model.score_thresh":0.05,"model.topk_candidates":1000,"model.nms_thresh":0.5,)"
            R"("model.detections_per_image":100,"loss.kind":"focal","loss.gamma":2,)"
            R"("loss.alpha":0.25,"loss.gamma_star":4,"loss.beta":0,"loss.ohem_batch_size":256,)"
            R"("loss.ohem_nms":0.7,"loss.ohem_pos_fraction":0,"loss.normalizer":"num_pos",)"
            R"("loss.box_beta":0.11,"loss.hard_score":0.05,"train.iterations":500,)"
            R"("train.batch_size":8,"train.lr":0.04,"train.momentum":0.9,)"
            R"("train.weight_decay":0.0001,"train.warmup_iters":100,)"
            R"("train.warmup_factor":0.3333333333333333,"train.lr_steps":[400,470],)"
            R"("train.lr_gamma":0.1,"train.clip_grad_norm":0,"train.log_every":20,"seed":1})");
  EXPECT_EQ(trials[0].key, "12b3a042596b4d59");
  EXPECT_EQ(trials[1].key, "3e5f5e9304b98d82");
  EXPECT_EQ(trials[2].key, "44f8a233d3e21a33");
}

TEST(TrialKey, AwkwardValuesKeepTheirBytes) {
  // Numbers whose shortest decimal some JSON writers miss (3.638e-10 is written
  // 3.6380000000000003e-10 by a Grisu2 writer), an integral double, a huge one, a list with
  // 0.1 + 0.2, and strings with quotes, a backslash, a tab, a control byte and UTF-8: the bytes
  // below were printed by the writer that made the existing databases.
  TrialConfig c;
  c.train.lr = 3.638e-10;
  c.model.prior_prob = 0.00569690317848;
  c.loss.gamma = 3.0;
  c.train.weight_decay = 1e21;
  c.model.aspect_ratios = {0.1, 0.2, 0.1 + 0.2};
  c.data.train_annotations = "dir \"q\"/a\\b\tc\x01-\u00e9\u03b3.json";
  const std::string json = config_to_json(c);
  auto field = [&](const std::string& key) {
    const auto at = json.find("\"" + key + "\":");
    if (at == std::string::npos) return std::string("(missing)");
    const auto from = at + key.size() + 3;
    size_t to = from;
    if (json[from] == '[') {
      to = json.find(']', from) + 1;
    } else if (json[from] == '"') {
      for (to = from + 1; json[to] != '"'; ++to) to += json[to] == '\\';
      ++to;
    } else {
      to = json.find_first_of(",}", from);
    }
    return json.substr(from, to - from);
  };
  EXPECT_EQ(field("train.lr"), "3.638e-10");
  EXPECT_EQ(field("model.prior_prob"), "0.00569690317848");
  EXPECT_EQ(field("loss.gamma"), "3");
  EXPECT_EQ(field("train.weight_decay"), "1e+21");
  EXPECT_EQ(field("model.aspect_ratios"), "[0.1,0.2,0.30000000000000004]");
  EXPECT_EQ(field("data.train.annotations"), R"("dir \"q\"/a\\b\tc\u0001-éγ.json")");
  EXPECT_EQ(fnv1a_hex(json), "6753dc4e57e7c306");
}

TEST(TrialKey, PaperRegimeQuickSweepKeysArePinned) {
  // experiments/quick.yaml on the paper-regime preset, 1,600 iterations without the learning-rate
  // steps (`jobs:` stays out of the key); the keys of the README's table
  EXPECT_EQ(first_keys("experiments/quick.yaml", 3),
            (std::vector<std::string>{"6ecededf09f15365", "708ab5fb0c04197e", "d192ce94dffa2381"}));
}

TEST(TrialKey, MiniAndRegimeSweepKeysArePinned) {
  // seeds, gamma/alpha pairs, canonicalized loss keys (ce: alpha -1), FL* keys
  EXPECT_EQ(first_keys("experiments/mini/table1b_gamma.yaml", 5),
            (std::vector<std::string>{"db861471cc61efad", "db831471cc5fb9d6", "db7f1071cc5bca33",
                                      "167143a0c14be072", "167443a0c14e1649"}));
  EXPECT_EQ(first_keys("experiments/mini/appendix_fl_star.yaml", 2),
            (std::vector<std::string>{"767440819cf4b485", "767040819cf0cbae"}));
  // the paper-regime preset (data.class_colors, a key added after the first databases)
  EXPECT_EQ(first_keys("experiments/regime/prior_init.yaml", 5),
            (std::vector<std::string>{"25b978770ac9a226", "25bc78770acbd7fd", "25c074770acfba08",
                                      "dbbbc0e8de80dbcb", "dbc6c0e8de8ae350"}));
}

TEST(TrialKey, CocoSweepKeysArePinned) {
  // COCO data (paths relative to data.root, which stays out of the key), OHEM's keys
  EXPECT_EQ(first_keys("experiments/paper/table1a_alpha.yaml", 2),
            (std::vector<std::string>{"6b8ae311f05f5c6e", "7fdab16b219d8300"}));
  EXPECT_EQ(first_keys("experiments/paper/table1b_gamma.yaml", 2),
            (std::vector<std::string>{"a7e9cc351415d9b7", "9904f560ed7297f6"}));
  EXPECT_EQ(first_keys("experiments/paper/table1d_ohem.yaml", 2),
            (std::vector<std::string>{"e12a7c4617a53345", "1d1f3e846ee69741"}));
}

}  // namespace
}  // namespace focalab::harness
