#include "nextmini/dataplane/node/link_factory.hpp"

#include <fmt/format.h>

#include "nextmini/dataplane/transport/tcp_link.hpp"
#include "nextmini/dataplane/transport/udp_link.hpp"
#include "nextmini/dataplane/transport/udp_transport.hpp"

namespace nextmini::dataplane {

namespace {

class TcpLinkFactory final : public LinkFactory {
 public:
  TcpLinkFactory(boost::asio::io_context& io, PacketPool& pool, PacketPool* large_pool,
                 LinkFactoryConfig config)
      : io_(io), pool_(pool), large_pool_(large_pool), config_(std::move(config)) {}

  const std::string& protocol() const noexcept override { return protocol_; }

  bool follows_workers() const noexcept override { return true; }

  Result<std::unique_ptr<NeighborLink>> make(messages::NodeId self, const messages::AddNode& add,
                                             const LinkContext* context) override {
    TcpLinkConfig link_config;
    link_config.self = self;
    link_config.neighbor = add.node_id;
    link_config.dial = add.dial;
    link_config.address = add.underlay_address;
    link_config.port = add.link_port;
    if (context != nullptr) {
      return std::unique_ptr<NeighborLink>(
          std::make_unique<TcpLink>(*context->io, *context->pool, link_config, context->on_receive,
                                    context->on_state, context->large_pool));
    }
    return std::unique_ptr<NeighborLink>(std::make_unique<TcpLink>(
        io_, pool_, link_config, config_.on_receive, config_.on_state, large_pool_));
  }

 private:
  boost::asio::io_context& io_;
  PacketPool& pool_;
  PacketPool* large_pool_;
  LinkFactoryConfig config_;
  std::string protocol_ = "tcp";
};

class UdpLinkFactory final : public LinkFactory {
 public:
  UdpLinkFactory(boost::asio::io_context& io, PacketPool& pool, PacketPool* large_pool,
                 LinkFactoryConfig config)
      : config_(std::move(config)),
        transport_(io, pool, transport_config(config_), config_.on_receive, large_pool) {}

  Result<void> open() { return transport_.open(); }

  const std::string& protocol() const noexcept override { return protocol_; }

  Result<std::unique_ptr<NeighborLink>> make(messages::NodeId /*self*/,
                                             const messages::AddNode& add,
                                             const LinkContext* /*context*/) override {
    auto link = UdpLink::create(transport_, add.node_id, add.underlay_address, add.link_port);
    if (!link) return Failure{link.error()};
    return std::unique_ptr<NeighborLink>(std::move(*link));
  }

  DropCounters transport_drops() const override { return transport_.counters().drops; }

  std::string summary() const override {
    const UdpTransportCounters& c = transport_.counters();
    return fmt::format(
        "udp transport: {} sendmmsg calls, {} GSO messages (GSO {}), {} send errors, {} recvmmsg "
        "calls, {} GRO receives, {} regrouped into super-packets (GRO {}), buffers send {} B "
        "receive {} B",
        c.send_calls, c.gso_messages, c.gso_enabled ? "on" : "off", c.send_errors, c.receive_calls,
        c.gro_receives, c.regrouped, c.gro_enabled ? "on" : "off", c.send_buffer_bytes,
        c.receive_buffer_bytes);
  }

  void close() override { transport_.close(); }

 private:
  static UdpTransportConfig transport_config(const LinkFactoryConfig& config) {
    UdpTransportConfig udp;
    udp.listen_address = config.listen_address;
    udp.port = config.port;
    return udp;
  }

  LinkFactoryConfig config_;
  UdpTransport transport_;
  std::string protocol_ = "udp";
};

}  // namespace

Result<std::unique_ptr<LinkFactory>> LinkFactory::create(const std::string& protocol,
                                                         boost::asio::io_context& io,
                                                         PacketPool& pool, PacketPool* large_pool,
                                                         LinkFactoryConfig config) {
  if (protocol == "tcp") {
    return std::unique_ptr<LinkFactory>(
        std::make_unique<TcpLinkFactory>(io, pool, large_pool, std::move(config)));
  }
  if (protocol == "udp") {
    auto factory = std::make_unique<UdpLinkFactory>(io, pool, large_pool, std::move(config));
    if (auto opened = factory->open(); !opened) return Failure{opened.error()};
    return std::unique_ptr<LinkFactory>(std::move(factory));
  }
  return fail(
      "link.protocol",
      fmt::format("protocol: \"{}\" is not a link protocol this node runs (tcp, udp)", protocol));
}

}  // namespace nextmini::dataplane
