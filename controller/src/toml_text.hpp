#pragma once
// TOML values as the config's error messages show them, in one place for every config reader
// (config.cpp, link_config.cpp, flow_config.cpp): strings quoted with " and \ escaped, numbers
// and booleans as written, lists element by element ("[1, [2, 3]]"), "a table", "a date/time".
// Private to the controller library because it needs toml++.

#include <toml++/toml.h>

#include <string>

#include "nextmini/controller/link_knobs.hpp"

namespace nextmini::controller {

// The value as written: "\"20xs\"", "3", "[1, 2]", "a table".
std::string describe_toml_value(const toml::node& node);

// The value as a KnobValue for LinkKnobReader; a list or date becomes KnobValue::other with its
// description, so every reader shows it the same way.
KnobValue knob_value(const toml::node& node);

}  // namespace nextmini::controller
