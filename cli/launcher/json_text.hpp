#pragma once
// Small helpers for the JSON files the launcher writes (state.json, quoting strings with
// nextmini::json_quote) and reads (state.json and the controller's status file). Reading goes
// through Boost.PropertyTree's header-only JSON parser, which keeps every scalar as text; these
// helpers convert with clear errors.

#include <boost/property_tree/ptree.hpp>
#include <string>
#include <string_view>

#include "nextmini/common/json_quote.hpp"
#include "nextmini/common/result.hpp"

namespace nextmini::launcher {

using JsonTree = boost::property_tree::ptree;

// Parses JSON text; `what` names the source in the error ("state file /run/nextmini/state.json").
Result<JsonTree> parse_json(const std::string& text, const std::string& what);

}  // namespace nextmini::launcher
