#include "nextmini/messages/detail/msgpack_writer.hpp"

#include <bit>
#include <cassert>
#include <limits>

namespace nextmini::messages::detail {

void MsgpackWriter::put_be(std::uint64_t value, int width) {
  for (int shift = (width - 1) * 8; shift >= 0; shift -= 8) {
    bytes_.push_back(static_cast<std::uint8_t>(value >> shift));
  }
}

void MsgpackWriter::write_nil() { put(0xc0); }

void MsgpackWriter::write_bool(bool value) { put(value ? 0xc3 : 0xc2); }

void MsgpackWriter::write_uint(std::uint64_t value) {
  if (value <= 0x7f) {
    put(static_cast<std::uint8_t>(value));  // positive fixint
  } else if (value <= std::numeric_limits<std::uint8_t>::max()) {
    put(0xcc);
    put_be(value, 1);
  } else if (value <= std::numeric_limits<std::uint16_t>::max()) {
    put(0xcd);
    put_be(value, 2);
  } else if (value <= std::numeric_limits<std::uint32_t>::max()) {
    put(0xce);
    put_be(value, 4);
  } else {
    put(0xcf);
    put_be(value, 8);
  }
}

void MsgpackWriter::write_int(std::int64_t value) {
  if (value >= 0) {
    write_uint(static_cast<std::uint64_t>(value));
    return;
  }
  const auto raw = static_cast<std::uint64_t>(value);  // two's complement bits
  if (value >= -32) {
    put(static_cast<std::uint8_t>(raw));  // negative fixint 0xe0..0xff
  } else if (value >= std::numeric_limits<std::int8_t>::min()) {
    put(0xd0);
    put_be(raw, 1);
  } else if (value >= std::numeric_limits<std::int16_t>::min()) {
    put(0xd1);
    put_be(raw, 2);
  } else if (value >= std::numeric_limits<std::int32_t>::min()) {
    put(0xd2);
    put_be(raw, 4);
  } else {
    put(0xd3);
    put_be(raw, 8);
  }
}

void MsgpackWriter::write_float32(float value) {
  put(0xca);
  put_be(std::bit_cast<std::uint32_t>(value), 4);
}

void MsgpackWriter::write_float64(double value) {
  put(0xcb);
  put_be(std::bit_cast<std::uint64_t>(value), 8);
}

void MsgpackWriter::write_str(std::string_view value) {
  const std::uint64_t size = value.size();
  assert(size <= std::numeric_limits<std::uint32_t>::max());
  if (size <= 31) {
    put(static_cast<std::uint8_t>(0xa0 | size));
  } else if (size <= std::numeric_limits<std::uint8_t>::max()) {
    put(0xd9);
    put_be(size, 1);
  } else if (size <= std::numeric_limits<std::uint16_t>::max()) {
    put(0xda);
    put_be(size, 2);
  } else {
    put(0xdb);
    put_be(size, 4);
  }
  bytes_.insert(bytes_.end(), value.begin(), value.end());
}

void MsgpackWriter::write_bin(std::span<const std::uint8_t> value) {
  const std::uint64_t size = value.size();
  assert(size <= std::numeric_limits<std::uint32_t>::max());
  if (size <= std::numeric_limits<std::uint8_t>::max()) {
    put(0xc4);
    put_be(size, 1);
  } else if (size <= std::numeric_limits<std::uint16_t>::max()) {
    put(0xc5);
    put_be(size, 2);
  } else {
    put(0xc6);
    put_be(size, 4);
  }
  bytes_.insert(bytes_.end(), value.begin(), value.end());
}

void MsgpackWriter::write_array_header(std::uint32_t count) {
  if (count <= 15) {
    put(static_cast<std::uint8_t>(0x90 | count));
  } else if (count <= std::numeric_limits<std::uint16_t>::max()) {
    put(0xdc);
    put_be(count, 2);
  } else {
    put(0xdd);
    put_be(count, 4);
  }
}

void MsgpackWriter::write_map_header(std::uint32_t count) {
  if (count <= 15) {
    put(static_cast<std::uint8_t>(0x80 | count));
  } else if (count <= std::numeric_limits<std::uint16_t>::max()) {
    put(0xde);
    put_be(count, 2);
  } else {
    put(0xdf);
    put_be(count, 4);
  }
}

}  // namespace nextmini::messages::detail
