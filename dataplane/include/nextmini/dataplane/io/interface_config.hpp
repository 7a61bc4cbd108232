#pragma once
// Interface configuration through ioctls, in the calling thread's network namespace:
// set an IPv4 address and prefix (SIOCSIFADDR, SIOCSIFNETMASK), the MTU (SIOCSIFMTU), the
// transmit queue length (SIOCSIFTXQLEN, optional) and bring the interface up
// (SIOCGIFFLAGS/SIOCSIFFLAGS); optionally an IPv6 address and prefix (SIOCSIFADDR on an AF_INET6
// socket, with duplicate address detection off for the interface so the address is usable at
// once). It also sets net.ipv4.conf.<name>.accept_local = 1 (best effort): the node answers
// unreachable destinations of its own host with an ICMP error from its own TUN address, which
// the kernel would otherwise drop as a martian source. Used for the TUN device; needs
// CAP_NET_ADMIN.
// Errors are Results with code "io.interface" and a message naming the interface and the step.

#include <cstdint>
#include <string>

#include "nextmini/common/result.hpp"

namespace nextmini::dataplane {

struct InterfaceSettings {
  std::string address;               // dotted quad, e.g. "10.0.0.1"
  std::uint32_t prefix_length = 16;  // 0..32
  std::uint32_t mtu = 1400;
  // Packets the kernel queues toward the device (for a TUN: what the node has not read yet);
  // 0 keeps the kernel's default (500). A short queue drops TCP's slow-start bursts before the
  // node (and its link emulation) sees them.
  std::uint32_t tx_queue_length = 0;
  std::string address6{};             // e.g. "fd00:6e6d::1"; "" = no IPv6 address
  std::uint32_t prefix_length6 = 64;  // 1..128
};

Result<void> configure_interface(const std::string& name, const InterfaceSettings& settings);

// The IPv4 netmask for a prefix length, host byte order (24 -> 0xffffff00). prefix <= 32.
std::uint32_t prefix_to_netmask(std::uint32_t prefix_length) noexcept;

}  // namespace nextmini::dataplane
