#include "nextmini/dataplane/node/node.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <csignal>
#include <iterator>
#include <type_traits>
#include <vector>

#include "nextmini/dataplane/core/gso.hpp"
#include "nextmini/dataplane/flow/flow_runner.hpp"
#include "nextmini/dataplane/io/tun_device.hpp"
#include "nextmini/dataplane/node/control_client.hpp"
#include "nextmini/dataplane/node/emulated_link.hpp"
#include "nextmini/dataplane/node/link_factory.hpp"
#include "nextmini/dataplane/node/processor.hpp"
#include "nextmini/dataplane/route/route_table.hpp"
#include "nextmini/dataplane/transport/link_listener.hpp"
#include "nextmini/dataplane/transport/neighbor_link.hpp"
#include "nextmini/messages/codec.hpp"

namespace nextmini::dataplane {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// The first IPv4 address of an interface that is up and not loopback, or "" if none.
std::string first_non_loopback_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::string found;
  for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    if ((entry->ifa_flags & IFF_LOOPBACK) != 0 || (entry->ifa_flags & IFF_UP) == 0) continue;
    char text[INET_ADDRSTRLEN] = {};
    const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
    if (::inet_ntop(AF_INET, &address->sin_addr, text, sizeof(text)) != nullptr) {
      found = text;
      break;
    }
  }
  ::freeifaddrs(list);
  return found;
}

std::optional<std::uint32_t> parse_ipv4(const std::string& text) {
  in_addr address{};
  if (::inet_pton(AF_INET, text.c_str(), &address) != 1) return std::nullopt;
  return ntohl(address.s_addr);
}

std::optional<Ipv6Address> parse_ipv6(const std::string& text) {
  Ipv6Address address{};
  if (::inet_pton(AF_INET6, text.c_str(), address.data()) != 1) return std::nullopt;
  return address;
}

void add_drops(std::map<std::string, std::uint64_t>& into, const DropCounters& drops) {
  for (std::size_t i = 0; i < kDropReasonCount; ++i)
    if (drops.counts[i] != 0)
      into[std::string(drop_reason_name(static_cast<DropReason>(i)))] += drops.counts[i];
}

// " kQueueFull=3 kLinkDown=1", or " none".
std::string format_drops(const DropCounters& drops) {
  std::string text;
  for (std::size_t i = 0; i < kDropReasonCount; ++i)
    if (drops.counts[i] != 0)
      text += fmt::format(" {}={}", drop_reason_name(static_cast<DropReason>(i)), drops.counts[i]);
  return text.empty() ? " none" : text;
}

// Room kept in a packet buffer for the overlay header (and spare) when sizing the TUN MTU.
constexpr std::size_t kFrameReserve = 64;
constexpr std::uint32_t kIpv6MinimumMtu = 1280;

}  // namespace

// Local deliveries when there is no TUN: hands batches to NodeConfig::local_delivery.
// Super-packets (GSO from a neighbour's TUN) arrive cut into plain packets with complete
// checksums (software_offload into the node's pool); what cannot be cut is dropped.
class Node::LocalSink final : public PacketSink {
 public:
  LocalSink(std::function<void(PacketBatch&)> deliver, PacketPool& pool)
      : deliver_(std::move(deliver)), pool_(pool) {}
  void send(PacketBatch& batch) override {
    if (!deliver_) {
      batch.clear();
      return;
    }
    for (Packet& packet : batch) {
      if (!needs_software_offload(packet)) {
        push(std::move(packet));
        continue;
      }
      software_offload(packet, pool_, [this](Packet&& plain) { push(std::move(plain)); });
    }
    batch.clear();
    if (!plain_.empty()) deliver_(plain_);
    plain_.clear();
  }

 private:
  void push(Packet&& packet) {
    if (plain_.full()) {
      deliver_(plain_);
      plain_.clear();
    }
    plain_.push(std::move(packet));
  }

  std::function<void(PacketBatch&)> deliver_;
  PacketPool& pool_;
  PacketBatch plain_;
};

