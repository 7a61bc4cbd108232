#include "nextmini/dataplane/node/node.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <csignal>
#include <future>
#include <iterator>
#include <thread>
#include <type_traits>
#include <vector>

#include "nextmini/dataplane/core/gso.hpp"
#include "nextmini/dataplane/flow/flow_runner.hpp"
#include "nextmini/dataplane/io/tun_device.hpp"
#include "nextmini/dataplane/node/control_client.hpp"
#include "nextmini/dataplane/node/emulated_link.hpp"
#include "nextmini/dataplane/node/link_factory.hpp"
#include "nextmini/dataplane/node/link_handoff.hpp"
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

// " in 12 writes" for a stop summary: the system calls a counter was spread over, when the
// component counts them (a udp link's transport counts its calls for every peer at once).
std::string in_calls(std::uint64_t calls, const char* what) {
  return calls == 0 ? std::string() : fmt::format(" in {} {}", calls, what);
}

messages::LinkCounters& link_entry(messages::Metrics& metrics, messages::NodeId neighbor) {
  auto entry = std::find_if(metrics.links.begin(), metrics.links.end(),
                            [&](const auto& counters) { return counters.neighbor == neighbor; });
  if (entry != metrics.links.end()) return *entry;
  metrics.links.push_back({});
  metrics.links.back().neighbor = neighbor;
  return metrics.links.back();
}

