#include "nextmini/controller/controller_server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <span>

#include "nextmini/messages/codec.hpp"
#include "node_session.hpp"

namespace nextmini::controller {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

ControllerServer::ControllerServer(asio::io_context& io, BringUp& bring_up, Options options)
    : io_(io), bring_up_(bring_up), options_(std::move(options)), acceptor_(io) {}

ControllerServer::~ControllerServer() {
  for (auto& [id, session] : sessions_) {
    session->detach();
    session->close();
  }
}

Result<void> ControllerServer::start() {
  boost::system::error_code error;
  const auto address = asio::ip::make_address(options_.listen_address, error);
  if (error) {
    return fail("server.listen",
                fmt::format("listen address \"{}\" is not an IP address", options_.listen_address));
  }
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return fail("server.listen", fmt::format("cannot listen on {}:{}: {}", options_.listen_address,
                                             options_.port, error.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  spdlog::info("controller listening on {}:{} ({} nodes)", options_.listen_address, port_,
               bring_up_.status().n_nodes);
  write_status();
  accept_next();
  return ok();
}

void ControllerServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  const auto sessions = sessions_;  // closing may remove entries
  for (const auto& [id, session] : sessions) session->close();
}

void ControllerServer::async_stop() {
  asio::post(io_, [this] { stop(); });
}

void ControllerServer::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code error, tcp::socket socket) {
    if (error) {
      if (stopped_ || error == asio::error::operation_aborted) return;
      spdlog::warn("accept failed: {}", error.message());
    } else {
      auto session =
          std::make_shared<detail::NodeSession>(std::move(socket), next_connection_++, this);
      on_session_open(session);
      session->start();
    }
    if (!stopped_) accept_next();
  });
}

void ControllerServer::on_session_open(const std::shared_ptr<detail::NodeSession>& session) {
  ++counters_.connections;
  sessions_[session->id()] = session;
  bring_up_.on_connect(session->id(), session->remote_address());
}

void ControllerServer::on_frame(const std::shared_ptr<detail::NodeSession>& session,
                                const std::uint8_t* data, std::size_t size, bool binary) {
  ++counters_.frames_received;
  if (!binary) {
    ++counters_.decode_errors;
    deliver({{session->id(),
              messages::ErrorMessage{"decode.malformed",
                                     "text frame: the protocol uses binary frames", ""},
              false}});
    return;
  }
  const std::span<const std::uint8_t> bytes(data, size);
  auto decoded = messages::decode(bytes);
  if (!decoded) {
    ++counters_.decode_errors;
    spdlog::warn("connection {} (node {}): undecodable frame of {} bytes: {}", session->id(),
                 bring_up_.node_of(session->id()).value_or(0), size, decoded.error().message);
    deliver({{session->id(),
              messages::ErrorMessage{decoded.error().code, decoded.error().message,
                                     messages::peek_type_name(bytes)},
              false}});
    return;
  }
  const bool bring_up_event = std::holds_alternative<messages::StartUp>(*decoded) ||
                              std::holds_alternative<messages::NodeTopologyReady>(*decoded) ||
                              std::holds_alternative<messages::UserFlowStart>(*decoded) ||
                              std::holds_alternative<messages::FlowFinished>(*decoded);
  auto outgoing = bring_up_.on_message(session->id(), *decoded);
  for (const auto& out : outgoing) {
    if (out.connection == session->id() &&
        std::holds_alternative<messages::ErrorMessage>(out.message)) {
      ++counters_.protocol_errors;
    }
  }
  deliver(std::move(outgoing));
  if (bring_up_event) write_status();
}

void ControllerServer::on_session_closed(ConnectionId connection) {
  sessions_.erase(connection);
  const bool was_node = bring_up_.node_of(connection).has_value();
  bring_up_.on_disconnect(connection);
  if (was_node) write_status();
}

void ControllerServer::deliver(std::vector<Outgoing> outgoing) {
  for (auto& out : outgoing) {
    auto it = sessions_.find(out.connection);
    if (it == sessions_.end()) continue;
    auto frame = std::make_shared<const std::vector<std::uint8_t>>(messages::encode(out.message));
    ++counters_.frames_sent;
    it->second->send(std::move(frame), out.close_after);
  }
  if (!ready_reported_ && bring_up_.announced()) {
    ready_reported_ = true;
    if (on_ready_) on_ready_();
  }
}

Result<FlowsAdded> ControllerServer::add_flows(std::vector<messages::FlowSpec> flows) {
  auto added = bring_up_.add_flows(std::move(flows));
  if (!added) return added;
  deliver(std::move(added->outgoing));
  added->outgoing.clear();
  write_status();
  return added;
}

ControllerStatus ControllerServer::status() const {
  ControllerStatus status;
  status.bring_up = bring_up_.status();
  status.port = port_;
  status.pid = static_cast<long>(::getpid());
  status.errors = status_errors_;
  status.http = status_http_;
  status.flows = bring_up_.flows();
  return status;
}

void ControllerServer::write_status() {
  if (options_.status_file.empty()) return;
  if (auto written = write_status_file(options_.status_file, status()); !written) {
    spdlog::warn("status file: {}", written.error().message);
  }
}

}  // namespace nextmini::controller