Node::Node(NodeConfig config)
    : config_(std::move(config)),
      pool_(config_.pool_buffers, config_.buffer_size),
      large_pool_(config_.large_pool_buffers, config_.large_buffer_size),
      metrics_timer_(io_) {
  pool_.set_growth_limit(config_.pool_max_buffers);
  large_pool_.set_growth_limit(config_.large_pool_max_buffers);
  if (config_.workers != 1)
    spdlog::warn("node: {} workers requested; this build runs one worker", config_.workers);
  if (!config_.use_tun) local_sink_ = std::make_unique<LocalSink>(config_.local_delivery, pool_);
}

Node::~Node() {
  stop_now(std::nullopt);
  // Let cancelled handlers finish without blocking, so their buffers go back to the pool.
  io_.restart();
  io_.poll();
}

Result<void> Node::start() {
  if (started_) return ok();
  auto control = ControlClientConfig::from_url(config_.controller_url);
  if (!control) return Failure{control.error()};

  listener_ =
      std::make_unique<LinkListener>(io_, [this](messages::NodeId neighbor, tcp::socket socket) {
        on_accept(neighbor, std::move(socket));
      });
  if (auto listening = listener_->listen(config_.listen_address, config_.link_port); !listening)
    return Failure{listening.error()};
  bound_port_ = listener_->port();

  std::string advertise = config_.advertise_address;
  if (advertise.empty()) {
    const bool wildcard = config_.listen_address == "0.0.0.0" || config_.listen_address == "::";
    advertise = wildcard ? first_non_loopback_ipv4() : config_.listen_address;
    if (advertise.empty()) {
      spdlog::warn(
          "node: no non-loopback IPv4 address to advertise; neighbours will use the "
          "address the controller sees");
    }
  }

  messages::StartUp startup;
  startup.node_id = config_.node_id;
  startup.token = config_.token;
  startup.underlay_address = advertise;
  startup.link_port = listener_->port();
  startup.operating_mode = config_.use_tun ? "tun" : "python";
  id_ = config_.node_id;

  client_ = std::make_unique<ControlClient>(
      io_, std::move(*control), [this](messages::Message& message) { on_message(message); },
      [this](bool connected) { on_control_state(connected); });
  client_->set_startup(std::move(startup));
  client_->start();
  if (config_.handle_signals) {
    signals_ = std::make_unique<asio::signal_set>(io_, SIGINT, SIGTERM);
    signals_->async_wait([this](const boost::system::error_code& error, int signal) {
      if (error) return;
      spdlog::info("node {}: signal {}; stopping", id_.load(), signal);
      stop_now(std::nullopt);
    });
  }
  started_ = true;
  spdlog::info("node: links on {}:{} (advertised as {}), controller {}", config_.listen_address,
               listener_->port(), advertise.empty() ? "-" : advertise, config_.controller_url);
  return ok();
}

Result<void> Node::run() {
  if (!started_) {
    if (auto started = start(); !started) return started;
  }
  io_.run();
  log_summary();
  if (fatal_) return Failure{*fatal_};
  return ok();
}

void Node::async_stop() {
  asio::post(io_, [this] { stop_now(std::nullopt); });
}

void Node::stop_now(std::optional<Error> fatal) {
  if (fatal && !fatal_) fatal_ = std::move(fatal);
  if (stopping_) return;
  stopping_ = true;
  metrics_timer_.cancel();
  if (signals_) {
    boost::system::error_code ignored;
    signals_->cancel(ignored);
  }
  if (client_) client_->close();
  if (flows_) flows_->close();
  if (listener_) listener_->close();
  for (auto& [neighbor, output] : outputs_) output->close();
  for (auto& [neighbor, link] : links_) link->close();
  if (link_factory_) link_factory_->close();
  pending_accepts_.clear();
  if (tun_) tun_->close();
}

void Node::inject_local(PacketBatch& batch) {
  if (processor_ && !stopping_) processor_->process_local(batch);
  batch.clear();
}

void Node::set_flow_weight(const FlowKey& key, std::uint32_t weight) {
  const auto capped = static_cast<std::uint8_t>(std::min<std::uint32_t>(weight, 255));
  if (capped == 0) {
    flow_weights_.erase(key);
  } else {
    flow_weights_[key] = capped;
  }
  if (processor_) processor_->set_flow_weight(key, capped);
}

