// The control-message codec: a generic encoder and decoder that walk the field lists of
// schema.hpp, plus the envelope { "v", "type", "body" } around them.

#include "nextmini/messages/codec.hpp"

#include <array>
#include <concepts>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "nextmini/messages/detail/msgpack_reader.hpp"
#include "nextmini/messages/detail/msgpack_writer.hpp"
#include "schema.hpp"

namespace nextmini::messages {

namespace {

using detail::MsgpackReader;
using detail::MsgpackType;
using detail::MsgpackWriter;
using detail::Schema;

template <typename T>
concept Described = requires {
  Schema<T>::kFields;
};

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

template <typename T>
struct IsStringMap : std::false_type {};
template <typename T>
struct IsStringMap<std::map<std::string, T>> : std::true_type {};

template <typename T>
concept WireInteger = std::integral<T> && !std::same_as<T, bool>;

template <typename T>
constexpr std::string_view integer_name() {
  if constexpr (std::is_same_v<T, std::uint8_t>) return "uint8";
  if constexpr (std::is_same_v<T, std::uint16_t>) return "uint16";
  if constexpr (std::is_same_v<T, std::uint32_t>) return "uint32";
  if constexpr (std::is_same_v<T, std::uint64_t>) return "uint64";
  if constexpr (std::is_same_v<T, std::int8_t>) return "int8";
  if constexpr (std::is_same_v<T, std::int16_t>) return "int16";
  if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  return "integer";
}

// A string from the wire, made safe to put in an error message: printable ASCII is kept, any
// other byte becomes \xNN, and long strings are cut.
std::string printable(std::string_view text) {
  constexpr std::size_t kMaxShown = 64;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\' && byte != '"') {
      out.push_back(static_cast<char>(byte));
    } else {
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0f]);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  return out;
}

// ---- encoding -------------------------------------------------------------------------------

template <typename T>
void encode_value(MsgpackWriter& writer, const T& value);

template <Described T>
void encode_struct(MsgpackWriter& writer, const T& value) {
  static_assert(detail::schema_is_complete<T>(),
                "schema.hpp does not list every member of this struct (or lists too many)");
  constexpr auto& fields = Schema<T>::kFields;
  std::uint32_t present = 0;
  std::apply(
      [&](const auto&... field) {
        auto count = [&](const auto& f) {
          using Member = typename std::decay_t<decltype(f)>::MemberType;
          if constexpr (IsOptional<Member>::value) {
            if ((value.*f.member).has_value()) ++present;
          } else {
            ++present;
          }
        };
        (count(field), ...);
      },
      fields);
  writer.write_map_header(present);
  std::apply(
      [&](const auto&... field) {
        auto write = [&](const auto& f) {
          using Member = typename std::decay_t<decltype(f)>::MemberType;
          const Member& member = value.*f.member;
          if constexpr (IsOptional<Member>::value) {
            if (!member.has_value()) return;
            writer.write_str(f.name);
            encode_value(writer, *member);
          } else {
            writer.write_str(f.name);
            encode_value(writer, member);
          }
        };
        (write(field), ...);
      },
      fields);
}

template <typename T>
void encode_value(MsgpackWriter& writer, const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    writer.write_bool(value);
  } else if constexpr (WireInteger<T> && std::is_unsigned_v<T>) {
    writer.write_uint(value);
  } else if constexpr (WireInteger<T>) {
    writer.write_int(value);
  } else if constexpr (std::is_same_v<T, double>) {
    writer.write_float64(value);
  } else if constexpr (std::is_same_v<T, std::string>) {
    writer.write_str(value);
  } else if constexpr (IsVector<T>::value) {
    writer.write_array_header(static_cast<std::uint32_t>(value.size()));
    for (const auto& element : value) encode_value(writer, element);
  } else if constexpr (IsStringMap<T>::value) {
    writer.write_map_header(static_cast<std::uint32_t>(value.size()));
    for (const auto& [key, element] : value) {
      writer.write_str(key);
      encode_value(writer, element);
    }
  } else {
    static_assert(Described<T>, "no wire form for this type: add a Schema in schema.hpp");
    encode_struct(writer, value);
  }
}

