// Claims in a sweep file (harness/config/claims.h): what parses, what each error says (file:line,
// the key, what is allowed), and that a claim must name configurations the sweep has.
#include "harness/config/claims.h"

#include <gtest/gtest.h>

#include "harness/config/sweep.h"
#include "harness/util/errors.h"
#include "test_util.h"

namespace focalab::harness {
namespace {

using focalab::testing::TempDir;

const char* kSweep = R"(name: c
sweep:
  cases:
    - {loss.kind: alpha_ce, loss.alpha: 0.75}
    - {loss.kind: alpha_ce, loss.alpha: 0.25}
    - {loss.kind: focal, loss.gamma: 0}
    - {loss.kind: focal, loss.gamma: 1}
    - {loss.kind: focal, loss.gamma: 2}
  seeds: [1, 2]
)";

std::string error_of(const std::string& claims) {
  TempDir dir;
  const auto path = dir.write("s.yaml", std::string(kSweep) + claims);
  try {
    expand_sweep(load_sweep(path), InputCheck::kList);
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    const auto at = msg.find(path);
    return at == std::string::npos ? msg : "s.yaml" + msg.substr(at + path.size());
  }
  return "";
}

TEST(Claims, ParseEachKindWithItsOptions) {
  TempDir dir;
  const auto path = dir.write("s.yaml", std::string(kSweep) + R"(claims:
  - better: {loss.kind: focal, loss.gamma: 2}
    than: {loss.kind: alpha_ce, loss.alpha: .75}
    metric: AP50
  - peak: loss.gamma
    where: {loss.kind: focal}
    at: 1
  - collapses: {loss.kind: alpha_ce, loss.alpha: 0.25}
    below: 0.2
  - diverges: {loss.kind: focal, loss.gamma: 0}
  - close: {loss.kind: focal, loss.gamma: 1}
    to: {loss.kind: focal, loss.gamma: 2}
    within: 1.5
)");
  const auto spec = load_sweep(path);
  ASSERT_TRUE(spec.claims.IsSequence());
  const auto claims = parse_claims(spec.claims, spec.claims_file);
  ASSERT_EQ(claims.size(), 5u);
  EXPECT_EQ(claims[0].kind, ClaimKind::kBetter);
  EXPECT_EQ(claims[0].metric, "AP50");
  EXPECT_EQ(claims[0].text(),
            "loss.kind=focal, loss.gamma=2 better than loss.kind=alpha_ce, loss.alpha=0.75 (AP50)");
  EXPECT_EQ(claims[0].origin, path + ":11");
  EXPECT_EQ(claims[1].text(), "AP peaks over loss.gamma at 1 (loss.kind=focal)");
  EXPECT_EQ(claims[2].text(), "loss.kind=alpha_ce, loss.alpha=0.25 collapses (AP below 0.2 x the best)");
  EXPECT_DOUBLE_EQ(claims[2].below, 0.2);
  EXPECT_EQ(claims[3].text(), "loss.kind=focal, loss.gamma=0 diverges");
  EXPECT_EQ(claims[4].kind, ClaimKind::kClose);
  EXPECT_DOUBLE_EQ(claims[4].within, 1.5);
  EXPECT_EQ(claims[4].text(),
            "loss.kind=focal, loss.gamma=1 close to loss.kind=focal, loss.gamma=2 (AP within 1.5)");
  EXPECT_EQ(expand_sweep(spec, InputCheck::kList).size(), 10u);  // check_claims passes
  // Typed matching: .75 is 0.75; a focal trial's gamma 2 is 2.0.
  TrialConfig c;
  c.loss.kind = LossKind::kAlphaCe;
  c.loss.alpha = 0.75;
  finalize_config(c, "test");
  EXPECT_TRUE(claims[0].than.matches(c));
  EXPECT_FALSE(claims[0].subject.matches(c));
}

TEST(Claims, ErrorsNameFileLineKeyAndWhatIsAllowed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"claims: {better: x}\n", "s.yaml:10: claims: expected a list of claims"},
      {"claims:\n  - {than: {loss.kind: ce}}\n",
       "s.yaml:11: claims: a claim has exactly one of better, peak, collapses, diverges, close (this "
       "one: none)"},
      {"claims:\n  - {better: {loss.kind: ce}, peak: loss.gamma}\n",
       "a claim has exactly one of better, peak, collapses, diverges, close (this one: better, peak)"},
      {"claims:\n  - better: {loss.kind: focal, loss.gamma: 2}\n",
       "s.yaml:11: claims.better: needs than: {the configuration it beats}"},
      {"claims:\n  - diverges: {loss.kind: focal, loss.gamma: 0}\n    below: 0.1\n",
       "s.yaml:12: claims.diverges: unknown key 'below'; allowed with diverges: nothing else"},
      {"claims:\n  - collapses: {loss.kind: focal, loss.gamma: 0}\n    metric: mAP\n",
       "s.yaml:12: claims.collapses.metric: 'mAP': allowed AP, AP50, AP75, APs, APm, APl"},
      {"claims:\n  - collapses: {loss.kind: focal, loss.gamma: 0}\n    below: 2\n",
       "claims.collapses.below: '2': expected a fraction of the best configuration's AP, in (0, 1)"},
      {"claims:\n  - diverges: {loss.gama: 0}\n", "loss.gama"},
      {"claims:\n  - close: {loss.kind: focal, loss.gamma: 2}\n",
       "s.yaml:11: claims.close: needs to: {the configuration it is close to}"},
      {"claims:\n  - close: {loss.kind: focal, loss.gamma: 2}\n    to: {loss.kind: ce}\n"
       "    within: -1\n",
       "claims.close.within: '-1': expected the largest difference in AP that counts as close, a "
       "number in (0, 100)"},
      {"claims:\n  - close: {loss.kind: focal, loss.gamma: 2}\n    than: {loss.kind: ce}\n",
       "claims.close: unknown key 'than'; allowed with close: to, within, metric"},
      {"claims:\n  - diverges: {loss.kind: sgd}\n", "(in claims: claims.diverges)"},
      {"claims:\n  - diverges: [loss.kind]\n",
       "s.yaml:11: claims.diverges: expected a mapping of config keys to values"},
      {"claims:\n  - peak: loss.gamut\n", "claims.peak"},
      // Claims must name configurations the sweep has.
      {"claims:\n  - diverges: {loss.kind: focal}\n",
       "s.yaml:11: claims.diverges: loss.kind=focal selects 3 configurations of the sweep (seeds "
       "aside); it must select one"},
      {"claims:\n  - better: {loss.kind: focal, loss.gamma: 5}\n    than: {loss.kind: ce}\n",
       "claims.better: loss.kind=focal, loss.gamma=5 selects 0 configurations"},
      {"claims:\n  - peak: loss.alpha\n    where: {loss.kind: alpha_ce}\n",
       "s.yaml:11: claims.peak: loss.alpha takes 2 value(s) among loss.kind=alpha_ce; a peak needs 3 "
       "or more"},
      {"claims:\n  - peak: loss.gamma\n",
       "claims.peak: all has several configurations with loss.gamma = 0; narrow `where` to one per "
       "value"},
      {"claims:\n  - peak: loss.gamma\n    where: {loss.kind: focal}\n    at: 5\n",
       "claims.peak.at: loss.gamma = 5 is not among the sweep's values (0, 1, 2)"},
      {"claims:\n  - peak: loss.kind\n    where: {loss.alpha: 0.25}\n",
       "claims.peak: loss.kind is not a number"},
  };
  for (const auto& [yaml, says] : cases) {
    const std::string msg = error_of(yaml);
    EXPECT_NE(msg.find(says), std::string::npos) << yaml << "\n-> " << msg;
  }
  EXPECT_EQ(error_of(""), "");
}

// Command-line overrides may make a claim miss (loss.gamma=1 for every trial: no gamma 2 left):
// the sweep still runs; the report's verdict on that claim is inconclusive.
TEST(Claims, OverridesThatMakeAClaimMissAreNotAnError) {
  TempDir dir;
  const auto path = dir.write("s.yaml", std::string(kSweep) + R"(claims:
  - better: {loss.kind: focal, loss.gamma: 2}
    than: {loss.kind: alpha_ce, loss.alpha: 0.75}
)");
  ::testing::internal::CaptureStderr();
  const auto trials = expand_sweep(load_sweep(path, {"loss.gamma=1"}), InputCheck::kList);
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(trials.size(), 6u);  // alpha-CE .75 and .25, focal at gamma 1 (three cases merged)
  EXPECT_NE(said.find("warning: " + path + ":11: claims.better: loss.kind=focal, loss.gamma=2 "
                      "selects 0 configurations"),
            std::string::npos) << said;
  EXPECT_NE(said.find("after the command-line overrides: its verdict will be inconclusive"),
            std::string::npos) << said;
}

}  // namespace
}  // namespace focalab::harness