void Node::forget_flow_weights(messages::FlowId flow) {
  const auto keys = controller_flow_keys_.find(flow);
  if (keys == controller_flow_keys_.end()) return;
  for (const FlowKey& key : keys->second) set_flow_weight(key, 0);
  controller_flow_keys_.erase(keys);
}

void Node::on_control_state(bool connected) {
  if (!connected) {
    // The controller resends the full state on reconnect; readiness is reported again then.
    routes_this_session_ = false;
    reported_ready_ = false;
    topology_ready_ = false;
  }
}

void Node::on_message(messages::Message& message) {
  if (stopping_) return;
  std::visit(
      [this](auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, messages::StartUpReply> ||
                      std::is_same_v<T, messages::AddNode> ||
                      std::is_same_v<T, messages::AddNodeAddress> ||
                      std::is_same_v<T, messages::InstallRoutes> ||
                      std::is_same_v<T, messages::SetLinkParams> ||
                      std::is_same_v<T, messages::AddFlows>) {
          apply(body);
        } else if constexpr (std::is_same_v<T, messages::TopologyReady>) {
          topology_ready_ = true;
          spdlog::info("node {}: topology ready ({} nodes)", id_.load(), body.n_nodes);
        } else if constexpr (std::is_same_v<T, messages::ErrorMessage>) {
          if (body.code == "auth.denied") {
            spdlog::error("node: the controller refused this node: {}", body.message);
            stop_now(Error{"control.refused", "the controller refused this node (" + body.code +
                                                  "): " + body.message});
          } else {
            spdlog::warn("node {}: controller reports {}: {}", id_.load(), body.code, body.message);
          }
        } else {
          spdlog::debug("node {}: ignoring {} (not handled by this node yet)", id_.load(),
                        messages::type_name(messages::Message(body)));
        }
      },
      message);
  if (!stopping_) evaluate_readiness();
}

void Node::apply(const messages::StartUpReply& reply) {
  if (reply.node_id == 0) {
    spdlog::warn("node: StartUpReply without a node id; ignoring it");
    return;
  }
  if (id_ != 0 && id_ != reply.node_id && processor_) {
    spdlog::warn("node: the controller changed this node's id from {} to {}", id_.load(),
                 reply.node_id);
    for (auto& [neighbor, link] : links_) processor_->detach_link(neighbor);
    processor_.reset();
  }
  id_ = reply.node_id;
  messages::StartUp startup = client_->startup();
  startup.node_id = reply.node_id;
  client_->set_startup(std::move(startup));
  metrics_interval_ms_ = reply.metrics_interval_ms == 0 ? 1000 : reply.metrics_interval_ms;
  spdlog::info("node {}: started (tun address {}/{}{}, mtu {}, protocol {})", reply.node_id,
               reply.tun_address, reply.prefix_length,
               reply.tun_address6.empty()
                   ? std::string()
                   : fmt::format(" and {}/{}", reply.tun_address6, reply.prefix_length6),
               reply.mtu, reply.protocol);
  if (!ensure_link_factory(reply.protocol)) return;

  if (config_.use_tun) {
    if (!tun_) {
      auto opened =
          TunDevice::open(io_, pool_, config_.tun_name,
                          config_.tun_offloads ? &large_pool_ : nullptr, config_.tun_offloads);
      if (!opened) {
        spdlog::error("node {}: {}", reply.node_id, opened.error().message);
        stop_now(opened.error());
        return;
      }
      tun_ = std::move(*opened);
    }
    // A TUN read must fit a pool buffer, and the framed packet (overlay header in front) must
    // fit the neighbour's: keep the MTU below that.
    const std::size_t room = pool_.buffer_size() - pool_.headroom();
    const std::uint32_t max_mtu =
        room > kFrameReserve ? static_cast<std::uint32_t>(room - kFrameReserve) : 0;
    std::uint32_t mtu = reply.mtu;
    if (mtu > max_mtu) {
      spdlog::warn("node {}: mtu {} does not fit a {}-byte packet buffer; using {}", reply.node_id,
                   mtu, pool_.buffer_size(), max_mtu);
      mtu = max_mtu;
    }
    // IPv6 needs a link MTU of at least 1280 bytes (RFC 8200 §5); below that the kernel turns
    // IPv6 off on the interface, so the node stays IPv4-only.
    std::string address6 = reply.tun_address6;
    if (!address6.empty() && mtu < kIpv6MinimumMtu) {
      spdlog::warn("node {}: mtu {} is below IPv6's minimum of {}; no IPv6 address {} on the TUN",
                   reply.node_id, mtu, kIpv6MinimumMtu, address6);
      address6.clear();
    }
    if (tun_address_ != reply.tun_address || tun_address6_ != reply.tun_address6) {
      auto configured = tun_->configure({reply.tun_address, reply.prefix_length, mtu,
                                         config_.tun_tx_queue, address6, reply.prefix_length6});
      if (!configured) {
        spdlog::error("node {}: {}", reply.node_id, configured.error().message);
        stop_now(configured.error());
        return;
      }
      tun_address_ = reply.tun_address;
      tun_address6_ = reply.tun_address6;
    }
  }
  ensure_processor();
  start_flow_runner();
  if (tun_) {
    tun_->start([this](PacketBatch& batch) {
      if (processor_) processor_->process_local(batch);
    });
  }
  schedule_metrics();
  rebuild_routes();
}

