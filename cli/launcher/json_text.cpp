#include "json_text.hpp"

#include <fmt/format.h>

#include <boost/property_tree/json_parser.hpp>
#include <sstream>

namespace nextmini::launcher {

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
