#include "nextmini/messages/detail/msgpack_reader.hpp"

#include <bit>
#include <limits>
#include <string>

namespace nextmini::messages::detail {

namespace {

Failure truncated(std::size_t need, std::size_t have) {
  return fail("msgpack.truncated", "value needs " + std::to_string(need) + " bytes, only " +
                                       std::to_string(have) + " left");
}

Failure wrong_type(std::string_view expected, MsgpackType got) {
  return fail("msgpack.type",
              "expected " + std::string(expected) + ", got " + std::string(msgpack_type_name(got)));
}

}  // namespace

std::string_view msgpack_type_name(MsgpackType type) {
  switch (type) {
    case MsgpackType::kNil:
      return "nil";
    case MsgpackType::kBool:
      return "bool";
    case MsgpackType::kUint:
      return "unsigned integer";
    case MsgpackType::kInt:
      return "negative integer";
    case MsgpackType::kFloat32:
      return "float32";
    case MsgpackType::kFloat64:
      return "float64";
    case MsgpackType::kStr:
      return "str";
    case MsgpackType::kBin:
      return "bin";
    case MsgpackType::kArray:
      return "array";
    case MsgpackType::kMap:
      return "map";
    case MsgpackType::kExt:
      return "ext";
  }
  return "unknown";
}

Result<MsgpackReader::Header> MsgpackReader::read_header() const {
  const std::size_t left = remaining();
  if (left == 0) return truncated(1, 0);
  const std::uint8_t* p = bytes_.data() + pos_;
  const std::uint8_t format = p[0];

  // Reads `width` big-endian bytes after the format byte, bounds-checked.
  std::uint64_t field = 0;
  auto load = [&](std::size_t width) -> bool {
    if (left < 1 + width) return false;
    field = 0;
    for (std::size_t i = 0; i < width; ++i) field = (field << 8) | p[1 + i];
    return true;
  };
  // A header of `width` length bytes followed by a payload of (field + extra) bytes.
  auto sized = [&](MsgpackType type, std::size_t width, std::uint64_t extra) -> Result<Header> {
    if (!load(width)) return truncated(1 + width, left);
    const std::uint64_t payload = field + extra;
    if (payload > left - 1 - width) return truncated(1 + width + payload, left);
    return Header{type, 1 + width, payload};
  };
  // A container header of `width` count bytes; each element takes >= `per_element` bytes.
  auto container = [&](MsgpackType type, std::size_t width, std::uint64_t count,
                       std::uint64_t per_element) -> Result<Header> {
    if (width > 0 && !load(width)) return truncated(1 + width, left);
    if (width > 0) count = field;
    if (count * per_element > left - 1 - width) {
      return truncated(1 + width + count * per_element, left);  // at least that many
    }
    return Header{type, 1 + width, count};
  };
  auto integer = [&](std::size_t width, bool is_signed) -> Result<Header> {
    if (!load(width)) return truncated(1 + width, left);
    std::uint64_t value = field;
    if (is_signed) {
      // Sign-extend the `width`-byte two's complement value to 64 bits.
      const int unused = 64 - static_cast<int>(width) * 8;
      const auto extended = unused == 0 ? static_cast<std::int64_t>(value)
                                        : static_cast<std::int64_t>(value << unused) >> unused;
      value = static_cast<std::uint64_t>(extended);
      if (extended < 0) return Header{MsgpackType::kInt, 1 + width, value};
    }
    return Header{MsgpackType::kUint, 1 + width, value};
  };

  if (format <= 0x7f) return Header{MsgpackType::kUint, 1, format};
  if (format >= 0xe0) {
    return Header{MsgpackType::kInt, 1,
                  static_cast<std::uint64_t>(static_cast<std::int64_t>(format) - 256)};
  }
  if ((format & 0xf0) == 0x80) return container(MsgpackType::kMap, 0, format & 0x0f, 2);
  if ((format & 0xf0) == 0x90) return container(MsgpackType::kArray, 0, format & 0x0f, 1);
  if ((format & 0xe0) == 0xa0) {
    const std::uint64_t size = format & 0x1f;
    if (size > left - 1) return truncated(1 + size, left);
    return Header{MsgpackType::kStr, 1, size};
  }
  switch (format) {
    case 0xc0:
      return Header{MsgpackType::kNil, 1, 0};
    case 0xc2:
      return Header{MsgpackType::kBool, 1, 0};
    case 0xc3:
      return Header{MsgpackType::kBool, 1, 1};
    case 0xc4:
      return sized(MsgpackType::kBin, 1, 0);
    case 0xc5:
      return sized(MsgpackType::kBin, 2, 0);
    case 0xc6:
      return sized(MsgpackType::kBin, 4, 0);
    case 0xc7:
      return sized(MsgpackType::kExt, 1, 1);  // payload counts the ext type byte
    case 0xc8:
      return sized(MsgpackType::kExt, 2, 1);
    case 0xc9:
      return sized(MsgpackType::kExt, 4, 1);
    case 0xca:
      if (!load(4)) return truncated(5, left);
      return Header{MsgpackType::kFloat32, 5, field};
    case 0xcb:
      if (!load(8)) return truncated(9, left);
      return Header{MsgpackType::kFloat64, 9, field};
    case 0xcc:
      return integer(1, false);
    case 0xcd:
      return integer(2, false);
    case 0xce:
      return integer(4, false);
    case 0xcf:
      return integer(8, false);
    case 0xd0:
      return integer(1, true);
    case 0xd1:
      return integer(2, true);
    case 0xd2:
      return integer(4, true);
    case 0xd3:
      return integer(8, true);
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: {
      // fixext 1, 2, 4, 8, 16: a type byte and 2^(format - 0xd4) data bytes.
      const std::uint64_t payload = 1 + (std::uint64_t{1} << (format - 0xd4));
      if (payload > left - 1) return truncated(1 + payload, left);
      return Header{MsgpackType::kExt, 1, payload};
    }
    case 0xd9:
      return sized(MsgpackType::kStr, 1, 0);
    case 0xda:
      return sized(MsgpackType::kStr, 2, 0);
    case 0xdb:
      return sized(MsgpackType::kStr, 4, 0);
    case 0xdc:
      return container(MsgpackType::kArray, 2, 0, 1);
    case 0xdd:
      return container(MsgpackType::kArray, 4, 0, 1);
    case 0xde:
      return container(MsgpackType::kMap, 2, 0, 2);
    case 0xdf:
      return container(MsgpackType::kMap, 4, 0, 2);
    default:
      break;
  }
  return fail(
      "msgpack.invalid", "byte 0x" +
                             [&] {
                               static constexpr char kHex[] = "0123456789abcdef";
                               return std::string{kHex[format >> 4], kHex[format & 0x0f]};
                             }() +
                             " at offset " + std::to_string(pos_) + " is not a MessagePack format");
}

Result<MsgpackType> MsgpackReader::peek_type() const {
  auto header = read_header();
  if (!header) return Failure{std::move(header).error()};
  return header->type;
}

Result<void> MsgpackReader::read_nil() {
  auto header = read_header();
  if (!header) return Failure{std::move(header).error()};
  if (header->type != MsgpackType::kNil) return wrong_type("nil", header->type);
  pos_ += header->header_size;
  return ok();
}

Result<bool> MsgpackReader::read_bool() {
  auto header = read_header();
  if (!header) return Failure{std::move(header).error()};
  if (header->type != MsgpackType::kBool) return wrong_type("bool", header->type);
  pos_ += header->header_size;
  return header->length != 0;
}

Result<std::uint64_t> MsgpackReader::read_uint() {
  auto header = read_header();
  if (!header) return Failure{std::move(header).error()};
  if (header->type == MsgpackType::kInt) {
    return fail("msgpack.range",
                std::to_string(static_cast<std::int64_t>(header->length)) + " is negative");
  }
  if (header->type != MsgpackType::kUint) return wrong_type("integer", header->type);
  pos_ += header->header_size;
  return header->length;
}

Result<std::int64_t> MsgpackReader::read_int() {
  auto header = read_header();
  if (!header) return Failure{std::move(header).error()};
  if (header->type != MsgpackType::kUint && header->type != MsgpackType::kInt) {
    return wrong_type("integer", header->type);
  }
  if (header->type == MsgpackType::kUint &&
      header->length > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return fail("msgpack.range", std::to_string(header->length) + " does not fit int64");
  }
  pos_ += header->header_size;
  return static_cast<std::int64_t>(header->length);
}

Result<double> MsgpackReader::read_float() {
  auto header = read_header();
  if (!header) return Failure{std::move(header).error()};
  if (header->type == MsgpackType::kFloat32) {
    pos_ += header->header_size;
    return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(header->length)));
  }
  if (header->type == MsgpackType::kFloat64) {
    pos_ += header->header_size;
    return std::bit_cast<double>(header->length);
  }
  return wrong_type("float", header->type);
}