// ---- decoding -------------------------------------------------------------------------------

// The reader and the path of the value being decoded ("InstallRoutes.routes[2].next_hops").
// The path is kept as a stack of parts (no allocation per field) and spelled out only when an
// error needs it.
struct PathPart {
  enum class Kind { kField, kIndex, kKey };
  Kind kind;
  std::string_view text;  // field name, or map key (points into the schema or the input)
  std::size_t index;      // array index
};

struct DecodeContext {
  MsgpackReader& reader;
  std::string_view root;  // the message's wire name
  std::vector<PathPart> parts;

  std::string path() const {
    std::string out(root);
    for (const auto& part : parts) {
      switch (part.kind) {
        case PathPart::Kind::kField:
          out += '.';
          out += part.text;
          break;
        case PathPart::Kind::kIndex:
          out += '[' + std::to_string(part.index) + ']';
          break;
        case PathPart::Kind::kKey:
          out += "[\"" + printable(part.text) + "\"]";
          break;
      }
    }
    return out;
  }
};

// Pushes a path part for the lifetime of the guard.
class PathSegment {
 public:
  PathSegment(DecodeContext& context, PathPart part) : context_(context) {
    context_.parts.push_back(part);
  }
  ~PathSegment() { context_.parts.pop_back(); }
  PathSegment(const PathSegment&) = delete;
  PathSegment& operator=(const PathSegment&) = delete;

 private:
  DecodeContext& context_;
};

Failure field_error(const DecodeContext& context, std::string_view what) {
  return fail("decode.field", context.path() + ": " + std::string(what));
}

// A reader error inside the body: type and range problems name the field; anything else means
// the bytes themselves are broken (decode() validates them first, so this is a backstop).
Failure reader_error(const DecodeContext& context, const Error& error) {
  if (error.code == "msgpack.type" || error.code == "msgpack.range") {
    return field_error(context, error.message);
  }
  return fail("decode.malformed", context.path() + ": " + error.message);
}

template <typename T>
Result<void> decode_value(DecodeContext& context, T& out);

template <Described T>
Result<void> decode_struct(DecodeContext& context, T& out) {
  auto count = context.reader.read_map_header();
  if (!count) return reader_error(context, count.error());
  constexpr auto& fields = Schema<T>::kFields;
  constexpr std::size_t kFieldCount = std::tuple_size_v<std::decay_t<decltype(fields)>>;
  std::array<bool, kFieldCount> seen{};
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto key = context.reader.read_str();
    if (!key) return field_error(context, "map key " + std::to_string(i) + " is not a str");
    bool matched = false;
    Result<void> result = ok();
    std::apply(
        [&](const auto&... field) {
          std::size_t index = 0;
          auto try_field = [&](const auto& f) {
            const std::size_t this_index = index++;
            if (matched || f.name != *key) return;
            matched = true;
            PathSegment segment(context, {PathPart::Kind::kField, f.name, 0});
            if (seen[this_index]) {
              result = field_error(context, "duplicate key");
              return;
            }
            seen[this_index] = true;
            result = decode_value(context, out.*f.member);
          };
          (try_field(field), ...);
        },
        fields);
    if (!result) return result;
    if (!matched) {
      // An unknown field: a newer peer may send it. Skip its value.
      auto skipped = context.reader.skip();
      if (!skipped) return reader_error(context, skipped.error());
    }
  }
  return ok();
}