bool Node::ensure_link_factory(const std::string& protocol) {
  if (link_factory_) {
    if (link_factory_->protocol() != protocol) {
      spdlog::warn(
          "node {}: the controller now says protocol '{}'; this node keeps its {} links "
          "until it restarts",
          id_.load(), protocol, link_factory_->protocol());
    }
    return true;
  }
  LinkFactoryConfig links;
  links.listen_address = config_.listen_address;
  links.port = bound_port_;
  links.on_receive = [this](messages::NodeId neighbor, PacketBatch& batch) {
    if (processor_ && !stopping_) processor_->process_from_link(neighbor, batch);
  };
  links.on_state = [this](messages::NodeId neighbor, bool connected) {
    spdlog::info("node {}: link to node {} {}", id_.load(), neighbor, connected ? "up" : "down");
    if (!stopping_) evaluate_readiness();
  };
  auto made = LinkFactory::create(protocol, io_, pool_, &large_pool_, std::move(links));
  if (!made) {
    spdlog::error("node {}: {}", id_.load(), made.error().message);
    stop_now(made.error());
    return false;
  }
  link_factory_ = std::move(*made);
  return true;
}

void Node::start_flow_runner() {
  if (flows_ || tun_address_.empty() || config_.flow_port == 0) return;
  FlowRunnerConfig flow_config;
  flow_config.self = id_;
  flow_config.sink_port = config_.flow_port;
  flows_ = std::make_unique<FlowRunner>(
      io_, flow_config,
      [this](messages::Message report) {
        if (const auto* finished = std::get_if<messages::FlowFinished>(&report)) {
          forget_flow_weights(finished->flow_id);
        }
        if (client_) client_->send(report);
      },
      [this](const messages::FlowSpec& spec, const tcp::endpoint& local,
             const tcp::endpoint& remote) {
        // Before the first packet: pin the connection's route and set its weight.
        const FlowKey key = tcp_flow_key(local, remote);
        if (spec.route_id && processor_) processor_->pin_flow(key, spec.dst, *spec.route_id);
        if (spec.weight) {
          set_flow_weight(key, *spec.weight);
          controller_flow_keys_[spec.flow_id].push_back(key);
        }
      });
  if (auto listening = flows_->listen(tun_address_); !listening) {
    spdlog::error("node {}: {}; controller flows to this node will fail", id_.load(),
                  listening.error().message);
    return;
  }
  spdlog::info("node {}: flow sink on {}:{}", id_.load(), tun_address_, flows_->sink_port());
}

