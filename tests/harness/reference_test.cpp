#include "harness/config/reference.h"

#include "harness/config/sweep.h"
#include "harness/util/errors.h"
#include "test_util.h"

namespace focalab::harness {
namespace {

// The shipped tables carry the paper's numbers (Lin et al. 2017, Table 1 and Table 3).
TEST(Reference, ShippedTablesHoldThePapersNumbers) {
  const auto& t1b = find_reference("lin2017/table1b");
  ASSERT_EQ(t1b.rows.size(), 8u);  // 7 gamma rows; gamma 0 twice (focal and alpha_ce)
  EXPECT_EQ(t1b.rows[6].label, "gamma 2.0, alpha .25");
  EXPECT_DOUBLE_EQ(t1b.rows[6].metrics.at("AP"), 34.0);
  EXPECT_DOUBLE_EQ(t1b.rows[6].metrics.at("AP50"), 52.5);
  EXPECT_DOUBLE_EQ(t1b.rows[6].metrics.at("AP75"), 36.5);
  EXPECT_EQ(find_reference("lin2017/table1a").rows.size(), 8u);
  EXPECT_EQ(find_reference("lin2017/table1c").rows.size(), 7u);
  EXPECT_EQ(find_reference("lin2017/table1d").rows.size(), 10u);
  // OHEM 1:3 at batch 256: 28.3 AP.
  TrialConfig ohem;
  ohem.loss.kind = LossKind::kOhem;
  ohem.loss.ohem_batch_size = 256;
  ohem.loss.ohem_nms = 0.5;
  ohem.loss.ohem_pos_fraction = 0.25;
  finalize_config(ohem, "test");
  ASSERT_NE(match_reference(find_reference("lin2017/table1d"), ohem), nullptr);
  EXPECT_DOUBLE_EQ(match_reference(find_reference("lin2017/table1d"), ohem)->metrics.at("AP"), 28.3);
  // A CE trial is not an anchor-ablation row of Table 1(c) (those are FL, gamma 2).
  TrialConfig ce;
  ce.loss.kind = LossKind::kCe;
  finalize_config(ce, "test");
  EXPECT_EQ(match_reference(find_reference("lin2017/table1c"), ce), nullptr);
  EXPECT_DOUBLE_EQ(find_reference("lin2017/table1e").rows[9].metrics.at("ms"), 198);
  EXPECT_EQ(find_reference("lin2017/table3").rows.size(), 4u);
  // Table 1(e) rows match by depth and scale; the prior-init rows by the prior.
  TrialConfig r101;
  r101.data.kind = DataKind::kCoco;
  r101.model.backbone = BackboneKind::kResNet101;
  r101.data.min_size = 700;
  ASSERT_NE(match_reference(find_reference("lin2017/table1e"), r101), nullptr);
  EXPECT_DOUBLE_EQ(match_reference(find_reference("lin2017/table1e"), r101)->metrics.at("ms"), 154);
  TrialConfig ce_no_prior;
  ce_no_prior.loss.kind = LossKind::kCe;
  ce_no_prior.model.prior_prob = 0;
  const auto* row = match_reference(find_reference("lin2017/prior_init"), ce_no_prior);
  ASSERT_NE(row, nullptr);
  EXPECT_TRUE(row->metrics.empty());
  ce_no_prior.model.prior_prob = 0.01;
  EXPECT_DOUBLE_EQ(match_reference(find_reference("lin2017/prior_init"), ce_no_prior)->metrics.at("AP"), 30.2);
}

TEST(Reference, MatchesTrialsByConfig) {
  const auto& t1b = find_reference("lin2017/table1b");
  TrialConfig focal;
  focal.loss.kind = LossKind::kFocal;
  focal.loss.gamma = 2.0;
  focal.loss.alpha = 0.25;
  const auto* row = match_reference(t1b, focal);
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->label, "gamma 2.0, alpha .25");
  // alpha-balanced CE at .75 is the gamma = 0 row (canonical gamma 0).
  TrialConfig ace;
  ace.loss.kind = LossKind::kAlphaCe;
  ace.loss.alpha = 0.75;
  finalize_config(ace, "test");
  ASSERT_NE(match_reference(t1b, ace), nullptr);
  EXPECT_DOUBLE_EQ(match_reference(t1b, ace)->metrics.at("AP"), 31.1);
  focal.loss.alpha = 0.3;
  EXPECT_EQ(match_reference(t1b, focal), nullptr);
  // Lists match element-wise: 2 scales x 3 ratios is the paper's 34.2 AP.
  TrialConfig anchors;
  anchors.model.scales_per_octave = 2;
  EXPECT_DOUBLE_EQ(match_reference(find_reference("lin2017/table1c"), anchors)->metrics.at("AP"), 34.2);
}

TEST(Reference, UnknownTableIsAConfigErrorWithSuggestion) {
  try {
    find_reference("lin2017/table1x");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("known: lin2017/table1a"), std::string::npos) << e.what();
  }
  focalab::testing::TempDir dir;
  auto path = dir.write("s.yaml", "reference: lin2017/tabel1b\n");
  try {
    load_sweep(path);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("s.yaml:1: reference: unknown reference table "
                                         "'lin2017/tabel1b' (did you mean 'lin2017/table1b'?)"),
              std::string::npos)
        << e.what();
  }
}

// Configs survive the round trip through the database's JSON.
TEST(Reference, ConfigFromJsonRoundTrips) {
  TrialConfig c;
  c.loss.kind = LossKind::kCe;
  c.model.anchor_sizes = {16, 32, 64, 128, 256};
  c.train.lr_steps = {5, 9};
  c.seed = 7;
  finalize_config(c, "test");
  const auto json = config_to_json(c);
  EXPECT_EQ(config_to_json(config_from_json(json)), json);
}

}  // namespace
}  // namespace focalab::harness
