// Fuzz target for the control-message decoder (messages/codec.hpp).
// Any input must give either a message or one of the documented decode errors, never a crash.
// A decoded message must survive a second round trip unchanged: encode(decode(encode(m))) is
// byte-for-byte encode(m), so the encoder and decoder agree on everything the decoder accepts.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "nextmini/messages/codec.hpp"

namespace {

[[noreturn]] void fuzz_failure() { std::abort(); }

bool is_decode_error(std::string_view code) {
  return code == "decode.malformed" || code == "decode.version" || code == "decode.unknown_type" ||
         code == "decode.field";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nextmini::messages;
  const std::span<const std::uint8_t> bytes(data, size);
  if (peek_type_name(bytes).size() > kMaxPeekedTypeName) fuzz_failure();
  auto decoded = decode(bytes);
  if (!decoded) {
    if (!is_decode_error(decoded.error().code) || decoded.error().message.empty()) fuzz_failure();
    return 0;
  }
  if (peek_type_name(bytes) != type_name(*decoded)) fuzz_failure();
  const auto first = encode(*decoded);
  auto again = decode(first);
  if (!again || again->index() != decoded->index()) fuzz_failure();
  if (encode(*again) != first) fuzz_failure();
  return 0;
}
