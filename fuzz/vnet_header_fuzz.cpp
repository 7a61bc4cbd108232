// Fuzz target: the virtio_net_hdr parser and what trusts it — software GSO and checksum
// completion — on arbitrary bytes. Input layout: the first 10 bytes are the header, the rest
// the packet it precedes (as a TUN read with IFF_VNET_HDR delivers them). Checks, beyond "no
// crash": a header that parses builds back into one that parses to the same metadata; the
// segmenter either refuses or makes exactly segments() packets, each no larger than the header
// plus gso_size, whose payloads add up to the packet's; every buffer goes back to its pool.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "nextmini/dataplane/core/gso.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/core/virtio_net_header.hpp"

namespace dp = nextmini::dataplane;

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static dp::PacketPool* large = new dp::PacketPool(2, 70'000);
  static dp::PacketPool* small = new dp::PacketPool(64, 2048);
  small->set_growth_limit(4096);
  if (size < dp::kVirtioNetHeaderSize) return 0;
  std::array<std::uint8_t, dp::kVirtioNetHeaderSize> header{};
  std::memcpy(header.data(), data, header.size());
  const std::size_t packet_size = size - header.size();
  {
    dp::Packet packet = large->acquire();
    check(packet.valid());
    if (!packet.resize(packet_size)) return 0;
    if (packet_size != 0) std::memcpy(packet.data(), data + header.size(), packet_size);
    if (dp::parse_virtio_net_header(header, packet_size, packet.meta()) != dp::VnetStatus::kOk)
      return 0;

    std::array<std::uint8_t, dp::kVirtioNetHeaderSize> built{};
    dp::write_virtio_net_header(packet, built);
    dp::PacketMeta again;
    check(dp::parse_virtio_net_header(built, packet_size, again) == dp::VnetStatus::kOk);
    const dp::PacketMeta& meta = packet.meta();
    check(again.gso_valid == meta.gso_valid && again.gso_type == meta.gso_type &&
          again.gso_size == meta.gso_size && again.needs_csum == meta.needs_csum &&
          again.csum_start == meta.csum_start && again.csum_offset == meta.csum_offset);

    dp::GsoSegmenter segmenter(packet);
    if (segmenter.status() == dp::GsoStatus::kOk) {
      const std::size_t expected = segmenter.segments();
      std::size_t made = 0;
      std::size_t payload = 0;
      for (dp::Packet segment = segmenter.next(*small); segment.valid();
           segment = segmenter.next(*small)) {
        check(segment.size() >= segmenter.header_length());
        check(segment.size() <= segmenter.header_length() + meta.gso_size);
        check(!segment.meta().gso_valid && !segment.meta().needs_csum);
        payload += segment.size() - segmenter.header_length();
        ++made;
      }
      if (segmenter.status() == dp::GsoStatus::kOk) {
        check(made == expected);
        check(payload == packet_size - segmenter.header_length());
      }
    }
    dp::Packet copy = small->acquire();
    if (copy.valid() && copy.resize(std::min(packet_size, copy.room()))) {
      std::memcpy(copy.data(), packet.data(), copy.size());
      copy.meta() = meta;
      copy.meta().gso_valid = false;
      (void)dp::complete_checksum(copy);
    }
  }
  check(large->in_use() == 0 && small->in_use() == 0);
  return 0;
}
