// Fuzz target for the link's stream decoders (dataplane/transport): cut_link_frame() over an
// arbitrary byte stream, and LinkHello::parse() on its first 12 bytes. Any input must give
// frames inside the input, "need more" or "bad", never a read out of bounds or a crash; the
// frames cut must tile the input exactly up to where cutting stopped.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "nextmini/dataplane/transport/link_frame.hpp"
#include "nextmini/dataplane/transport/link_hello.hpp"

namespace {

[[noreturn]] void fuzz_failure() { std::abort(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nextmini::dataplane;
  const std::span<const std::uint8_t> bytes(data, size);
  std::size_t offset = 0;  // where frames start: after a valid hello, as on a real connection
  if (size >= LinkHello::kSize) {
    auto hello = LinkHello::parse(bytes.first(LinkHello::kSize));
    if (hello && hello->node_id == 0) fuzz_failure();
    if (hello) {
      // A parsed hello re-encodes to the same bytes, except the reserved field.
      const auto again = LinkHello{hello->node_id}.encode();
      for (std::size_t i = 0; i < LinkHello::kSize; ++i)
        if (again[i] != bytes[i] && i != 6 && i != 7) fuzz_failure();
      offset = LinkHello::kSize;
    }
  }
  constexpr std::size_t kMaxPayload = 1920;
  for (;;) {
    const auto cut = cut_link_frame(bytes.subspan(offset), kMaxPayload);
    if (cut.status != LinkFrameCut::Status::kFrame) break;
    if (cut.payload.empty() || cut.payload.size() > kMaxPayload) fuzz_failure();
    if (cut.consumed != kLinkFramePrefix + cut.payload.size()) fuzz_failure();
    if (cut.payload.data() != data + offset + kLinkFramePrefix) fuzz_failure();
    offset += cut.consumed;
    if (offset > size) fuzz_failure();
  }
  return 0;
}