// The workers' parts of one Metrics message: counters summed per link, per flow and per drop
// reason; a link is up when its owner says so (other workers' entries keep up = true).
messages::Metrics merge_metrics(std::vector<messages::Metrics> parts) {
  messages::Metrics merged = std::move(parts.front());
  for (std::size_t i = 1; i < parts.size(); ++i) {
    messages::Metrics& part = parts[i];
    merged.timestamp_ns = std::max(merged.timestamp_ns, part.timestamp_ns);
    for (const messages::LinkCounters& link : part.links) {
      messages::LinkCounters& into = link_entry(merged, link.neighbor);
      into.tx_packets += link.tx_packets;
      into.tx_bytes += link.tx_bytes;
      into.rx_packets += link.rx_packets;
      into.rx_bytes += link.rx_bytes;
      for (const auto& [reason, count] : link.drops) into.drops[reason] += count;
      into.up = into.up && link.up;
      into.duplicated += link.duplicated;
      into.corrupted += link.corrupted;
      into.queued_packets += link.queued_packets;
    }
    for (messages::FlowCounters& flow : part.flows) {
      auto same = std::find_if(merged.flows.begin(), merged.flows.end(), [&](const auto& f) {
        return f.src == flow.src && f.dst == flow.dst && f.ip_protocol == flow.ip_protocol &&
               f.src_address == flow.src_address && f.dst_address == flow.dst_address &&
               f.src_port == flow.src_port && f.dst_port == flow.dst_port;
      });
      if (same == merged.flows.end()) {
        merged.flows.push_back(std::move(flow));
      } else {
        same->packets += flow.packets;
        same->bytes += flow.bytes;
      }
    }
    for (const auto& [reason, count] : part.drops) merged.drops[reason] += count;
  }
  return merged;
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

// One worker (see node.hpp, Threads): an io_context (worker 0: the node's, on run()'s thread;
// the others: their own, on a thread run() starts), its pools, its TUN queue or local sink, its
// Processor (made, used and replaced on this worker's thread), the links it owns (registered
// on its thread, for its part of the Metrics) and its handoffs toward links other workers own.
struct Node::Worker {
  // Worker 0: the node's io_context and pools.
  Worker(asio::io_context& node_io, PacketPool& node_pool, PacketPool& node_large_pool)
      : io(node_io), pool(node_pool), large_pool(node_large_pool) {}
  // Worker `k` > 0: its own, sized as the node's.
  Worker(unsigned k, const NodeConfig& config)
      : index(k),
        own_pool(std::make_unique<PacketPool>(config.pool_buffers, config.buffer_size)),
        own_large_pool(
            std::make_unique<PacketPool>(config.large_pool_buffers, config.large_buffer_size)),
        own_io(std::make_unique<asio::io_context>(1)),
        io(*own_io),
        pool(*own_pool),
        large_pool(*own_large_pool),
        guard(asio::make_work_guard(*own_io)) {
    pool.set_growth_limit(config.pool_max_buffers);
    large_pool.set_growth_limit(config.large_pool_max_buffers);
  }

  unsigned index = 0;
  std::unique_ptr<PacketPool> own_pool;  // before own_io: outlive its handlers
  std::unique_ptr<PacketPool> own_large_pool;
  std::unique_ptr<asio::io_context> own_io;
  asio::io_context& io;
  PacketPool& pool;
  PacketPool& large_pool;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::unique_ptr<LocalSink> local_sink;
  std::unique_ptr<TunDevice> tun;        // queue `index` of the node's TUN
  std::unique_ptr<Processor> processor;  // this worker's thread only
  // This worker's thread only: the links it owns, and the handoffs its Processor uses.
  std::map<messages::NodeId, NeighborLink*> owned_links;
  std::map<messages::NodeId, EmulatedLink*> owned_outputs;
  std::map<messages::NodeId, LinkHandoff*> used_handoffs;
  // Worker 0's thread only: the handoffs this worker's Processor sends through, by neighbour.
  std::map<messages::NodeId, std::unique_ptr<LinkHandoff>> handoffs;
  std::thread thread;
};

template <typename F>
void Node::on_worker(Worker& worker, F&& fn) {
  if (worker.index == 0) {
    fn();
  } else {
    asio::post(worker.io, std::forward<F>(fn));
  }
}

Node::Node(NodeConfig config)
    : config_(std::move(config)),
      pool_(config_.pool_buffers, config_.buffer_size),
      large_pool_(config_.large_pool_buffers, config_.large_buffer_size),
      metrics_timer_(io_) {
  pool_.set_growth_limit(config_.pool_max_buffers);
  large_pool_.set_growth_limit(config_.large_pool_max_buffers);
  const unsigned workers = std::max(config_.workers, 1u);
  workers_.push_back(std::make_unique<Worker>(io_, pool_, large_pool_));
  for (unsigned k = 1; k < workers; ++k) workers_.push_back(std::make_unique<Worker>(k, config_));
  next_owner_ = workers > 1 ? 1 : 0;  // the first neighbour away from the control thread
  if (!config_.use_tun) {
    for (auto& worker : workers_)
      worker->local_sink = std::make_unique<LocalSink>(config_.local_delivery, worker->pool);
  }
}

Node::~Node() {
  stop_now(std::nullopt);
  // Let cancelled handlers finish without blocking, so their buffers go back to their pools.
  for (int round = 0; round < 2; ++round) {
    for (auto& worker : workers_) {
      worker->io.restart();
      worker->io.poll();
    }
  }
  // What holds packets of any worker's pool goes before any pool (the links, declared after
  // workers_, go first by themselves).
  for (auto& worker : workers_) {
    worker->handoffs.clear();
    worker->processor.reset();
    worker->tun.reset();
    worker->local_sink.reset();
  }
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
  spdlog::info("node: links on {}:{} (advertised as {}), controller {}, {} worker{}",
               config_.listen_address, listener_->port(), advertise.empty() ? "-" : advertise,
               config_.controller_url, workers_.size(), workers_.size() == 1 ? "" : "s");
  return ok();
}

Result<void> Node::run() {
  if (!started_) {
    if (auto started = start(); !started) return started;
  }
  start_workers();
  io_.run();
  join_workers();
  log_summary();
  if (fatal_) return Failure{*fatal_};
  return ok();
}

void Node::start_workers() {
  if (workers_.size() == 1 || workers_running_) return;
  workers_running_ = true;
  // From now on a packet released on another worker's thread goes back through its pool's
  // return stack.
  pool_.bind_to_this_thread();
  large_pool_.bind_to_this_thread();
  for (std::size_t k = 1; k < workers_.size(); ++k) {
    Worker* worker = workers_[k].get();
    worker->thread = std::thread([worker] {
      worker->pool.bind_to_this_thread();
      worker->large_pool.bind_to_this_thread();
      worker->io.run();
    });
    const std::string name = fmt::format("nextmini-w{}", k);
    ::pthread_setname_np(worker->thread.native_handle(), name.c_str());
  }
}

std::size_t Node::buffers_in_use() const noexcept {
  std::size_t in_use = 0;
  for (const auto& worker : workers_) in_use += worker->pool.in_use() + worker->large_pool.in_use();
  return in_use;
}

void Node::join_workers() {
  if (!workers_running_) return;
  for (std::size_t k = 1; k < workers_.size(); ++k) {
    if (workers_[k]->thread.joinable()) workers_[k]->thread.join();
  }
  workers_running_ = false;
  // What the workers posted to each other while stopping runs here, single-threaded now.
  for (int round = 0; round < 2; ++round) {
    for (auto& worker : workers_) {
      worker->io.restart();
      worker->io.poll();
    }
  }
  for (auto& worker : workers_) {
    worker->pool.unbind();
    worker->large_pool.unbind();
  }
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
  for (auto& [neighbor, output] : outputs_) {
    on_worker(owner_of(neighbor), [output = output.get()] { output->close(); });
  }
  for (auto& [neighbor, link] : links_) {
    on_worker(owner_of(neighbor), [link = link.get()] { link->close(); });
  }
  if (link_factory_) link_factory_->close();
  pending_accepts_.clear();
  for (auto& worker : workers_) {
    on_worker(*worker, [worker = worker.get()] {
      if (worker->tun) worker->tun->close();
      worker->guard.reset();  // its io_context returns once the cancelled handlers ran
    });
  }
}

void Node::inject_local(PacketBatch& batch) {
  Processor* processor = workers_[0]->processor.get();
  if (processor && !stopping_) processor->process_local(batch);
  batch.clear();
}

void Node::set_flow_weight(const FlowKey& key, std::uint32_t weight) {
  const auto capped = static_cast<std::uint8_t>(std::min<std::uint32_t>(weight, 255));
  if (capped == 0) {
    flow_weights_.erase(key);
  } else {
    flow_weights_[key] = capped;
  }
  for (auto& worker : workers_) {
    on_worker(*worker, [worker = worker.get(), key, capped] {
      if (worker->processor) worker->processor->set_flow_weight(key, capped);
    });
  }
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
  if (id_ != 0 && id_ != reply.node_id && processors_made_) {
    spdlog::warn("node: the controller changed this node's id from {} to {}", id_.load(),
                 reply.node_id);
    processors_made_ = false;
    for (auto& worker : workers_) {
      on_worker(*worker, [worker = worker.get()] { worker->processor.reset(); });
    }
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
    if (!open_tun(reply.node_id)) return;
    TunDevice* tun = workers_[0]->tun.get();
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
      auto configured = tun->configure({reply.tun_address, reply.prefix_length, mtu,
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
  for (auto& worker : workers_) {
    on_worker(*worker, [worker = worker.get()] {
      if (!worker->tun) return;
      worker->tun->start([worker](PacketBatch& batch) {
        if (worker->processor) worker->processor->process_local(batch);
      });
    });
  }
  schedule_metrics();
  rebuild_routes();
}

bool Node::open_tun(messages::NodeId id) {
  if (workers_[0]->tun) return true;
  std::vector<TunDevice::QueueContext> queues;
  for (auto& worker : workers_) {
    queues.push_back(
        {&worker->io, &worker->pool, config_.tun_offloads ? &worker->large_pool : nullptr});
  }
  auto opened = TunDevice::open_queues(queues, config_.tun_name, config_.tun_offloads);
  if (!opened) {
    spdlog::error("node {}: {}", id, opened.error().message);
    stop_now(opened.error());
    return false;
  }
  workers_[0]->tun = std::move(opened->front());
  for (std::size_t k = 1; k < workers_.size(); ++k) {
    // Handed to its worker's thread, which owns it from then on.
    TunDevice* queue = (*opened)[k].release();
    on_worker(*workers_[k], [worker = workers_[k].get(), queue] { worker->tun.reset(queue); });
  }
  return true;
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
  links.on_receive = [this, worker = workers_[0].get()](messages::NodeId neighbor,
                                                        PacketBatch& batch) {
    if (worker->processor && !stopping_) worker->processor->process_from_link(neighbor, batch);
  };
  links.on_state = [this](messages::NodeId neighbor, bool connected) {
    on_link_state(neighbor, connected);
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
        if (spec.route_id) {
          for (auto& worker : workers_) {
            on_worker(*worker,
                      [worker = worker.get(), key, dst = spec.dst, route = *spec.route_id] {
                        if (worker->processor) worker->processor->pin_flow(key, dst, route);
                      });
          }
        }
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
  if (processors_made_ || id_ == 0) return;
  processors_made_ = true;
  ProcessorConfig processor_config;
  processor_config.self = id_;
  for (auto& worker : workers_) {
    std::vector<std::pair<messages::NodeId, PacketSink*>> sinks;
    for (auto& [neighbor, link] : links_) sinks.emplace_back(neighbor, sink_for(*worker, neighbor));
    on_worker(*worker, [worker = worker.get(), processor_config, sinks = std::move(sinks),
                        weights = flow_weights_] {
      auto processor =
          std::make_unique<Processor>(processor_config, worker->pool, &worker->large_pool);
      if (worker->tun) {
        processor->attach_local(worker->tun.get());
      } else {
        processor->attach_local(worker->local_sink.get());
      }
      for (const auto& [neighbor, sink] : sinks) {
        processor->attach_link(neighbor, sink);
        if (auto* handoff = dynamic_cast<LinkHandoff*>(sink)) {
          worker->used_handoffs[neighbor] = handoff;
        }
      }
      for (const auto& [key, weight] : weights) processor->set_flow_weight(key, weight);
      worker->processor = std::move(processor);
    });
  }
}

Node::Worker& Node::owner_of(messages::NodeId neighbor) {
  if (workers_.size() == 1 || !link_factory_ || !link_factory_->follows_workers())
    return *workers_[0];
  auto [it, added] = owners_.try_emplace(neighbor, next_owner_);
  if (added) next_owner_ = (next_owner_ + 1) % static_cast<unsigned>(workers_.size());
  return *workers_[it->second];
}

PacketSink* Node::sink_for(Worker& worker, messages::NodeId neighbor) {
  EmulatedLink& output = output_to(neighbor);
  Worker& owner = owner_of(neighbor);
  if (&owner == &worker) return &output;
  auto& handoff = worker.handoffs[neighbor];
  if (!handoff) handoff = std::make_unique<LinkHandoff>(owner.io, output);
  return handoff.get();
}

void Node::attach_everywhere(messages::NodeId neighbor) {
  if (!processors_made_) return;
  for (auto& worker : workers_) {
    PacketSink* sink = sink_for(*worker, neighbor);
    auto* handoff = dynamic_cast<LinkHandoff*>(sink);
    on_worker(*worker, [worker = worker.get(), neighbor, sink, handoff] {
      if (handoff != nullptr) worker->used_handoffs[neighbor] = handoff;
      if (worker->processor) worker->processor->attach_link(neighbor, sink);
    });
  }
}

void Node::detach_everywhere(messages::NodeId neighbor) {
  for (auto& worker : workers_) {
    on_worker(*worker, [worker = worker.get(), neighbor] {
      if (worker->processor) worker->processor->detach_link(neighbor);
    });
  }
}

void Node::on_link_state(messages::NodeId neighbor, bool connected) {
  spdlog::info("node {}: link to node {} {}", id_.load(), neighbor, connected ? "up" : "down");
  link_up_[neighbor] = connected;
  if (!stopping_) evaluate_readiness();
}

bool Node::link_connected(messages::NodeId neighbor) const {
  const auto owner = owners_.find(neighbor);
  if (owner == owners_.end() || owner->second == 0) {
    const auto link = links_.find(neighbor);
    return link != links_.end() && link->second->connected();
  }
  const auto up = link_up_.find(neighbor);
  return up != link_up_.end() && up->second;
}

EmulatedLink& Node::output_to(messages::NodeId neighbor) {
  auto it = outputs_.find(neighbor);
  if (it == outputs_.end()) {
    // Reproducible impairments: the seed names the directed link.
    const std::uint64_t seed = (static_cast<std::uint64_t>(id_.load()) << 32) | neighbor;
    Worker& owner = owner_of(neighbor);
    it = outputs_.emplace(neighbor, std::make_unique<EmulatedLink>(owner.io, owner.pool, seed))
             .first;
    on_worker(owner, [worker = &owner, neighbor, output = it->second.get()] {
      worker->owned_outputs[neighbor] = output;
    });
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
  Worker& owner = owner_of(set.dst);
  const bool known = links_.contains(set.dst);
  if (owner.index == 0) {
    if (auto applied = output.apply(set.params); !applied) {
      refuse(fmt::format("link {}->{}: {}", set.src, set.dst, applied.error().message));
      return;
    }
    spdlog::info("node {}: link parameters for {}->{} applied{}", id_.load(), set.src, set.dst,
                 known ? "" : " (neighbour not known yet)");
    return;
  }
  // Applied on the link's worker; a refusal is answered from here (worker 0) afterwards.
  on_worker(owner, [this, output = &output, set, known] {
    auto applied = output->apply(set.params);
    asio::post(io_, [this, set, known,
                     error =
                         applied ? std::optional<Error>{} : std::optional<Error>{applied.error()}] {
      if (error) {
        spdlog::warn("node {}: SetLinkParams {}->{} refused: link {}->{}: {}", id_.load(), set.src,
                     set.dst, set.src, set.dst, error->message);
        if (client_) {
          client_->send(messages::ErrorMessage{
              "link_params.invalid",
              fmt::format("link {}->{}: {}", set.src, set.dst, error->message), "SetLinkParams"});
        }
        return;
      }
      spdlog::info("node {}: link parameters for {}->{} applied{}", id_.load(), set.src, set.dst,
                   known ? "" : " (neighbour not known yet)");
    });
  });
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
  Worker& owner = owner_of(add.node_id);
  auto existing = links_.find(add.node_id);
  if (existing != links_.end()) {
    if (owner.index == 0) {
      if (existing->second->update(add.underlay_address, add.link_port, add.dial)) return;
    } else if (link_dial_[add.node_id] == add.dial) {
      // On its worker; a link whose dialling side stays can always follow.
      on_worker(owner, [link = existing->second.get(), add] {
        link->update(add.underlay_address, add.link_port, add.dial);
      });
      return;
    }
    // The link cannot follow (the controller swapped who dials): replace it (its EmulatedLink
    // stays).
    detach_everywhere(add.node_id);
    on_worker(owner, [worker = &owner, neighbor = add.node_id, output = &output_to(add.node_id),
                      link = existing->second.get()] {
      output->set_transport(nullptr);
      link->close();
      worker->owned_links.erase(neighbor);
    });
    retired_links_.push_back(std::move(existing->second));
    links_.erase(existing);
  }
  LinkContext context;
  if (owner.index != 0) {
    context.io = &owner.io;
    context.pool = &owner.pool;
    context.large_pool = &owner.large_pool;
    context.on_receive = [this, worker = &owner](messages::NodeId neighbor, PacketBatch& batch) {
      if (worker->processor && !stopping_) worker->processor->process_from_link(neighbor, batch);
    };
    context.on_state = [this](messages::NodeId neighbor, bool connected) {
      asio::post(io_, [this, neighbor, connected] { on_link_state(neighbor, connected); });
    };
  }
  auto made = link_factory_->make(id_, add, owner.index != 0 ? &context : nullptr);
  if (!made) {
    spdlog::warn("node {}: no link to node {}: {}", id_.load(), add.node_id, made.error().message);
    return;
  }
  NeighborLink* added = made->get();
  links_[add.node_id] = std::move(*made);
  link_dial_[add.node_id] = add.dial;
  link_up_[add.node_id] = false;
  EmulatedLink& output = output_to(add.node_id);
  on_worker(owner, [worker = &owner, neighbor = add.node_id, output = &output, added] {
    output->set_transport(added);
    worker->owned_links[neighbor] = added;
  });
  attach_everywhere(add.node_id);
  spdlog::info("node {}: neighbour {} at {}:{} ({} link, {}{})", id_.load(), add.node_id,
               add.underlay_address, add.link_port, link_factory_->protocol(),
               add.dial ? "dialing" : "waiting for it",
               workers_.size() > 1 ? fmt::format(", worker {}", owner.index) : std::string());
  on_worker(owner, [added] { added->start(); });
  auto pending = pending_accepts_.find(add.node_id);
  if (pending != pending_accepts_.end()) {
    tcp::socket socket = std::move(pending->second);
    pending_accepts_.erase(pending);
    offer_pending(add.node_id, *added, owner, std::move(socket));
  }
}

void Node::offer_pending(messages::NodeId neighbor, NeighborLink& link, Worker& owner,
                         tcp::socket socket) {
  auto offer = [this, neighbor, &link](tcp::socket& offered) {
    if (!link.offer_connection(offered)) {  // refused: the socket closes here
      spdlog::warn(
          "node {}: node {} connected to us, but this link takes no connection (this node "
          "dials it, or it is a udp link); closing",
          id_.load(), neighbor);
    }
  };
  if (owner.index == 0) {
    offer(socket);
    return;
  }
  // The accepted socket moves to the owner's io_context.
  boost::system::error_code error;
  const auto protocol = socket.local_endpoint(error).protocol();
  if (error) return;
  const auto fd = socket.release(error);
  if (error) return;
  tcp::socket moved(owner.io);
  moved.assign(protocol, fd, error);
  if (error) return;
  on_worker(owner,
            [offer, moved = std::make_shared<tcp::socket>(std::move(moved))] { offer(*moved); });
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
  offer_pending(neighbor, *link->second, owner_of(neighbor), std::move(socket));
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
  if (!processors_made_) return;
  std::vector<messages::RouteEntry> entries;
  entries.reserve(routes_.size());
  for (const auto& [route_id, entry] : routes_) entries.push_back(entry);
  auto table = RouteTable::build(id_, addresses_, entries, routes_version_, addresses6_);
  if (!table) {
    spdlog::error("node {}: cannot install routes (version {}): {}; keeping the previous ones",
                  id_.load(), routes_version_, table.error().message);
    return;
  }
  std::shared_ptr<const RouteTable> shared = std::move(*table);
  for (auto& worker : workers_) {
    on_worker(*worker, [worker = worker.get(), shared] {
      if (worker->processor) worker->processor->set_routes(shared);
    });
  }
}

void Node::evaluate_readiness() {
  if (stopping_ || !client_ || !client_->connected() || !processors_made_ || !routes_this_session_)
    return;
  for (const auto& [neighbor, link] : links_) {
    if (!link_connected(neighbor)) return;  // evaluated again when a link comes up
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
    if (client_ && client_->connected() && processors_made_) client_->send(metrics());
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
        "node {}: link {}: {} connects, {} disconnects, {} bad frames, tx {} pkts {} B{}, "
        "rx {} pkts {} B{}, drops:{}",
        id_.load(), neighbor, c.connects, c.disconnects, c.bad_frames, c.tx_packets, c.tx_bytes,
        in_calls(c.tx_writes, "writes"), c.rx_packets, c.rx_bytes, in_calls(c.rx_reads, "reads"),
        format_drops(c.drops));
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
  const bool several = workers_.size() > 1;
  for (const auto& worker : workers_) {
    // "worker 1 " before each line when there are several.
    const std::string who = several ? fmt::format("worker {} ", worker->index) : std::string();
    if (worker->tun) {
      const TunCounters& c = worker->tun->counters();
      spdlog::info(
          "node {}: {}tun {}: rx {} pkts {} B ({} super), tx {} pkts {} B ({} super), "
          "segmented {}, coalesced {}, checksums completed {}, bad vnet headers {}, {} read "
          "bursts, drops:{}",
          id_.load(), who, worker->tun->name(), c.rx_packets, c.rx_bytes, c.rx_super_packets,
          c.tx_packets, c.tx_bytes, c.tx_super_packets, c.segmented, c.coalesced,
          c.checksums_completed, c.bad_vnet_headers, c.rx_bursts, format_drops(c.drops));
    }
    for (const auto& [neighbor, handoff] : worker->handoffs) {
      spdlog::info("node {}: {}handed {} pkts to the worker of link {}, drops:{}", id_.load(), who,
                   handoff->handed_off(), neighbor, format_drops(handoff->drops()));
    }
    if (worker->processor) {
      const Processor& processor = *worker->processor;
      spdlog::info("node {}: {}processor drops:{}", id_.load(), who,
                   format_drops(processor.drops()));
      const IcmpCounters& icmp = processor.icmp_counters();
      spdlog::info(
          "node {}: {}icmp errors: {} time exceeded, {} unreachable, {} rate-limited, {} not "
          "sent",
          id_.load(), who, icmp.time_exceeded, icmp.unreachable, icmp.rate_limited, icmp.not_sent);
    }
  }
}

messages::Metrics Node::worker_metrics(const Worker& worker) const {
  messages::Metrics metrics;
  if (worker.processor) {
    metrics = worker.processor->metrics();
  } else {
    metrics.node_id = id_;
  }
  for (const auto& [neighbor, link] : worker.owned_links) {
    messages::LinkCounters& entry = link_entry(metrics, neighbor);
    entry.up = link->connected();
    add_drops(entry.drops, link->link_counters().drops);
    const auto output = worker.owned_outputs.find(neighbor);
    if (output == worker.owned_outputs.end()) continue;
    entry.up = entry.up && output->second->admin_up();
    add_drops(entry.drops, output->second->drops());
    if (const LinkPipeline* pipeline = output->second->pipeline()) {
      const LinkPipelineCounters counters = pipeline->counters();
      add_drops(entry.drops, counters.drops);
      if (counters.lost != 0) entry.drops["loss"] += counters.lost;
      entry.duplicated = counters.duplicated;
      entry.corrupted = counters.corrupted;
      entry.queued_packets = pipeline->queued_packets();
    }
  }
  for (const auto& [neighbor, handoff] : worker.used_handoffs) {
    add_drops(link_entry(metrics, neighbor).drops, handoff->drops());
  }
  if (worker.tun) add_drops(metrics.drops, worker.tun->counters().drops);
  if (worker.index == 0 && link_factory_)
    add_drops(metrics.drops, link_factory_->transport_drops());
  return metrics;
}

messages::Metrics Node::metrics() const {
  std::vector<messages::Metrics> parts;
  if (workers_.size() == 1 || !workers_running_) {
    for (const auto& worker : workers_) parts.push_back(worker_metrics(*worker));
    return merge_metrics(std::move(parts));
  }
  parts.push_back(worker_metrics(*workers_[0]));
  if (stopping_) return merge_metrics(std::move(parts));  // the others may have stopped
  // Each worker computes its part on its own thread; this thread waits (the workers never wait
  // for worker 0, so this cannot deadlock).
  std::vector<std::future<messages::Metrics>> answers;
  for (std::size_t k = 1; k < workers_.size(); ++k) {
    auto task = std::make_shared<std::packaged_task<messages::Metrics()>>(
        [this, worker = workers_[k].get()] { return worker_metrics(*worker); });
    answers.push_back(task->get_future());
    asio::post(workers_[k]->io, [task] { (*task)(); });
  }
  for (auto& answer : answers) parts.push_back(answer.get());
  return merge_metrics(std::move(parts));
}

}  // namespace nextmini::dataplane