template <typename T>
Result<void> decode_value(DecodeContext& context, T& out) {
  MsgpackReader& reader = context.reader;
  if constexpr (std::is_same_v<T, bool>) {
    auto value = reader.read_bool();
    if (!value) return reader_error(context, value.error());
    out = *value;
  } else if constexpr (WireInteger<T> && std::is_unsigned_v<T>) {
    auto value = reader.read_uint();
    if (!value) {
      if (value.error().code == "msgpack.range") {
        return field_error(context, value.error().message + ", out of range for " +
                                        std::string(integer_name<T>()));
      }
      return reader_error(context, value.error());
    }
    if (*value > std::numeric_limits<T>::max()) {
      return field_error(context, std::to_string(*value) + " is out of range for " +
                                      std::string(integer_name<T>()));
    }
    out = static_cast<T>(*value);
  } else if constexpr (WireInteger<T>) {
    auto value = reader.read_int();
    if (!value) return reader_error(context, value.error());
    if (*value < std::numeric_limits<T>::min() || *value > std::numeric_limits<T>::max()) {
      return field_error(context, std::to_string(*value) + " is out of range for " +
                                      std::string(integer_name<T>()));
    }
    out = static_cast<T>(*value);
  } else if constexpr (std::is_same_v<T, double>) {
    // Floats of either width; integers too, since some peers write 2 for 2.0.
    auto type = reader.peek_type();
    if (!type) return reader_error(context, type.error());
    if (*type == MsgpackType::kUint) {
      out = static_cast<double>(*reader.read_uint());
    } else if (*type == MsgpackType::kInt) {
      out = static_cast<double>(*reader.read_int());
    } else {
      auto value = reader.read_float();
      if (!value) return reader_error(context, value.error());
      out = *value;
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    auto value = reader.read_str();
    if (!value) return reader_error(context, value.error());
    out.assign(value->data(), value->size());
  } else if constexpr (IsOptional<T>::value) {
    // nil means "not set", like an absent key.
    auto type = reader.peek_type();
    if (!type) return reader_error(context, type.error());
    if (*type == MsgpackType::kNil) {
      (void)reader.read_nil();
      out.reset();
      return ok();
    }
    typename T::value_type value{};
    auto result = decode_value(context, value);
    if (!result) return result;
    out = std::move(value);
  } else if constexpr (IsVector<T>::value) {
    auto count = reader.read_array_header();
    if (!count) return reader_error(context, count.error());
    out.clear();
    out.reserve(*count);  // bounded by the bytes left (see read_array_header)
    for (std::uint32_t i = 0; i < *count; ++i) {
      PathSegment segment(context, {PathPart::Kind::kIndex, {}, i});
      typename T::value_type element{};
      auto result = decode_value(context, element);
      if (!result) return result;
      out.push_back(std::move(element));
    }
  } else if constexpr (IsStringMap<T>::value) {
    auto count = reader.read_map_header();
    if (!count) return reader_error(context, count.error());
    out.clear();
    for (std::uint32_t i = 0; i < *count; ++i) {
      auto key = reader.read_str();
      if (!key) return field_error(context, "map key " + std::to_string(i) + " is not a str");
      PathSegment segment(context, {PathPart::Kind::kKey, *key, 0});
      std::string name(key->data(), key->size());
      if (out.contains(name)) return field_error(context, "duplicate key");
      typename T::mapped_type element{};
      auto result = decode_value(context, element);
      if (!result) return result;
      out.emplace(std::move(name), std::move(element));
    }
  } else {
    static_assert(Described<T>, "no wire form for this type: add a Schema in schema.hpp");
    return decode_struct(context, out);
  }
  return ok();
}

// ---- the message table ----------------------------------------------------------------------

using BodyDecoder = Result<Message> (*)(MsgpackReader&);

template <typename T>
Result<Message> decode_body(MsgpackReader& reader) {
  DecodeContext context{reader, Schema<T>::kName, {}};
  context.parts.reserve(8);
  T value{};
  auto result = decode_struct(context, value);
  if (!result) return Failure{std::move(result).error()};
  return Message{std::move(value)};
}

struct MessageKind {
  std::string_view name;
  BodyDecoder decode;
};

template <std::size_t... I>
constexpr std::array<MessageKind, sizeof...(I)> make_kinds(std::index_sequence<I...>) {
  return {MessageKind{Schema<std::variant_alternative_t<I, Message>>::kName,
                      &decode_body<std::variant_alternative_t<I, Message>>}...};
}

constexpr auto kKinds = make_kinds(std::make_index_sequence<std::variant_size_v<Message>>{});

constexpr bool names_are_unique() {
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    for (std::size_t j = i + 1; j < kKinds.size(); ++j) {
      if (kKinds[i].name == kKinds[j].name) return false;
    }
  }
  return true;
}
static_assert(names_are_unique(), "two messages share a wire type name");

