#pragma once
// Small helpers for the JSON files the launcher writes (state.json, quoting strings with
// nextmini::json_quote) and reads (state.json and the controller's status file), on top of
// Boost.JSON (the project's one JSON library: the controller's HTTP API and `nextmini ctl` use
// it too). Reads convert with clear errors instead of throwing.

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "nextmini/common/json_quote.hpp"
#include "nextmini/common/result.hpp"

namespace nextmini::launcher {

using JsonObject = boost::json::object;
using JsonValue = boost::json::value;

// Parses JSON text that must be an object; `what` names the source in the error
// ("state file /run/nextmini/state.json is not valid JSON: ...").
Result<JsonObject> parse_json(const std::string& text, const std::string& what);

// A number as T, when `value` is a number that fits (integers exactly; a double only for a
// floating-point T or when it is integral).
template <typename T>
std::optional<T> json_number(const JsonValue& value) {
  if (!value.is_number()) return std::nullopt;
  boost::system::error_code error;
  const T number = value.to_number<T>(error);
  if (error) return std::nullopt;
  return number;
}

// object[key] as a string / number / bool, or `fallback` when it is absent or another type.
std::string json_string_or(const JsonObject& object, std::string_view key,
                           std::string_view fallback);
template <typename T>
T json_number_or(const JsonObject& object, std::string_view key, T fallback) {
  const JsonValue* value = object.if_contains(key);
  if (value == nullptr) return fallback;
  return json_number<T>(*value).value_or(fallback);
}
bool json_bool_or(const JsonObject& object, std::string_view key, bool fallback);

// A value as written, for messages: "\"abc\"", "4", "[1,2]".
std::string json_shown(const JsonValue& value);

}  // namespace nextmini::launcher
