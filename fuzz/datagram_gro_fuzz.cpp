// Fuzz target: datagram GRO (core/datagram_gro.hpp) on arbitrary bytes, as a UDP_GRO receive
// hands them over. Input layout: a 2-byte big-endian datagram size (the UDP_GRO control
// message's gso_size; 0 = one datagram), then the received bytes. Checks, beyond "no crash":
// the datagrams datagram_at() cuts cover the bytes exactly; a buffer that is not regrouped is
// left byte for byte as it was; a regrouped one is shorter, its overlay header decodes with a TCP
// GSO type and a partial checksum, and software GSO cuts it into exactly as many segments as
// there were datagrams; every buffer goes back to its pool.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "nextmini/dataplane/core/datagram_gro.hpp"
#include "nextmini/dataplane/core/gso.hpp"
#include "nextmini/dataplane/core/overlay_header.hpp"
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
  if (size < 2) return 0;
  const std::size_t datagram_size = static_cast<std::size_t>(data[0] << 8 | data[1]);
  const std::size_t length = size - 2;
  {
    dp::Packet packet = large->acquire();
    check(packet.valid());
    if (!packet.resize(length)) return 0;
    if (length != 0) std::memcpy(packet.data(), data + 2, length);
    const std::size_t count = dp::datagram_count(length, datagram_size);
    std::size_t covered = 0;
    for (std::size_t k = 0; k < count; ++k) {
      const auto datagram = dp::datagram_at(packet.bytes(), datagram_size, k);
      check(!datagram.empty() && datagram.data() == packet.data() + covered);
      covered += datagram.size();
    }
    check(covered == length);

    if (!dp::regroup_datagrams(packet, datagram_size)) {
      check(packet.size() == length &&
            (length == 0 || std::memcmp(packet.data(), data + 2, length) == 0));
    } else {
      check(count >= 2 && packet.size() < length);
      const auto header = dp::read_overlay_header(packet.bytes());
      check(header.has_value());
      check(header->gso_type == dp::kGsoTypeTcpV4 || header->gso_type == dp::kGsoTypeTcpV6);
      check(header->gso_size != 0 && header->csum_offset == 16);
      dp::PacketMeta& meta = packet.meta();
      meta.gso_valid = true;
      meta.gso_type = header->gso_type;
      meta.gso_size = header->gso_size;
      meta.needs_csum = true;
      meta.csum_start = header->csum_start;
      meta.csum_offset = header->csum_offset;
      dp::GsoSegmenter segmenter(packet, dp::kOverlayHeaderSize);
      check(segmenter.status() == dp::GsoStatus::kOk);
      check(segmenter.segments() == count);
      std::size_t made = 0;
      for (dp::Packet segment = segmenter.next(*small); segment.valid();
           segment = segmenter.next(*small)) {
        ++made;
      }
      check(made == count);
    }
  }
  check(large->in_use() == 0 && small->in_use() == 0);
  return 0;
}