void Node::apply(const messages::AddFlows& add) {
  for (const messages::FlowSpec& spec : add.flows) {
    if (spec.dst == id_) {
      spdlog::info("node {}: expecting flow {} from node {}", id_.load(), spec.flow_id, spec.src);
    }
    if (spec.src != id_) continue;
    std::string remote;
    for (const auto& [address, node] : addresses_) {
      if (node != spec.dst) continue;
      in_addr raw{htonl(address)};
      char text[INET_ADDRSTRLEN] = {};
      if (::inet_ntop(AF_INET, &raw, text, sizeof(text)) != nullptr) remote = text;
    }
    std::string problem;
    if (!flows_) {
      problem = config_.use_tun && config_.flow_port != 0
                    ? "this node's flow runner is not running (see its log)"
                    : "this node runs no flows (no TUN, or flow port 0)";
    } else if (remote.empty()) {
      problem = fmt::format("no TUN address known for node {}", spec.dst);
    }
    if (!problem.empty()) {
      spdlog::warn("node {}: flow {} not started: {}", id_.load(), spec.flow_id, problem);
      client_->send(flow_not_started(spec, id_, problem));
      continue;
    }
    spdlog::info("node {}: starting flow {} to node {} ({})", id_.load(), spec.flow_id, spec.dst,
                 spec.length_bytes ? fmt::format("{} bytes", *spec.length_bytes)
                                   : fmt::format("{} s", spec.duration_s.value_or(0)));
    flows_->start(spec, tun_address_, remote, config_.flow_port);
  }
}

void Node::ensure_processor() {
  if (processor_ || id_ == 0) return;
  ProcessorConfig processor_config;
  processor_config.self = id_;
  processor_ = std::make_unique<Processor>(processor_config, pool_, &large_pool_);
  if (tun_) {
    processor_->attach_local(tun_.get());
  } else {
    processor_->attach_local(local_sink_.get());
  }
  for (auto& [neighbor, link] : links_) processor_->attach_link(neighbor, &output_to(neighbor));
  for (const auto& [key, weight] : flow_weights_) processor_->set_flow_weight(key, weight);
}

EmulatedLink& Node::output_to(messages::NodeId neighbor) {
  auto it = outputs_.find(neighbor);
  if (it == outputs_.end()) {
    // Reproducible impairments: the seed names the directed link.
    const std::uint64_t seed = (static_cast<std::uint64_t>(id_.load()) << 32) | neighbor;
    it = outputs_.emplace(neighbor, std::make_unique<EmulatedLink>(io_, pool_, seed)).first;
  }
  return *it->second;
}

void Node::apply(const messages::SetLinkParams& set) {
  auto refuse = [&](const std::string& why) {
    spdlog::warn("node {}: SetLinkParams {}->{} refused: {}", id_.load(), set.src, set.dst, why);
    if (client_) client_->send(messages::ErrorMessage{"link_params.invalid", why, "SetLinkParams"});
  };
  if (set.src != id_ || id_ == 0) {
    refuse(fmt::format("src: {} is not this node ({})", set.src, id_.load()));
    return;
  }
  if (set.dst == 0 || set.dst == id_) {
    refuse(fmt::format("dst: {} is not a neighbour of node {}", set.dst, id_.load()));
    return;
  }
  EmulatedLink& output = output_to(set.dst);
  if (auto applied = output.apply(set.params); !applied) {
    refuse(fmt::format("link {}->{}: {}", set.src, set.dst, applied.error().message));
    return;
  }
  spdlog::info("node {}: link parameters for {}->{} applied{}", id_.load(), set.src, set.dst,
               links_.contains(set.dst) ? "" : " (neighbour not known yet)");
}

void Node::apply(const messages::AddNode& add) {
  if (add.node_id == 0 || add.node_id == id_) {
    spdlog::warn("node {}: AddNode for node {} ignored", id_.load(), add.node_id);
    return;
  }
  if (!link_factory_) {
    spdlog::warn("node {}: AddNode for node {} before StartUpReply ignored", id_.load(),
                 add.node_id);
    return;
  }
  auto existing = links_.find(add.node_id);
  if (existing != links_.end()) {
    if (existing->second->update(add.underlay_address, add.link_port, add.dial)) return;
    // The link cannot follow (the controller swapped who dials): replace it (its EmulatedLink
    // stays).
    if (processor_) processor_->detach_link(add.node_id);
    output_to(add.node_id).set_transport(nullptr);
    existing->second->close();
    retired_links_.push_back(std::move(existing->second));
    links_.erase(existing);
  }
  auto made = link_factory_->make(id_, add);
  if (!made) {
    spdlog::warn("node {}: no link to node {}: {}", id_.load(), add.node_id, made.error().message);
    return;
  }
  NeighborLink& added = **made;
  links_[add.node_id] = std::move(*made);
  EmulatedLink& output = output_to(add.node_id);
  output.set_transport(&added);
  if (processor_) processor_->attach_link(add.node_id, &output);
  spdlog::info("node {}: neighbour {} at {}:{} ({} link, {})", id_.load(), add.node_id,
               add.underlay_address, add.link_port, link_factory_->protocol(),
               add.dial ? "dialing" : "waiting for it");
  added.start();
  auto pending = pending_accepts_.find(add.node_id);
  if (pending != pending_accepts_.end()) {
    tcp::socket socket = std::move(pending->second);
    pending_accepts_.erase(pending);
    added.offer_connection(socket);  // refused: the socket closes here
  }
}

