#pragma once
// json_quote: a string as a JSON string literal, quotes included ("a\"b" -> "\"a\\\"b\"").
// Escapes the quote, the backslash and every control character; other bytes pass through, so
// UTF-8 stays UTF-8. For the small JSON files Nextmini writes (status, state).

#include <cstdio>
#include <string>
#include <string_view>

namespace nextmini {

inline std::string json_quote(std::string_view text) {
  std::string out = "\"";
  out.reserve(text.size() + 2);
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace nextmini
