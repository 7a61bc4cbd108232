#include "nextmini/controller/status_file.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "nextmini/common/json_quote.hpp"

namespace nextmini::controller {

namespace {

std::string optional_number(const std::optional<std::uint64_t>& value) {
  return value ? std::to_string(*value) : "null";
}

std::string flow_json(const FlowRecord& flow) {
  std::string completion = "null";
  if (flow_state(flow) == "finished" && flow.start_time_ns &&
      *flow.finish_time_ns >= *flow.start_time_ns) {
    completion = fmt::format("{:.3f}",
                             static_cast<double>(*flow.finish_time_ns - *flow.start_time_ns) / 1e6);
  }
  return fmt::format(
      "{{\"id\":{},\"src\":{},\"dst\":{},\"state\":\"{}\",\"bytes\":{},\"start_ns\":{},"
      "\"finish_ns\":{},\"completion_ms\":{},\"error\":{}}}",
      flow.spec.flow_id, flow.spec.src, flow.spec.dst, flow_state(flow), flow.bytes,
      optional_number(flow.start_time_ns), optional_number(flow.finish_time_ns), completion,
      json_quote(flow.error));
}

}  // namespace

std::string status_json(const ControllerStatus& status) {
  const auto& b = status.bring_up;
  std::string errors;
  for (std::size_t i = 0; i < status.errors.size(); ++i) {
    if (i > 0) errors += ",";
    errors += json_quote(status.errors[i]);
  }
  std::string flows;
  for (const auto& flow : status.flows) {
    if (!flows.empty()) flows += ",";
    flows += flow_json(flow);
  }
  return fmt::format(
      "{{\"n_nodes\":{},\"connected\":{},\"ready\":{},\"topology_ready\":{},\"routes\":{},"
      "\"edges\":{},\"port\":{},\"pid\":{},\"errors\":[{}],\"connected_nodes\":[{}],"
      "\"ready_nodes\":[{}],\"http\":{},\"flows\":[{}]}}\n",
      b.n_nodes, b.connected, b.ready, b.topology_ready ? "true" : "false", b.routes, b.edges,
      status.port, status.pid, errors, fmt::join(b.connected_nodes, ","),
      fmt::join(b.ready_nodes, ","), json_quote(status.http), flows);
}

Result<void> write_status_file(const std::string& path, const ControllerStatus& status) {
  const std::string temporary = path + ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "w");
  if (file == nullptr) {
    return fail("status.io", fmt::format("{}: {}", temporary, std::strerror(errno)));
  }
  const std::string text = status_json(status);
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    std::remove(temporary.c_str());
    return fail("status.io", fmt::format("{}: write failed", temporary));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    return fail("status.io", fmt::format("{}: {}", path, std::strerror(error)));
  }
  return ok();
}

}  // namespace nextmini::controller
