#include "nextmini/messages/link_params_rules.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace nextmini::messages {
namespace {

// The message of the rule `params` breaks ("" when it breaks none).
std::string broken_rule(const LinkParams& params) {
  auto result = check_link_params(params);
  if (result) return "";
  EXPECT_EQ(result.error().code, "link_params.invalid");
  return result.error().message;
}

TEST(LinkParamsRules, MergeTakesOnlySetFields) {
  LinkParams base;
  base.delay_ns = 1;
  base.rate_bps = 2;
  LinkParams over;
  over.rate_bps = 3;
  over.up = false;
  merge_link_params(base, over);
  EXPECT_EQ(base.delay_ns, 1u);
  EXPECT_EQ(base.rate_bps, 3u);
  EXPECT_EQ(base.up, false);
  EXPECT_TRUE(has_any_knob(base));
  EXPECT_FALSE(has_any_knob(LinkParams{}));
}

TEST(LinkParamsRules, LossFormsReplaceEachOther) {
  LinkParams link;
  link.loss_percent = 2;
  LinkParams bursty;
  bursty.ge_p_percent = 1;
  bursty.ge_r_percent = 30;
  merge_link_params(link, bursty);
  EXPECT_FALSE(link.loss_percent);
  EXPECT_EQ(link.ge_r_percent, 30.0);
  LinkParams bernoulli;
  bernoulli.loss_percent = 5;
  merge_link_params(link, bernoulli);
  EXPECT_EQ(link.loss_percent, 5.0);
  EXPECT_FALSE(link.ge_p_percent);
  EXPECT_FALSE(link.ge_r_percent);
}

TEST(LinkParamsRules, UnlimitedRateClearsTheBurst) {
  LinkParams link;
  link.rate_bps = 1'000'000;
  link.burst_bytes = 3000;
  LinkParams unlimited;
  unlimited.rate_bps = 0;
  merge_link_params(link, unlimited);
  EXPECT_EQ(link.rate_bps, 0u);
  EXPECT_FALSE(link.burst_bytes);
  EXPECT_EQ(broken_rule(link), "");
}

TEST(LinkParamsRules, RateAndTraceReplaceEachOther) {
  LinkParams link;
  link.trace = "1\n";
  LinkParams rate;
  rate.rate_bps = 5'000'000;
  merge_link_params(link, rate);
  EXPECT_FALSE(link.trace);
  LinkParams trace;
  trace.trace = "2\n";
  merge_link_params(link, trace);
  EXPECT_EQ(link.trace, "2\n");
  EXPECT_EQ(link.rate_bps, 5'000'000u);  // kept, unused while the trace shapes the link
}

TEST(LinkParamsRules, AcceptsDefaultsAndATypicalLink) {
  EXPECT_EQ(broken_rule(LinkParams{}), "");
  LinkParams link;
  link.rate_bps = 100'000'000;
  link.burst_bytes = 15'000;
  link.delay_ns = 10'000'000;
  link.jitter_ns = 5'000'000;
  link.jitter_distribution = "normal";
  link.loss_percent = 100;
  link.queue_bytes = 1'250'000;
  link.drop_policy = "codel";
  link.scheduler = "drr";
  link.mtu = 68;
  link.trace = "1\n2\n";
  EXPECT_EQ(broken_rule(link), "");
}

TEST(LinkParamsRules, EachValueRuleNamesKeyAndValue) {
  auto with = [](auto change) {
    LinkParams params;
    change(params);
    return broken_rule(params);
  };
  EXPECT_EQ(with([](LinkParams& p) { p.loss_percent = 150; }),
            "loss: 150% is not between 0% and 100%");
  EXPECT_EQ(with([](LinkParams& p) { p.duplicate_percent = -1; }),
            "duplicate: -1% is not between 0% and 100%");
  EXPECT_NE(with([](LinkParams& p) { p.corrupt_percent = std::nan(""); }), "");
  EXPECT_NE(with([](LinkParams& p) { p.loss_percent = std::numeric_limits<double>::infinity(); }),
            "");
  EXPECT_EQ(with([](LinkParams& p) { p.jitter_distribution = "pareto"; }),
            "jitter_distribution: \"pareto\" is not one of uniform, normal");
  EXPECT_EQ(with([](LinkParams& p) { p.drop_policy = "fq"; }),
            "drop_policy: \"fq\" is not one of taildrop, red, codel");
  EXPECT_EQ(with([](LinkParams& p) { p.scheduler = "sfq"; }),
            "scheduler: \"sfq\" is not one of fifo, wrr, drr");
  EXPECT_EQ(with([](LinkParams& p) { p.delay_ns = kMaxLinkDelayNs + 1'000'000; }),
            "delay: 3600001ms is longer than one hour");
  EXPECT_EQ(with([](LinkParams& p) { p.mtu = 67; }), "mtu: 67 is not between 68 and 65535");
  EXPECT_EQ(with([](LinkParams& p) { p.queue_packets = 0; }),
            "queue_packets: 0 is not between 1 and 100000000");
  EXPECT_EQ(with([](LinkParams& p) { p.queue_bytes = 0; }), "queue_bytes: 0 is not positive");
  EXPECT_EQ(with([](LinkParams& p) { p.trace = "1\nabc\n"; }).find("trace: "), 0u);
  EXPECT_EQ(with([](LinkParams& p) { p.ge_p_percent = 1; }),
            "loss: a Gilbert-Elliott model needs both p and r");
  EXPECT_EQ(with([](LinkParams& p) {
              p.ge_p_percent = 1;
              p.ge_r_percent = 101;
            }),
            "loss.r: 101% is not between 0% and 100%");
}

TEST(LinkParamsRules, JitterAboveDelayNeedsReorder) {
  LinkParams link;
  link.delay_ns = 5'000'000;
  link.jitter_ns = 6'000'000;
  EXPECT_EQ(broken_rule(link),
            "jitter: 6ms is larger than delay 5ms with reorder = false (the default)");
  link.reorder = false;
  EXPECT_EQ(broken_rule(link), "jitter: 6ms is larger than delay 5ms with reorder = false");
  link.reorder = true;
  EXPECT_EQ(broken_rule(link), "");
}

TEST(LinkParamsRules, BurstNeedsARate) {
  LinkParams link;
  link.burst_bytes = 3000;
  EXPECT_EQ(broken_rule(link), "burst: 3000 bytes needs a rate (the link is unlimited)");
  link.rate_bps = 0;  // unlimited
  EXPECT_NE(broken_rule(link), "");
  link.rate_bps = 1'000'000;
  EXPECT_EQ(broken_rule(link), "");
}

TEST(LinkParamsRules, FormatsDurations) {
  EXPECT_EQ(format_duration_ns(20'000'000), "20ms");
  EXPECT_EQ(format_duration_ns(500'000), "500us");
  EXPECT_EQ(format_duration_ns(7), "7ns");
  EXPECT_EQ(format_duration_ns(0), "0ms");
}

}  // namespace
}  // namespace nextmini::messages
