#include "harness/config/config.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "harness/config/presets.h"
#include "harness/config/sweep.h"
#include "harness/util/errors.h"
#include "test_util.h"

namespace focalab::harness {
namespace {

using focalab::testing::TempDir;

// Runs `fn` and returns the ConfigError message ("" if none was thrown).
template <class F>
std::string config_error(F fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, ParsesSectionsCasesGridAndSeeds) {
  TempDir dir;
  auto path = dir.write("s.yaml", R"(name: demo
loss: {kind: focal, gamma: 2.0, alpha: 0.25}
train:
  iterations: 50
  lr_steps: [30, 40]
sweep:
  cases:
    - {loss.kind: ce}
    - {loss: {kind: focal, gamma: 1.0}}
  grid: {model.prior_prob: [0.01, 0.1]}
  seeds: [1, 2]
)");
  auto spec = load_sweep(path);
  EXPECT_EQ(spec.name, "demo");
  EXPECT_EQ(spec.base.train.iterations, 50);
  EXPECT_EQ(spec.base.train.lr_steps, (std::vector<int64_t>{30, 40}));
  auto trials = expand_sweep(spec);
  ASSERT_EQ(trials.size(), 2u * 2u * 2u);
  // CE is canonicalized: no gamma, no alpha.
  EXPECT_EQ(trials[0].config.loss.kind, LossKind::kCe);
  EXPECT_EQ(trials[0].config.loss.gamma, 0.0);
  EXPECT_EQ(trials[0].config.loss.alpha, -1.0);
  EXPECT_DOUBLE_EQ(trials[0].config.model.prior_prob, 0.01);
  EXPECT_EQ(trials[1].config.seed, 2);
  EXPECT_DOUBLE_EQ(trials[2].config.model.prior_prob, 0.1);
  EXPECT_EQ(trials[4].config.loss.gamma, 1.0);
  EXPECT_EQ(trials[4].config.loss.alpha, 0.25);  // inherited from the top-level loss
  // Keys are stable and distinct.
  EXPECT_EQ(trials[0].key.size(), 16u);
  EXPECT_NE(trials[0].key, trials[1].key);
  EXPECT_EQ(expand_sweep(load_sweep(path))[5].key, trials[5].key);
  std::vector<TrialConfig> configs;
  for (const auto& t : trials) configs.push_back(t.config);
  EXPECT_EQ(varied_keys(configs),
            (std::vector<std::string>{"model.prior_prob", "loss.kind", "loss.gamma", "loss.alpha"}));
}

TEST(Config, UnknownKeyNamesFileLineAndSuggestion) {
  TempDir dir;
  auto path = dir.write("bad.yaml", "name: x\nloss:\n  kind: focal\n  gama: 2\n");
  auto msg = config_error([&] { load_sweep(path); });
  EXPECT_NE(msg.find("bad.yaml:4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("loss.gama"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'loss.gamma'"), std::string::npos) << msg;
}

TEST(Config, WrongTypesAndRangesAreRejected) {
  TempDir dir;
  auto msg = config_error([&] { load_sweep(dir.write("a.yaml", "loss: {gamma: -1}\n")); });
  EXPECT_NE(msg.find("loss.gamma: -1 is out of range; allowed: a number in [0, 20]"),
            std::string::npos) << msg;
  msg = config_error([&] { load_sweep(dir.write("b.yaml", "train: {iterations: 2.5}\n")); });
  EXPECT_NE(msg.find("'2.5' is not an integer"), std::string::npos) << msg;
  msg = config_error([&] { load_sweep(dir.write("c.yaml", "loss: {kind: focl}\n")); });
  EXPECT_NE(msg.find("allowed: one of ce, alpha_ce, focal, focal_star, ohem (did you mean 'focal'?)"),
            std::string::npos) << msg;
  msg = config_error([&] { load_sweep(dir.write("d.yaml", "train: {lr: .nan}\n")); });
  EXPECT_NE(msg.find("not finite"), std::string::npos) << msg;
  msg = config_error([&] { load_sweep(dir.write("e.yaml", "loss: [1, 2\n")); });
  EXPECT_NE(msg.find("YAML syntax error"), std::string::npos) << msg;
  msg = config_error([&] { load_sweep(dir.write("f.yaml", "")); });
  EXPECT_NE(msg.find("empty sweep file"), std::string::npos) << msg;
  msg = config_error([&] { load_sweep(dir.file("missing.yaml")); });
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

TEST(Config, CrossFieldChecksRunAtExpansion) {
  TempDir dir;
  auto spec = load_sweep(dir.write("x.yaml", "model: {fg_iou: 0.3, bg_iou: 0.4}\n"));
  auto msg = config_error([&] { expand_sweep(spec); });
  EXPECT_NE(msg.find("bg_iou (0.4) must be <= fg_iou (0.3)"), std::string::npos) << msg;
}

TEST(Config, BaseInheritanceAndCycles) {
  TempDir dir;
  dir.write("base.yaml", "train: {iterations: 77, lr: 0.05}\nloss: {kind: alpha_ce, alpha: 0.5}\n");
  auto spec = load_sweep(dir.write("child.yaml", "base: base.yaml\ntrain: {lr: 0.1}\n"));
  EXPECT_EQ(spec.base.train.iterations, 77);
  EXPECT_DOUBLE_EQ(spec.base.train.lr, 0.1);
  EXPECT_EQ(spec.base.loss.kind, LossKind::kAlphaCe);
  dir.write("a.yaml", "base: b.yaml\n");
  dir.write("b.yaml", "base: a.yaml\n");
  auto msg = config_error([&] { load_sweep(dir.file("a.yaml")); });
  EXPECT_NE(msg.find("cycle a.yaml -> b.yaml -> a.yaml"), std::string::npos) << msg;
}

TEST(Config, CommandLineOverridesWinAndAreValidated) {
  TempDir dir;
  auto path = dir.write("s.yaml", "sweep: {cases: [{loss.gamma: 1}, {loss.gamma: 2}]}\n");
  auto spec = load_sweep(path, {"train.iterations=12", "train.lr_steps=[5,10]"});
  auto trials = expand_sweep(spec);
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[1].config.train.iterations, 12);
  EXPECT_EQ(trials[1].config.train.lr_steps, (std::vector<int64_t>{5, 10}));
  auto msg = config_error([&] { load_sweep(path, {"train.iteration=3"}); });
  EXPECT_NE(msg.find("did you mean 'train.iterations'"), std::string::npos) << msg;
  msg = config_error([&] { load_sweep(path, {"novalue"}); });
  EXPECT_NE(msg.find("must look like key=value"), std::string::npos) << msg;
}

// data.root: relative data.train / data.val paths are below it; it is not part of the trial key,
// so the same dataset mounted elsewhere gives the same trials.
// yaml-cpp refuses nesting deeper than 500 levels (its parser recurses once a level) with the
// message "bad file"; focalab says what is wrong, on one line that does not echo the input.
TEST(Config, DeepYamlNestingIsAOneLineError) {
  TempDir dir;
  const int n = 100000;
  std::string flow_maps = "name: deep\nloss: ", lists = "name: deep\nloss:\n  ";
  for (int k = 0; k < n; ++k) flow_maps += "{a: ";
  flow_maps += "1" + std::string(n, '}') + "\n";
  for (int k = 0; k < n; ++k) lists += "- ";
  std::string block = "name: deep\nloss:\n";
  for (int k = 1; k <= 600; ++k) block += std::string(k, ' ') + "a:\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"flow_maps.yaml", flow_maps},
      {"flow_lists.yaml", "name: deep\nloss: " + std::string(n, '[') + std::string(n, ']')},
      {"block_lists.yaml", lists + "x\n"},
      {"block_maps.yaml", block + std::string(601, ' ') + "1\n"},
      {"unclosed.yaml", "name: deep\nloss: " + std::string(n, '{')},
  };
  for (const auto& [name, text] : cases) {
    SCOPED_TRACE(name);
    const std::string msg = config_error([&] { load_sweep(dir.write(name, text)); });
    EXPECT_NE(msg.find(dir.file(name) + ":"), std::string::npos) << msg;
    EXPECT_NE(msg.find("YAML syntax error: nested deeper than 500 levels"), std::string::npos)
        << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  // the same through an override: the value is not repeated in full
  const std::string path = dir.write("ok.yaml", "name: ok\n");
  const std::string msg = config_error(
      [&] { load_sweep(path, {"loss.gamma=" + std::string(60000, '[')}); });
  EXPECT_NE(msg.find("loss.gamma: cannot parse value '[[[["), std::string::npos) << msg;
  EXPECT_NE(msg.find("nested deeper than 500 levels"), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 300u) << msg;
}

TEST(Config, DataRootResolvesRelativePathsAndStaysOutOfTheKey) {
  TempDir a, b, dir;
  for (TempDir* d : {&a, &b}) {
    for (const char* sub : {"annotations", "train2017", "val2017"}) {
      std::filesystem::create_directories(d->file(sub));
    }
    d->write("annotations/instances_train.json", "{}");
    d->write("annotations/instances_val.json", "{}");
  }
  auto path = dir.write("paper.yaml",
                        "data:\n  kind: coco\n"
                        "  train: {annotations: annotations/instances_train.json, images: "
                        "train2017}\n"
                        "  val: {annotations: annotations/instances_val.json, images: val2017}\n");
  auto at_a = expand_sweep(load_sweep(path, {"data.root=" + a.file("")}));
  auto at_b = expand_sweep(load_sweep(path, {"data.root=" + b.file("")}));
  ASSERT_EQ(at_a.size(), 1u);
  ASSERT_EQ(at_b.size(), 1u);
  EXPECT_EQ(at_a[0].key, at_b[0].key);
  EXPECT_EQ(at_a[0].config_json.find("data.root"), std::string::npos) << at_a[0].config_json;
  const auto& data = at_a[0].config.data;
  EXPECT_EQ(data.resolve(data.train_annotations), a.file("annotations/instances_train.json"));
  EXPECT_EQ(data.resolve("/abs/x.json"), "/abs/x.json");
  DataConfig no_root;
  EXPECT_EQ(no_root.resolve("rel/x.json"), "rel/x.json");
  // Without data.root the relative paths are looked up in the working directory, and the error
  // says how to point elsewhere.
  try {
    expand_sweep(load_sweep(path));
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("data.train.annotations: no such file 'annotations/instances_train.json' "
                       "(relative to the working directory; set data.root=DIR"),
              std::string::npos)
        << msg;
  }
}

TEST(Config, EveryFieldHasHelpAndDefault) {
  auto fields = config_fields();
  EXPECT_GT(fields.size(), 40u);
  for (const auto& f : fields) {
    EXPECT_FALSE(f.help.empty()) << f.path;
    EXPECT_FALSE(f.default_value.empty()) << f.path;
  }
}

// The closed sets: each value's YAML spelling parses back to it, and the field table offers
// exactly those spellings.
template <class E>
void expect_round_trip(const std::string& key, size_t count) {
  const auto names = names_of<E>();
  ASSERT_EQ(names.size(), count) << key;
  for (size_t i = 0; i < count; ++i) {
    EXPECT_EQ(enum_named<E>(names[i]), static_cast<E>(i)) << key << " " << names[i];
    EXPECT_EQ(std::string(name_of(static_cast<E>(i))), names[i]);
  }
  EXPECT_FALSE(enum_named<E>("bogus").has_value());
  const auto fields = config_fields();
  const auto f = std::find_if(fields.begin(), fields.end(),
                              [&](const FieldInfo& x) { return x.path == key; });
  ASSERT_NE(f, fields.end()) << key;
  std::string allowed = "one of ";
  for (size_t i = 0; i < count; ++i) allowed += (i ? ", " : "") + names[i];
  EXPECT_EQ(f->allowed, allowed);
}

TEST(Config, EnumsRoundTripTheirSpellings) {
  expect_round_trip<DataKind>("data.kind", 2);
  expect_round_trip<OnBad>("data.on_bad", 2);
  expect_round_trip<BackboneKind>("model.backbone", 5);
  expect_round_trip<BackboneNorm>("model.norm", 2);
  expect_round_trip<P6From>("model.p6_from", 2);
  expect_round_trip<HeadNormKind>("model.head_norm", 2);
  expect_round_trip<LowQuality>("model.low_quality", 3);
  expect_round_trip<LossKind>("loss.kind", 5);
  expect_round_trip<LossNormalizer>("loss.normalizer", 4);
  expect_round_trip<AmpMode>("train.amp", 3);
}

// The flags on the field table decide what applies where: `config keys` says it, finalize_config
// resets what does not apply, and the trial key ignores the keys that are how, not what.
TEST(Config, FieldFlagsDecideApplicabilityCanonicalFormAndKey) {
  std::map<std::string, std::string> applies;
  for (const auto& f : config_fields()) applies[f.path] = f.applies;
  EXPECT_EQ(applies["data.image_size"], "synthetic");
  EXPECT_EQ(applies["data.on_bad"], "coco");
  EXPECT_EQ(applies["loss.gamma"], "focal");
  EXPECT_EQ(applies["loss.alpha"], "alpha_ce/focal/focal_star");
  EXPECT_EQ(applies["loss.ohem_nms"], "ohem");
  EXPECT_EQ(applies["loss.normalizer"], "");
  EXPECT_EQ(applies["train.lr"], "");
  EXPECT_TRUE(loss_key_applies(LossKind::kFocalStar, "loss.beta"));
  EXPECT_FALSE(loss_key_applies(LossKind::kFocal, "loss.beta"));
  EXPECT_FALSE(loss_key_applies("ce", "loss.alpha"));
  EXPECT_TRUE(loss_key_applies("not_a_loss", "loss.alpha"));  // an unknown stored spelling

  TrialConfig ce;
  ce.loss.kind = LossKind::kCe;
  ce.loss.gamma = 3;          // unused by CE: canonical 0
  ce.loss.alpha = 0.5;        // unused by CE: canonical -1
  ce.loss.ohem_nms = 0.3;     // unused by CE: the default
  ce.data.min_size = 600;     // a coco key of synthetic data: the default
  finalize_config(ce, "test");
  EXPECT_EQ(ce.loss.gamma, 0);
  EXPECT_EQ(ce.loss.alpha, -1);
  EXPECT_EQ(ce.loss.ohem_nms, TrialConfig().loss.ohem_nms);
  EXPECT_EQ(ce.data.min_size, TrialConfig().data.min_size);

  TrialConfig a, b;
  b.data.workers = 7;             // not in the key
  b.train.checkpoint_every = 13;  // not in the key
  EXPECT_EQ(config_to_json(a), config_to_json(b));
  b.train.lr = 0.02;
  EXPECT_NE(config_to_json(a), config_to_json(b));
}

// The presets compiled into focalab are the files in experiments/configs/, byte for byte in
// effect: each gives the same resolved config as loading its file (base: chain included).
TEST(Presets, CompiledInEqualTheFiles) {
  const auto names = preset_names();
  ASSERT_GE(names.size(), 2u);
  EXPECT_NE(std::find(names.begin(), names.end(), "tiny"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "paper_regime"), names.end());
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const auto file =
        load_sweep(std::string(FOCALAB_SOURCE_DIR) + "/experiments/configs/" + name + ".yaml");
    EXPECT_EQ(config_to_json(preset_config(name)), config_to_json(file.base));
  }
  EXPECT_EQ(preset_config("tiny").model.backbone, BackboneKind::kTiny);
  // paper_regime.yaml names tiny.yaml as its base: its own keys over the tiny preset's.
  EXPECT_EQ(preset_config("paper_regime").data.num_classes, 102);
  EXPECT_EQ(preset_config("paper_regime").model.head_norm, HeadNormKind::kGroupNorm);
  EXPECT_THROW(preset_config("nosuch"), UsageError);
}

}  // namespace
}  // namespace focalab::harness