void Node::on_accept(messages::NodeId neighbor, tcp::socket socket) {
  if (stopping_) return;
  auto link = links_.find(neighbor);
  if (link == links_.end()) {
    // Its AddNode has not arrived yet: keep the newest connection until it does.
    pending_accepts_.insert_or_assign(neighbor, std::move(socket));
    early_connections_.fetch_add(1);
    return;
  }
  if (!link->second->offer_connection(socket)) {
    spdlog::warn(
        "node {}: node {} connected to us, but this link takes no connection (this node "
        "dials it, or it is a udp link); closing",
        id_.load(), neighbor);
  }
}

void Node::apply(const messages::AddNodeAddress& address) {
  const auto parsed = parse_ipv4(address.tun_address);
  if (!parsed || address.node_id == 0) {
    spdlog::warn("node {}: AddNodeAddress for node {} with address '{}' ignored", id_.load(),
                 address.node_id, address.tun_address);
    return;
  }
  std::erase_if(addresses_, [&](const auto& entry) { return entry.second == address.node_id; });
  addresses_[*parsed] = address.node_id;
  std::erase_if(addresses6_, [&](const auto& entry) { return entry.second == address.node_id; });
  if (!address.tun_address6.empty()) {
    if (const auto parsed6 = parse_ipv6(address.tun_address6)) {
      addresses6_[*parsed6] = address.node_id;
    } else {
      spdlog::warn("node {}: AddNodeAddress for node {}: IPv6 address '{}' ignored", id_.load(),
                   address.node_id, address.tun_address6);
    }
  }
  rebuild_routes();
}

void Node::apply(const messages::InstallRoutes& install) {
  if (install.full) routes_.clear();
  for (const messages::RouteId removed : install.removed) routes_.erase(removed);
  for (const messages::RouteEntry& entry : install.routes) routes_[entry.route_id] = entry;
  routes_version_ = install.version;
  routes_this_session_ = true;
  rebuild_routes();
}

void Node::rebuild_routes() {
  if (!processor_) return;
  std::vector<messages::RouteEntry> entries;
  entries.reserve(routes_.size());
  for (const auto& [route_id, entry] : routes_) entries.push_back(entry);
  auto table = RouteTable::build(id_, addresses_, entries, routes_version_, addresses6_);
  if (!table) {
    spdlog::error("node {}: cannot install routes (version {}): {}; keeping the previous ones",
                  id_.load(), routes_version_, table.error().message);
    return;
  }
  processor_->set_routes(std::move(*table));
}

void Node::evaluate_readiness() {
  if (stopping_ || !client_ || !client_->connected() || !processor_ || !routes_this_session_)
    return;
  for (const auto& [neighbor, link] : links_) {
    if (!link->connected()) return;  // evaluated again when a link comes up
  }
  // Routes arrive before the AddNode messages of their next hops: wait for those links too.
  for (const auto& [route_id, entry] : routes_) {
    for (const messages::NodeId hop : entry.next_hops) {
      if (!links_.contains(hop)) return;
    }
  }
  if (reported_ready_) return;
  reported_ready_ = true;
  spdlog::info("node {}: links and routes are in ({} links, {} routes)", id_.load(), links_.size(),
               routes_.size());
  client_->send(messages::NodeTopologyReady{id_});
}