Failure malformed(std::string message) { return fail("decode.malformed", std::move(message)); }

}  // namespace

std::vector<std::uint8_t> encode(const Message& message) {
  MsgpackWriter writer;
  writer.write_map_header(3);
  writer.write_str("v");
  writer.write_uint(kProtocolVersion);
  writer.write_str("type");
  writer.write_str(type_name(message));
  writer.write_str("body");
  std::visit([&](const auto& body) { encode_struct(writer, body); }, message);
  return writer.take();
}

std::string_view type_name(const Message& message) { return kKinds[message.index()].name; }

std::string peek_type_name(std::span<const std::uint8_t> bytes) {
  MsgpackReader reader(bytes);
  auto entries = reader.read_map_header();
  if (!entries) return {};
  for (std::uint32_t i = 0; i < *entries; ++i) {
    auto key = reader.read_str();
    if (!key) return {};
    if (*key == "type") {
      auto value = reader.read_str();
      if (!value) return {};
      return std::string(value->substr(0, kMaxPeekedTypeName));
    }
    if (!reader.skip()) return {};
  }
  return {};
}

Result<Message> decode(std::span<const std::uint8_t> bytes) {
  // 1. The bytes must be exactly one well-formed MessagePack value.
  {
    MsgpackReader validator(bytes);
    auto valid = validator.skip();
    if (!valid) return malformed("not a MessagePack message: " + valid.error().message);
    if (!validator.at_end()) {
      return malformed(std::to_string(validator.remaining()) +
                       " bytes after the end of the message");
    }
  }

  // 2. The envelope: a map with "v", "type" and "body" (other keys are ignored).
  MsgpackReader reader(bytes);
  auto entries = reader.read_map_header();
  if (!entries) return malformed("the message is not a map: " + entries.error().message);
  std::optional<std::uint64_t> version;
  std::optional<std::string_view> type;
  std::optional<std::size_t> body_offset;
  for (std::uint32_t i = 0; i < *entries; ++i) {
    auto key = reader.read_str();
    if (!key) return malformed("envelope key " + std::to_string(i) + " is not a str");
    const bool duplicate =
        (*key == "v" && version) || (*key == "type" && type) || (*key == "body" && body_offset);
    if (duplicate) return malformed("envelope has two \"" + std::string(*key) + "\" keys");
    if (*key == "v") {
      auto value = reader.read_uint();
      if (!value) return malformed("envelope v: " + value.error().message);
      version = *value;
    } else if (*key == "type") {
      auto value = reader.read_str();
      if (!value) return malformed("envelope type: " + value.error().message);
      type = *value;
    } else if (*key == "body") {
      auto kind = reader.peek_type();
      if (!kind || *kind != MsgpackType::kMap) {
        return malformed("envelope body: expected map, got " +
                         std::string(kind ? detail::msgpack_type_name(*kind) : "nothing"));
      }
      body_offset = reader.position();
      (void)reader.skip();  // validated above
    } else {
      (void)reader.skip();  // an envelope field from a newer peer
    }
  }
  if (!version) return malformed("envelope has no v (protocol version)");
  if (*version != kProtocolVersion) {
    return fail("decode.version", "protocol version " + std::to_string(*version) +
                                      " is not supported (this build speaks version " +
                                      std::to_string(kProtocolVersion) + ")");
  }
  if (!type) return malformed("envelope has no type");
  if (!body_offset) return malformed("envelope has no body");

  // 3. The body, decoded as the named type.
  for (const auto& kind : kKinds) {
    if (kind.name == *type) {
      MsgpackReader body(bytes.subspan(*body_offset));
      return kind.decode(body);
    }
  }
  return fail("decode.unknown_type", "unknown message type \"" + printable(*type) + "\"");
}

}  // namespace nextmini::messages
