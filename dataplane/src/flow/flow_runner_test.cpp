// FlowRunner on loopback: a sink and sources on 127.0.0.1, real kernel TCP.

#include "nextmini/dataplane/flow/flow_runner.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <optional>
#include <vector>

namespace nextmini::dataplane {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class FlowRunnerTest : public ::testing::Test {
 protected:
  FlowRunnerConfig config(messages::NodeId self) {
    FlowRunnerConfig c;
    c.self = self;
    c.sink_port = 0;
    c.connect_attempts = 3;
    c.connect_backoff = std::chrono::milliseconds(10);
    return c;
  }

  void SetUp() override {
    sink_.emplace(io_, config(2), [this](messages::Message m) { sink_reports_.push_back(m); });
    ASSERT_TRUE(sink_->listen("127.0.0.1"));
    ASSERT_NE(sink_->sink_port(), 0);
    source_.emplace(
        io_, config(1),
        [this](messages::Message m) {
          if (auto* finished = std::get_if<messages::FlowFinished>(&m)) {
            finished_.push_back(*finished);
            if (finished_.size() == expected_) io_.stop();
          } else if (auto* started = std::get_if<messages::UserFlowStart>(&m)) {
            started_.push_back(*started);
          }
        },
        [this](const messages::FlowSpec& spec, const tcp::endpoint& local,
               const tcp::endpoint& remote) {
          prepared_.push_back({spec.flow_id, local, remote});
        });
  }

  void TearDown() override {
    source_->close();
    sink_->close();
    io_.restart();
    io_.poll();  // the cancelled handlers
    source_.reset();
    sink_.reset();
  }

  static messages::FlowSpec bytes_flow(messages::FlowId id, std::uint64_t bytes) {
    messages::FlowSpec spec;
    spec.flow_id = id;
    spec.src = 1;
    spec.dst = 2;
    spec.length_bytes = bytes;
    return spec;
  }

  // Runs until `count` flows finished (or the limit passes).
  void run_until_finished(std::size_t count,
                          std::chrono::seconds limit = std::chrono::seconds(20)) {
    expected_ = count;
    io_.restart();
    io_.run_for(limit);
    ASSERT_EQ(finished_.size(), count) << "flows did not finish within the limit";
  }

  static double seconds(const messages::FlowFinished& f) {
    return static_cast<double>(f.finish_time_ns - f.start_time_ns) / 1e9;
  }

  struct Prepared {
    messages::FlowId id;
    tcp::endpoint local;
    tcp::endpoint remote;
  };

