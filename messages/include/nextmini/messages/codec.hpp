#pragma once
// Wire form of the control protocol: one MessagePack map per WebSocket binary frame,
//   { "v": <protocol version>, "type": "<message type name>", "body": { <named fields> } }
// Unknown fields are ignored (a newer peer may add some); a missing field takes its default.
// Unset optional fields are left out; nil reads as unset. Integers of any MessagePack format
// are accepted when they fit the field; float fields accept float32, float64 and integers.
// The field lists live in messages/src/schema.hpp; docs/protocol.md describes every message.
// encode() and decode() are stateless and safe to call from any thread; decode() never throws
// on bad input (it returns an Error) and never reads outside `bytes`.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::messages {

// Error codes returned by decode():
//   "decode.malformed"     not MessagePack, truncated, or not the envelope's shape
//   "decode.version"       the envelope's version is not kProtocolVersion
//   "decode.unknown_type"  the type name is not one this build knows
//   "decode.field"         a known field has the wrong MessagePack type or is out of range
std::vector<std::uint8_t> encode(const Message& message);
Result<Message> decode(std::span<const std::uint8_t> bytes);

// The wire type name of a message ("StartUp", "InstallRoutes", ...).
std::string_view type_name(const Message& message);

// The envelope's "type" string of an encoded message, read without decoding the body, so an
// Error reply can fill in_reply_to even when decode() failed. Empty when the bytes have no
// readable type. At most kMaxPeekedTypeName bytes (a longer name is cut).
inline constexpr std::size_t kMaxPeekedTypeName = 128;
std::string peek_type_name(std::span<const std::uint8_t> bytes);

}  // namespace nextmini::messages
