#include "nextmini/dataplane/link/link_queue_config.hpp"

#include <gtest/gtest.h>

#include "link_test_support.hpp"
#include "nextmini/dataplane/link/drr_scheduler.hpp"
#include "nextmini/dataplane/link/wrr_scheduler.hpp"

namespace nextmini::dataplane {
namespace {

TEST(LinkQueueConfigTest, KindsParseAndPrint) {
  for (auto kind : {SchedulerKind::kFifo, SchedulerKind::kDrr, SchedulerKind::kWrr})
    EXPECT_EQ(parse_scheduler_kind(scheduler_kind_name(kind)), kind);
  for (auto kind : {DropPolicyKind::kTailDrop, DropPolicyKind::kRed, DropPolicyKind::kCodel})
    EXPECT_EQ(parse_drop_policy_kind(drop_policy_kind_name(kind)), kind);
  EXPECT_EQ(parse_scheduler_kind("FIFO"), std::nullopt);
  EXPECT_EQ(parse_scheduler_kind("sfq"), std::nullopt);
  EXPECT_EQ(parse_drop_policy_kind("pie"), std::nullopt);
  EXPECT_EQ(parse_drop_policy_kind(""), std::nullopt);
}

TEST(LinkQueueConfigTest, DefaultsAreValid) {
  LinkQueueConfig config;
  EXPECT_TRUE(validate(config));
  config.policy = DropPolicyKind::kRed;
  EXPECT_TRUE(validate(config));
  config.policy = DropPolicyKind::kCodel;
  EXPECT_TRUE(validate(config));
}

Error error_of(const LinkQueueConfig& config) {
  Result<void> result = validate(config);
  EXPECT_FALSE(result);
  return result ? Error{} : result.error();
}

TEST(LinkQueueConfigTest, BadValuesNameTheKeyAndValue) {
  LinkQueueConfig config;
  config.queue.mtu = 20;
  Error error = error_of(config);
  EXPECT_EQ(error.code, "config.invalid");
  EXPECT_EQ(error.message, "mtu: 20 is not between 68 and 65535");

  config = {};
  config.queue.flow_buckets = 0;
  EXPECT_EQ(error_of(config).message, "flow_buckets: 0 is not between 1 and 1048576");

  config = {};
  config.queue.limit.bytes = 100;
  EXPECT_EQ(error_of(config).message, "queue_bytes: 100 is smaller than one MTU (1500 bytes)");

  config = {};
  config.flow_weights[7] = 0;
  EXPECT_EQ(error_of(config).message, "flow_weight: 0 for flow 7 must be >= 1");

  config = {};
  config.policy = DropPolicyKind::kRed;
  config.red.max_p = 1.5;
  EXPECT_EQ(error_of(config).message, "red.max_p: 1.5 is not in (0, 1]");
  config.red.max_p = 0.1;
  config.red.min_th = 50;
  config.red.max_th = 40;
  EXPECT_EQ(error_of(config).message, "red.max_th: 40 is not above red.min_th (50)");
  config.red.max_th = 0;
  config.red.min_th = 1000;  // the default limit is 1000 packets
  EXPECT_EQ(error_of(config).message, "red.min_th: 1000 is not below the queue limit (1000)");
  config.red.min_th = -1;
  EXPECT_EQ(error_of(config).message, "red.min_th: -1 is negative");

  config = {};
  config.policy = DropPolicyKind::kCodel;
  config.codel.interval = 1'000'000;
  EXPECT_EQ(error_of(config).message,
            "codel.interval: 1000000ns is shorter than codel.target (5000000ns)");
}

TEST(LinkQueueConfigTest, BuildsTheConfiguredSchedulerAndPolicy) {
  PacketPool pool(64, 2048);
  {
    LinkQueueConfig config;
    config.scheduler = SchedulerKind::kWrr;
    config.policy = DropPolicyKind::kCodel;
    config.queue.limit = QueueLimit{.packets = 20};
    config.queue.flow_buckets = 16;
    config.queue.mtu = 9000;
    config.flow_weights = {{3, 2}, {4, 5}};
    ASSERT_TRUE(validate(config));
    std::unique_ptr<Scheduler> scheduler = make_link_scheduler(config);
    ASSERT_NE(dynamic_cast<WrrScheduler*>(scheduler.get()), nullptr);
    ASSERT_NE(dynamic_cast<Codel*>(&scheduler->policy()), nullptr);
    EXPECT_EQ(scheduler->queue().list_count(), 16u);
    EXPECT_EQ(scheduler->flow_weight(3), 2u);
    EXPECT_EQ(scheduler->flow_weight(4), 5u);
    EXPECT_EQ(scheduler->flow_weight(5), 1u);
    for (int i = 0; i < 25; ++i) scheduler->enqueue(link_test::make_packet(pool, 100, 3), 0);
    EXPECT_EQ(scheduler->packets(), 20u);
    EXPECT_EQ(scheduler->counters().drops[DropReason::kLinkQueueFull], 5u);
    scheduler->drop_all(DropReason::kLinkDown);

    config.scheduler = SchedulerKind::kDrr;
    config.policy = DropPolicyKind::kRed;
    config.red = RedConfig{.min_th = 4, .max_th = 12};
    ASSERT_TRUE(validate(config));
    scheduler = make_link_scheduler(config);
    ASSERT_NE(dynamic_cast<DrrScheduler*>(scheduler.get()), nullptr);
    auto* red = dynamic_cast<Red*>(&scheduler->policy());
    ASSERT_NE(red, nullptr);
    EXPECT_DOUBLE_EQ(red->min_th(), 4);
    EXPECT_DOUBLE_EQ(red->max_th(), 12);
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace nextmini::dataplane
