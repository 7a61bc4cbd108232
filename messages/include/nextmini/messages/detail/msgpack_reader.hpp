#pragma once
// MsgpackReader: a bounds-checked pull reader over one MessagePack byte buffer.
// Input: a span of bytes (not copied; must outlive the reader and every string_view / span it
// returns). Output: one value (or container header) per read_* call, in stream order.
// Never throws and never reads past the end: every call returns a Result, and on failure the
// read position is left where it was. Error codes:
//   "msgpack.truncated"  the value runs past the end of the buffer
//   "msgpack.invalid"    a byte that is not a MessagePack format (0xc1)
//   "msgpack.type"       the next value is not of the requested family
//   "msgpack.range"      an integer does not fit the requested C++ type
//   "msgpack.depth"      skip() met containers nested deeper than the depth limit
// Knob: the nesting depth limit of skip() (kDefaultMaxDepth). No counters; not thread-safe.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "nextmini/common/result.hpp"

namespace nextmini::messages::detail {

// The family of the next value. Integers are kUint when the encoded value is non-negative
// (whatever format carried it) and kInt when it is negative.
enum class MsgpackType {
  kNil,
  kBool,
  kUint,
  kInt,
  kFloat32,
  kFloat64,
  kStr,
  kBin,
  kArray,
  kMap,
  kExt,
};

std::string_view msgpack_type_name(MsgpackType type);

class MsgpackReader {
 public:
  static constexpr std::size_t kDefaultMaxDepth = 64;

  explicit MsgpackReader(std::span<const std::uint8_t> bytes,
                         std::size_t max_depth = kDefaultMaxDepth) noexcept
      : bytes_(bytes), max_depth_(max_depth) {}

  // The family of the next value, without consuming it.
  Result<MsgpackType> peek_type() const;

  Result<void> read_nil();
  Result<bool> read_bool();
  // Any integer format whose value is >= 0 ("msgpack.range" for a negative one).
  Result<std::uint64_t> read_uint();
  // Any integer format whose value fits int64 ("msgpack.range" for uint64 values above it).
  Result<std::int64_t> read_int();
  // float32 or float64 (float32 widened).
  Result<double> read_float();
  Result<std::string_view> read_str();
  Result<std::span<const std::uint8_t>> read_bin();
  // A container header: the number of elements (array) or key/value pairs (map) that follow.
  // The count is checked against the bytes left (every element takes at least one byte), so a
  // caller may reserve that many elements safely.
  Result<std::uint32_t> read_array_header();
  Result<std::uint32_t> read_map_header();
  // Skips one whole value, containers included (at most max_depth nested containers).
  Result<void> skip();

  std::size_t position() const noexcept { return pos_; }
  std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  bool at_end() const noexcept { return pos_ == bytes_.size(); }

 private:
  struct Header {
    MsgpackType type;
    std::size_t header_size;  // bytes of the format byte and its length / value field
    std::uint64_t length;     // payload bytes (str, bin, ext incl. type byte), element count
                              // (array, map), or the raw bits of an integer / float
  };
  Result<Header> read_header() const;
  Result<void> skip_at_depth(std::size_t depth);

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  std::size_t max_depth_;
};

}  // namespace nextmini::messages::detail
