#pragma once
// The `edges` column of routes and group_routes: a JSON list of [from, to] node-id pairs,
// "[[1, 2], [2, 3]]". parse_edges accepts exactly that (whitespace anywhere, ids 1..2^32-1) and
// names what is wrong otherwise ("edges: element 2 is not a [from, to] pair of node ids");
// format_edges writes it. Errors have the code "store.bad_row". Thread: none (pure functions).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::controller::pg {

using EdgeList = std::vector<std::pair<messages::NodeId, messages::NodeId>>;

Result<EdgeList> parse_edges(std::string_view json);
std::string format_edges(const EdgeList& edges);

}  // namespace nextmini::controller::pg