void Node::schedule_metrics() {
  if (metrics_running_ || stopping_) return;
  metrics_running_ = true;
  metrics_timer_.expires_after(std::chrono::milliseconds(metrics_interval_ms_));
  metrics_timer_.async_wait([this](const boost::system::error_code& error) {
    metrics_running_ = false;
    if (error || stopping_) return;
    if (client_ && client_->connected() && processor_) client_->send(metrics());
    schedule_metrics();
  });
}

void Node::log_summary() const {
  if (link_factory_) {
    if (const std::string line = link_factory_->summary(); !line.empty())
      spdlog::info("node {}: {}, drops:{}", id_.load(), line,
                   format_drops(link_factory_->transport_drops()));
  }
  for (const auto& [neighbor, link] : links_) {
    const LinkTransportCounters c = link->link_counters();
    spdlog::info(
        "node {}: link {}: {} connects, {} disconnects, {} bad frames, tx {} pkts {} B, "
        "rx {} pkts {} B, drops:{}",
        id_.load(), neighbor, c.connects, c.disconnects, c.bad_frames, c.tx_packets, c.tx_bytes,
        c.rx_packets, c.rx_bytes, format_drops(c.drops));
  }
  for (const auto& [neighbor, output] : outputs_) {
    const LinkPipeline* pipeline = output->pipeline();
    if (pipeline == nullptr) continue;
    const LinkPipelineCounters c = pipeline->counters();
    spdlog::info(
        "node {}: emulated link {}: out {} pkts {} B, lost {}, duplicated {}, corrupted {}, "
        "segmented {}, queued {}, {} wake-ups, drops:{}",
        id_.load(), neighbor, c.packets_out, c.bytes_out, c.lost, c.duplicated, c.corrupted,
        c.segmented, pipeline->queued_packets(), output->wakeups(), format_drops(c.drops));
  }
  if (tun_) {
    const TunCounters& c = tun_->counters();
    spdlog::info(
        "node {}: tun {}: rx {} pkts {} B ({} super), tx {} pkts {} B ({} super), "
        "segmented {}, coalesced {}, checksums completed {}, bad vnet headers {}, drops:{}",
        id_.load(), tun_->name(), c.rx_packets, c.rx_bytes, c.rx_super_packets, c.tx_packets,
        c.tx_bytes, c.tx_super_packets, c.segmented, c.coalesced, c.checksums_completed,
        c.bad_vnet_headers, format_drops(c.drops));
  }
  if (processor_) {
    spdlog::info("node {}: processor drops:{}", id_.load(), format_drops(processor_->drops()));
    const IcmpCounters& icmp = processor_->icmp_counters();
    spdlog::info(
        "node {}: icmp errors: {} time exceeded, {} unreachable, {} rate-limited, {} not sent",
        id_.load(), icmp.time_exceeded, icmp.unreachable, icmp.rate_limited, icmp.not_sent);
  }
}

messages::Metrics Node::metrics() const {
  messages::Metrics metrics;
  if (processor_) {
    metrics = processor_->metrics();
  } else {
    metrics.node_id = id_;
  }
  for (const auto& [neighbor, link] : links_) {
    auto entry = std::find_if(metrics.links.begin(), metrics.links.end(),
                              [&](const auto& counters) { return counters.neighbor == neighbor; });
    if (entry == metrics.links.end()) {
      metrics.links.push_back({});
      entry = std::prev(metrics.links.end());
      entry->neighbor = neighbor;
    }
    entry->up = link->connected();
    add_drops(entry->drops, link->link_counters().drops);
    const auto output = outputs_.find(neighbor);
    if (output == outputs_.end()) continue;
    entry->up = entry->up && output->second->admin_up();
    add_drops(entry->drops, output->second->drops());
    if (const LinkPipeline* pipeline = output->second->pipeline()) {
      const LinkPipelineCounters counters = pipeline->counters();
      add_drops(entry->drops, counters.drops);
      if (counters.lost != 0) entry->drops["loss"] += counters.lost;
      entry->duplicated = counters.duplicated;
      entry->corrupted = counters.corrupted;
      entry->queued_packets = pipeline->queued_packets();
    }
  }
  if (tun_) add_drops(metrics.drops, tun_->counters().drops);
  if (link_factory_) add_drops(metrics.drops, link_factory_->transport_drops());
  return metrics;
}

}  // namespace nextmini::dataplane
