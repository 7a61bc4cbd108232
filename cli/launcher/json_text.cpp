#include "json_text.hpp"

#include <fmt/format.h>

#include <boost/property_tree/json_parser.hpp>
#include <sstream>

namespace nextmini::launcher {

std::string json_quote(std::string_view text) {
  std::string result = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        result += "\\\"";
        break;
      case '\\':
        result += "\\\\";
        break;
      case '\n':
        result += "\\n";
        break;
      case '\r':
        result += "\\r";
        break;
      case '\t':
        result += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          result += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          result += c;
        }
    }
  }
  result += '"';
  return result;
}

Result<JsonTree> parse_json(const std::string& text, const std::string& what) {
  std::istringstream in(text);
  JsonTree tree;
  try {
    boost::property_tree::read_json(in, tree);
  } catch (const boost::property_tree::json_parser_error& error) {
    return fail("launcher.json", fmt::format("{} is not valid JSON: line {}: {}", what,
                                             error.line(), error.message()));
  }
  return tree;
}

}  // namespace nextmini::launcher
