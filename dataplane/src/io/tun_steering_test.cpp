#include "nextmini/dataplane/io/tun_steering.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <vector>

#include "steering_test_packets.hpp"

namespace nextmini::dataplane {
namespace {

using test_support::build_flow_packet;
using test_support::FlowSpec;

FlowSpec random_flow(std::mt19937& rng, bool ipv6, std::uint8_t protocol) {
  FlowSpec spec;
  spec.ipv6 = ipv6;
  spec.protocol = protocol;
  for (auto& byte : spec.src) byte = static_cast<std::uint8_t>(rng());
  for (auto& byte : spec.dst) byte = static_cast<std::uint8_t>(rng());
  spec.src_port = static_cast<std::uint16_t>(rng());
  spec.dst_port = static_cast<std::uint16_t>(rng());
  spec.payload = rng() % 64;
  return spec;
}

// Every shape of packet the program has a branch for, with random fields.
FlowSpec random_shape(std::mt19937& rng) {
  static const std::uint8_t kProtocols[] = {6, 17, 132, 1, 58, 47, 0, 44};
  const bool ipv6 = rng() % 2 == 0;
  FlowSpec spec = random_flow(rng, ipv6, kProtocols[rng() % std::size(kProtocols)]);
  if (ipv6) {
    static const std::uint8_t kExtensions[] = {0, 43, 60, 51, 44};
    const std::size_t count = rng() % 4 == 0 ? rng() % 11 : 0;  // past the walk's limit too
    for (std::size_t i = 0; i < count; ++i) {
      spec.ipv6_extensions.push_back(
          {kExtensions[rng() % std::size(kExtensions)], static_cast<std::uint8_t>(rng() % 3)});
    }
  } else {
    if (rng() % 4 == 0) spec.ipv4_option_words = rng() % 11;
    if (rng() % 4 == 0)
      spec.ipv4_fragment = static_cast<std::uint16_t>(rng() % 3 == 0 ? 0x2000 : rng() & 0x3fff);
    if (rng() % 8 == 0) spec.ipv4_fragment |= 0x4000;  // DF alone is no fragment
  }
  return spec;
}

TEST(TunSteering, AFlowAndItsAnswersGetTheSameHash) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    FlowSpec spec = random_shape(rng);
    // (An IPv6 "transport" header that is an extension header reads the ports as one.)
    if (spec.ipv6 && (spec.protocol == 0 || spec.protocol == 44)) spec.protocol = 47;
    EXPECT_EQ(tun_steering_hash(build_flow_packet(spec)),
              tun_steering_hash(build_flow_packet(spec.answer())))
        << "packet " << i << (spec.ipv6 ? " IPv6" : " IPv4") << " protocol " << int(spec.protocol)
        << " fragment " << spec.ipv4_fragment << " options " << spec.ipv4_option_words
        << " extensions " << spec.ipv6_extensions.size();
  }
}

TEST(TunSteering, PortsCountOnlyForTcpUdpAndSctpPacketsThatAreNoFragment) {
  std::mt19937 rng(11);
  for (const bool ipv6 : {false, true}) {
    for (const std::uint8_t protocol : {6, 17, 132}) {
      FlowSpec spec = random_flow(rng, ipv6, protocol);
      FlowSpec other_port = spec;
      other_port.src_port ^= 1;
      EXPECT_NE(tun_steering_hash(build_flow_packet(spec)),
                tun_steering_hash(build_flow_packet(other_port)))
          << "protocol " << int(protocol) << (ipv6 ? " IPv6" : " IPv4");
      // A fragment of the same flow: the ports are not looked at.
      if (ipv6) {
        spec.ipv6_extensions = {{44, 0}};
        other_port.ipv6_extensions = {{44, 0}};
      } else {
        spec.ipv4_fragment = other_port.ipv4_fragment = 0x2000;
      }
      EXPECT_EQ(tun_steering_hash(build_flow_packet(spec)),
                tun_steering_hash(build_flow_packet(other_port)));
    }
    FlowSpec icmp = random_flow(rng, ipv6, ipv6 ? 58 : 1);
    FlowSpec other_icmp = icmp;
    other_icmp.src_port ^= 1;  // the bytes where ports would be
    EXPECT_EQ(tun_steering_hash(build_flow_packet(icmp)),
              tun_steering_hash(build_flow_packet(other_icmp)));
  }
  // IPv6 extension headers are walked to the transport header: the ports count behind them.
  FlowSpec behind = random_flow(rng, true, 6);
  behind.ipv6_extensions = {{0, 0}, {60, 1}, {51, 1}, {43, 2}};
  FlowSpec behind_other = behind;
  behind_other.dst_port ^= 1;
  EXPECT_NE(tun_steering_hash(build_flow_packet(behind)),
            tun_steering_hash(build_flow_packet(behind_other)));
}