Result<std::string_view> MsgpackReader::read_str() {
  auto header = read_header();
  if (!header) return Failure{std::move(header).error()};
  if (header->type != MsgpackType::kStr) return wrong_type("str", header->type);
  const auto* start = reinterpret_cast<const char*>(bytes_.data() + pos_ + header->header_size);
  pos_ += header->header_size + header->length;
  return std::string_view(start, header->length);
}

Result<std::span<const std::uint8_t>> MsgpackReader::read_bin() {
  auto header = read_header();
  if (!header) return Failure{std::move(header).error()};
  if (header->type != MsgpackType::kBin) return wrong_type("bin", header->type);
  auto payload = bytes_.subspan(pos_ + header->header_size, header->length);
  pos_ += header->header_size + header->length;
  return payload;
}

Result<std::uint32_t> MsgpackReader::read_array_header() {
  auto header = read_header();
  if (!header) return Failure{std::move(header).error()};
  if (header->type != MsgpackType::kArray) return wrong_type("array", header->type);
  pos_ += header->header_size;
  return static_cast<std::uint32_t>(header->length);
}

Result<std::uint32_t> MsgpackReader::read_map_header() {
  auto header = read_header();
  if (!header) return Failure{std::move(header).error()};
  if (header->type != MsgpackType::kMap) return wrong_type("map", header->type);
  pos_ += header->header_size;
  return static_cast<std::uint32_t>(header->length);
}

Result<void> MsgpackReader::skip() {
  const std::size_t start = pos_;
  auto result = skip_at_depth(0);
  if (!result) pos_ = start;
  return result;
}

Result<void> MsgpackReader::skip_at_depth(std::size_t depth) {
  auto header = read_header();
  if (!header) return Failure{std::move(header).error()};
  switch (header->type) {
    case MsgpackType::kStr:
    case MsgpackType::kBin:
    case MsgpackType::kExt:
      pos_ += header->header_size + header->length;
      return ok();
    case MsgpackType::kArray:
    case MsgpackType::kMap: {
      if (depth >= max_depth_) {
        return fail("msgpack.depth", "containers nested deeper than " + std::to_string(max_depth_));
      }
      pos_ += header->header_size;
      const std::uint64_t values =
          header->type == MsgpackType::kMap ? header->length * 2 : header->length;
      for (std::uint64_t i = 0; i < values; ++i) {
        auto inner = skip_at_depth(depth + 1);
        if (!inner) return inner;
      }
      return ok();
    }
    default:
      pos_ += header->header_size;
      return ok();
  }
}

}  // namespace nextmini::messages::detail