  asio::io_context io_;
  std::optional<FlowRunner> sink_;
  std::optional<FlowRunner> source_;
  std::vector<messages::Message> sink_reports_;
  std::vector<messages::UserFlowStart> started_;
  std::vector<messages::FlowFinished> finished_;
  std::vector<Prepared> prepared_;
  std::size_t expected_ = 0;
};

TEST_F(FlowRunnerTest, BytesFlowArrivesWhole) {
  source_->start(bytes_flow(7, 10'000'000), "127.0.0.1", "127.0.0.1", sink_->sink_port());
  EXPECT_EQ(source_->running(), 1u);
  run_until_finished(1);
  const auto& done = finished_[0];
  EXPECT_EQ(done.flow_id, 7u);
  EXPECT_EQ(done.node_id, 1u);
  EXPECT_EQ(done.error, "");
  EXPECT_EQ(done.bytes, 10'000'000u);
  EXPECT_LE(done.start_time_ns, done.finish_time_ns);
  ASSERT_EQ(started_.size(), 1u);
  EXPECT_EQ(started_[0].flow_id, 7u);
  EXPECT_EQ(started_[0].start_time_ns, done.start_time_ns);
  EXPECT_EQ(source_->running(), 0u);
  EXPECT_EQ(source_->counters().flows_started, 1u);
  EXPECT_EQ(source_->counters().flows_finished, 1u);
  EXPECT_EQ(source_->counters().bytes_sent, 10'000'000u);
  EXPECT_EQ(sink_->counters().sink_connections, 1u);
  EXPECT_EQ(sink_->counters().sink_bytes, 10'000'000u);
  EXPECT_TRUE(sink_reports_.empty());  // only sources report
  // The prepare hook saw the bound local endpoint before the connection.
  ASSERT_EQ(prepared_.size(), 1u);
  EXPECT_EQ(prepared_[0].local.address().to_string(), "127.0.0.1");
  EXPECT_NE(prepared_[0].local.port(), 0);
  EXPECT_EQ(prepared_[0].remote.port(), sink_->sink_port());
}

TEST_F(FlowRunnerTest, PacedBytesFlowTakesLengthOverRate) {
  auto spec = bytes_flow(1, 2'000'000);
  spec.rate_bytes_per_s = 2'000'000;  // 2 MB/s: one second
  source_->start(spec, "127.0.0.1", "127.0.0.1", sink_->sink_port());
  run_until_finished(1);
  EXPECT_EQ(finished_[0].bytes, 2'000'000u);
  EXPECT_NEAR(seconds(finished_[0]), 1.0, 0.1);
}

TEST_F(FlowRunnerTest, PacedDurationFlowSendsRateTimesDuration) {
  messages::FlowSpec spec = bytes_flow(2, 0);
  spec.length_bytes.reset();
  spec.duration_s = 1.0;
  spec.rate_bytes_per_s = 1'000'000;
  source_->start(spec, "127.0.0.1", "127.0.0.1", sink_->sink_port());
  run_until_finished(1);
  EXPECT_EQ(finished_[0].error, "");
  EXPECT_NEAR(static_cast<double>(finished_[0].bytes), 1'000'000.0, 100'000.0);
  EXPECT_NEAR(seconds(finished_[0]), 1.0, 0.1);
}

TEST_F(FlowRunnerTest, UnpacedDurationFlowStopsOnTime) {
  messages::FlowSpec spec = bytes_flow(3, 0);
  spec.length_bytes.reset();
  spec.duration_s = 0.5;
  source_->start(spec, "127.0.0.1", "127.0.0.1", sink_->sink_port());
  run_until_finished(1);
  EXPECT_EQ(finished_[0].error, "");
  EXPECT_GT(finished_[0].bytes, 1'000'000u);  // loopback moves far more than 2 MB/s
  EXPECT_GE(seconds(finished_[0]), 0.5);
  EXPECT_LT(seconds(finished_[0]), 0.8);
}

TEST_F(FlowRunnerTest, SeveralFlowsAtOnceEachCounted) {
  for (messages::FlowId id = 10; id < 14; ++id) {
    source_->start(bytes_flow(id, id * 100'000), "127.0.0.1", "127.0.0.1", sink_->sink_port());
  }
  source_->start(bytes_flow(10, 5), "127.0.0.1", "127.0.0.1", sink_->sink_port());  // a repeat
  run_until_finished(4);
  for (const auto& done : finished_) {
    EXPECT_EQ(done.error, "");
    EXPECT_EQ(done.bytes, done.flow_id * 100'000);
  }
}

TEST_F(FlowRunnerTest, RefusedConnectionIsRetriedThenReported) {
  // A port with nothing listening: bind one, note it, close it.
  tcp::acceptor probe(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = probe.local_endpoint().port();
  probe.close();
  source_->start(bytes_flow(5, 1000), "127.0.0.1", "127.0.0.1", port);
  run_until_finished(1);
  EXPECT_TRUE(started_.empty());
  EXPECT_EQ(finished_[0].bytes, 0u);
  EXPECT_EQ(finished_[0].start_time_ns, finished_[0].finish_time_ns);  // never started
  EXPECT_NE(finished_[0].error.find("cannot connect to 127.0.0.1:" + std::to_string(port) +
                                    " after 3 attempts"),
            std::string::npos)
      << finished_[0].error;
  EXPECT_EQ(source_->counters().connect_retries, 2u);
  EXPECT_EQ(source_->counters().flows_failed, 1u);
  EXPECT_EQ(prepared_.size(), 3u);  // once per attempt
}

TEST(FlowKeyOfTcp, MatchesWhatTheProcessorClassifies) {
  const tcp::endpoint local(asio::ip::make_address("10.0.0.1"), 40000);
  const tcp::endpoint remote(asio::ip::make_address("10.0.0.3"), 4100);
  const FlowKey key = tcp_flow_key(local, remote);
  EXPECT_EQ(key.ip_version, 4);
  EXPECT_EQ(key.protocol, 6);
  EXPECT_EQ(key.src_port, 40000);
  EXPECT_EQ(key.dst_port, 4100);
  EXPECT_EQ(key.src_address[0], 10);
  EXPECT_EQ(key.src_address[3], 1);
  EXPECT_EQ(key.dst_address[3], 3);
  EXPECT_EQ(key.src_address[4], 0);  // IPv4 in the first 4 bytes only
  // The key of a real packet of that connection (IPv4 + TCP headers) is the same flow.
  std::array<std::uint8_t, 40> packet{};
  packet[0] = 0x45;
  packet[3] = 40;
  packet[8] = 64;
  packet[9] = 6;
  const std::array<std::uint8_t, 8> addresses = {10, 0, 0, 1, 10, 0, 0, 3};
  std::copy(addresses.begin(), addresses.end(), packet.begin() + 12);
  packet[20] = 40000 >> 8;
  packet[21] = 40000 & 0xff;
  packet[22] = 4100 >> 8;
  packet[23] = 4100 & 0xff;
  packet[32] = 0x50;  // data offset: 5 words
  IpPacketView view;
  ASSERT_EQ(parse_ip_packet(packet, view), IpParseStatus::kOk);
  EXPECT_EQ(FlowKey::from(view).hash(), key.hash());
  // The reverse direction is another flow.
  EXPECT_NE(tcp_flow_key(remote, local).hash(), key.hash());
}

TEST_F(FlowRunnerTest, BadAddressFailsAtOnce) {
  source_->start(bytes_flow(6, 1000), "127.0.0.1", "not-an-address", 4100);
  ASSERT_EQ(finished_.size(), 1u);
  EXPECT_NE(finished_[0].error.find("bad address"), std::string::npos);
}

TEST_F(FlowRunnerTest, SinkClosesAConnectionWithoutAHeader) {
  tcp::socket raw(io_);
  raw.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), sink_->sink_port()));
  const std::string junk = "GET / HTTP/1.1\r\n\r\n";
  asio::write(raw, asio::buffer(junk));
  asio::steady_timer wait(io_, std::chrono::milliseconds(200));
  wait.async_wait([&](boost::system::error_code) { io_.stop(); });
  io_.run();
  EXPECT_EQ(sink_->counters().sink_bad_headers, 1u);
  char byte = 0;
  boost::system::error_code error;
  raw.read_some(asio::buffer(&byte, 1), error);
  // Closed by the sink (reset, as it leaves the junk unread).
  EXPECT_TRUE(error == asio::error::eof || error == asio::error::connection_reset) << error;
}

TEST_F(FlowRunnerTest, CloseCancelsARunningFlowWithoutAReport) {
  messages::FlowSpec spec = bytes_flow(8, 0);
  spec.length_bytes.reset();
  spec.duration_s = 60;
  spec.rate_bytes_per_s = 100'000;
  source_->start(spec, "127.0.0.1", "127.0.0.1", sink_->sink_port());
  asio::steady_timer wait(io_, std::chrono::milliseconds(300));
  wait.async_wait([&](boost::system::error_code) {
    source_->close();
    sink_->close();
  });
  io_.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(io_.stopped());  // nothing left to do after close()
  EXPECT_EQ(started_.size(), 1u);
  EXPECT_TRUE(finished_.empty());
  EXPECT_EQ(source_->running(), 0u);
}

}  // namespace
}  // namespace nextmini::dataplane
