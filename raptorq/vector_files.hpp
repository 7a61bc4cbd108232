#pragma once
// Test helper: reads the interoperability vectors of ../shared/raptorq-vectors (see its README):
// NAME.src (object), NAME.oti (12 bytes), NAME.enc / NAME.lossy (records of a 4-byte
// big-endian length, then Payload ID + symbol).

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace nextmini::raptorq::testing {

inline const std::filesystem::path kVectorDir = "../shared/raptorq-vectors";

inline std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Splits a packet file into its packets; an empty result with ok=false on a malformed file.
inline std::vector<std::vector<std::uint8_t>> split_packets(const std::vector<std::uint8_t>& file,
                                                            bool* ok) {
  std::vector<std::vector<std::uint8_t>> packets;
  std::size_t pos = 0;
  *ok = true;
  while (pos < file.size()) {
    if (file.size() - pos < 4) {
      *ok = false;
      return {};
    }
    const std::size_t len = (static_cast<std::size_t>(file[pos]) << 24) |
                            (static_cast<std::size_t>(file[pos + 1]) << 16) |
                            (static_cast<std::size_t>(file[pos + 2]) << 8) | file[pos + 3];
    pos += 4;
    if (file.size() - pos < len) {
      *ok = false;
      return {};
    }
    packets.emplace_back(file.begin() + static_cast<std::ptrdiff_t>(pos),
                         file.begin() + static_cast<std::ptrdiff_t>(pos + len));
    pos += len;
  }
  return packets;
}

}  // namespace nextmini::raptorq::testing
