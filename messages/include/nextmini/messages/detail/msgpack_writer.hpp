#pragma once
// MsgpackWriter: appends MessagePack values to a growing byte buffer.
// Input: values through the write_* calls; output: bytes() / take(). Every value is written in
// its smallest MessagePack format (integers pick the narrowest width, non-negative integers
// always use the unsigned formats). Containers are written as a header with the element count
// followed by the elements, which the caller writes next (a map: key, value, key, value, ...).
// MessagePack cannot express a str, bin or container longer than 2^32 - 1; passing one is a bug
// (control messages are far smaller) and trips an assertion in debug builds.
// No knobs, no counters; not thread-safe (one writer per encoding).

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace nextmini::messages::detail {

class MsgpackWriter {
 public:
  MsgpackWriter() = default;

  void write_nil();
  void write_bool(bool value);
  void write_uint(std::uint64_t value);
  void write_int(std::int64_t value);  // non-negative values use the unsigned formats
  void write_float32(float value);
  void write_float64(double value);
  void write_str(std::string_view value);
  void write_bin(std::span<const std::uint8_t> value);
  void write_array_header(std::uint32_t count);
  void write_map_header(std::uint32_t count);

  const std::vector<std::uint8_t>& bytes() const noexcept { return bytes_; }
  std::vector<std::uint8_t> take() noexcept { return std::move(bytes_); }

 private:
  void put(std::uint8_t byte) { bytes_.push_back(byte); }
  void put_be(std::uint64_t value, int width);  // big-endian, `width` bytes

  std::vector<std::uint8_t> bytes_;
};

}  // namespace nextmini::messages::detail
