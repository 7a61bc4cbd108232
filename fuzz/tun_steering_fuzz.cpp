// Fuzz target: the TUN queue steering hash (io/tun_steering.hpp) on arbitrary bytes, as the
// kernel hands a packet to the steering program. Checks, beyond "no crash": the hash is the same
// for the same bytes, every queue count gives a queue below it, and the hash is symmetric: an
// IPv4 packet without options or an IPv6 packet without extension headers, TCP or UDP and no
// fragment, hashes the same with its two addresses and its two ports swapped (its answer).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "nextmini/dataplane/io/tun_steering.hpp"

namespace dp = nextmini::dataplane;

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

constexpr std::uint8_t kTcp = 6;
constexpr std::uint8_t kUdp = 17;

void swap_ranges_at(std::vector<std::uint8_t>& bytes, std::size_t a, std::size_t b,
                    std::size_t length) {
  std::swap_ranges(bytes.begin() + static_cast<std::ptrdiff_t>(a),
                   bytes.begin() + static_cast<std::ptrdiff_t>(a + length),
                   bytes.begin() + static_cast<std::ptrdiff_t>(b));
}

// The answer's bytes (addresses and ports swapped) when `packet` is a shape whose symmetry is
// simple to state; empty otherwise.
std::vector<std::uint8_t> answer_of(std::span<const std::uint8_t> packet) {
  std::vector<std::uint8_t> answer(packet.begin(), packet.end());
  if (packet.empty()) return {};
  const unsigned version = packet[0] >> 4;
  if (version == 4 && packet.size() >= 24 && (packet[0] & 0x0f) == 5 &&
      (packet[9] == kTcp || packet[9] == kUdp) && (packet[6] & 0x3f) == 0 && packet[7] == 0) {
    swap_ranges_at(answer, 12, 16, 4);
    swap_ranges_at(answer, 20, 22, 2);
    return answer;
  }
  if (version == 6 && packet.size() >= 44 && (packet[6] == kTcp || packet[6] == kUdp)) {
    swap_ranges_at(answer, 8, 24, 16);
    swap_ranges_at(answer, 40, 42, 2);
    return answer;
  }
  return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> packet(data, size);
  const std::uint16_t hash = dp::tun_steering_hash(packet);
  check(dp::tun_steering_hash(packet) == hash);
  for (unsigned queues = 1; queues <= 8; ++queues)
    check(dp::tun_steering_queue(packet, queues) < queues);
  const std::vector<std::uint8_t> answer = answer_of(packet);
  if (!answer.empty()) check(dp::tun_steering_hash(answer) == hash);
  return 0;
}
