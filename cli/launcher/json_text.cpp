#include "json_text.hpp"

#include <fmt/format.h>

namespace nextmini::launcher {

Result<JsonObject> parse_json(const std::string& text, const std::string& what) {
  boost::system::error_code error;
  JsonValue value = boost::json::parse(text, error);
  if (error) {
    return fail("launcher.json", fmt::format("{} is not valid JSON: {}", what, error.message()));
  }
  if (!value.is_object()) {
    return fail("launcher.json", fmt::format("{} is not valid JSON for it: not an object", what));
  }
  return std::move(value.get_object());
}

std::string json_string_or(const JsonObject& object, std::string_view key,
                           std::string_view fallback) {
  const JsonValue* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return std::string(fallback);
  return std::string(value->get_string());
}

bool json_bool_or(const JsonObject& object, std::string_view key, bool fallback) {
  const JsonValue* value = object.if_contains(key);
  if (value == nullptr || !value->is_bool()) return fallback;
  return value->get_bool();
}

std::string json_shown(const JsonValue& value) { return boost::json::serialize(value); }

}  // namespace nextmini::launcher