TEST(TunSteering, ShortPacketsAndOtherVersionsGoToQueueZero) {
  FlowSpec spec;
  spec.protocol = 6;
  const auto packet = build_flow_packet(spec);
  EXPECT_EQ(tun_steering_hash(std::span(packet).first(22)), 0);  // ports cut off
  EXPECT_EQ(tun_steering_hash({}), 0);
  std::vector<std::uint8_t> other = packet;
  other[0] = 0x55;
  EXPECT_EQ(tun_steering_hash(other), 0);
  EXPECT_EQ(tun_steering_queue(packet, 0), 0u);
}

TEST(TunSteering, FlowsSpreadEvenlyOverTwoAndFourQueues) {
  std::mt19937 rng(13);
  constexpr int kFlows = 8000;
  for (const bool ipv6 : {false, true}) {
    std::vector<int> two(2), four(4);
    FlowSpec spec = random_flow(rng, ipv6, 6);
    spec.dst_port = 5201;
    for (int i = 0; i < kFlows; ++i) {  // one client, one server, ephemeral source ports
      spec.src_port = static_cast<std::uint16_t>(32768 + i);
      const auto packet = build_flow_packet(spec);
      ++two[tun_steering_queue(packet, 2)];
      ++four[tun_steering_queue(packet, 4)];
    }
    for (const int n : two) EXPECT_NEAR(n, kFlows / 2, kFlows / 20) << (ipv6 ? "IPv6" : "IPv4");
    for (const int n : four) EXPECT_NEAR(n, kFlows / 4, kFlows / 40) << (ipv6 ? "IPv6" : "IPv4");
  }
}

// The loaded program and tun_steering_hash() give the same value for every packet: well-formed
// ones of every shape, the same cut short at every length, and random bytes.
TEST(TunSteeringRoot, TheProgramAndTheCppFunctionAgree) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  auto program = TunSteeringProgram::load();
  ASSERT_TRUE(program) << program.error().message;
  std::mt19937 rng(17);
  int compared = 0;
  const auto agree = [&](const std::vector<std::uint8_t>& packet, const char* what) {
    auto ran = program->run(packet);
    ASSERT_TRUE(ran) << ran.error().message << " (" << what << ", " << packet.size() << " bytes)";
    ASSERT_EQ(*ran, tun_steering_hash(packet))
        << what << " packet of " << packet.size() << " bytes, first byte " << int(packet[0]);
    ++compared;
  };
  for (int i = 0; i < 3000; ++i) {
    const auto packet = build_flow_packet(random_shape(rng));
    agree(packet, "well-formed");
    if (i % 10 == 0) {
      for (std::size_t cut = 1; cut < packet.size(); cut += 1 + rng() % 7)
        agree(std::vector<std::uint8_t>(packet.begin(), packet.begin() + cut), "truncated");
    }
  }
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::uint8_t> noise(1 + rng() % 120);
    for (auto& byte : noise) byte = static_cast<std::uint8_t>(rng());
    noise[0] = static_cast<std::uint8_t>((i % 3 == 0   ? 0x40
                                          : i % 3 == 1 ? 0x60
                                                       : 0) |
                                         (noise[0] & 0xf));
    agree(noise, "random");
  }
  EXPECT_GT(compared, 5000);
}

TEST(TunSteeringRoot, ARefusedProgramComesBackWithTheVerifiersLog) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  bpf_insn exit_without_r0{};
  exit_without_r0.code = BPF_JMP | BPF_EXIT;
  auto loaded = detail::load_socket_filter(std::span(&exit_without_r0, 1));
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, "io.tun_steering");
  EXPECT_NE(loaded.error().message.find("verifier log:"), std::string::npos)
      << loaded.error().message;
  EXPECT_NE(loaded.error().message.find("R0"), std::string::npos) << loaded.error().message;
}

TEST(TunSteeringRoot, AttachingToSomethingThatIsNoTunFailsWithAClearError) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  auto program = TunSteeringProgram::load();
  ASSERT_TRUE(program) << program.error().message;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  auto attached = program->attach(read_end.get());
  ASSERT_FALSE(attached);
  EXPECT_EQ(attached.error().code, "io.tun_steering");
  EXPECT_NE(attached.error().message.find("TUNSETSTEERINGEBPF"), std::string::npos);
}

}  // namespace
}  // namespace nextmini::dataplane
