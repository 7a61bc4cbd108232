#include "nextmini/dataplane/io/interface_config.hpp"

#include <arpa/inet.h>
#include <linux/ipv6.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>

#include "nextmini/dataplane/io/syscalls.hpp"
#include "nextmini/dataplane/io/unique_fd.hpp"

namespace nextmini::dataplane {
namespace {

Failure interface_error(const std::string& name, const char* step, int error) {
  return fail("io.interface", "interface '" + name + "': " + step + ": " + std::strerror(error) +
                                  (error == EPERM ? " (are you root?)" : ""));
}

void set_ipv4(ifreq& request, std::uint32_t host_order) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(host_order);
  std::memcpy(&request.ifr_addr, &address, sizeof(address));
}

// Writes `value` to /proc/sys/net/<path>; false when it cannot (no such file, read-only /proc).
bool write_sysctl(const std::string& path, const char* value) {
  std::ofstream file("/proc/sys/net/" + path);
  file << value;
  file.flush();
  return static_cast<bool>(file);
}

Result<void> add_ipv6_address(const std::string& name, int socket4, const in6_addr& address,
                              std::uint32_t prefix_length) {
  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), name.size());
  if (int rc = sys_ioctl(socket4, SIOCGIFINDEX, &request); rc < 0)
    return interface_error(name, "read index (SIOCGIFINDEX)", -rc);
  UniqueFd socket6(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket6) return interface_error(name, "socket(AF_INET6)", errno);
  // The address is usable at once (no tentative period): nothing else owns it on a TUN.
  write_sysctl("ipv6/conf/" + name + "/accept_dad", "0");
  in6_ifreq request6{};
  request6.ifr6_addr = address;
  request6.ifr6_prefixlen = prefix_length;
  request6.ifr6_ifindex = request.ifr_ifindex;
  const int rc = sys_ioctl(socket6.get(), SIOCSIFADDR, &request6);
  if (rc < 0 && rc != -EEXIST) return interface_error(name, "set IPv6 address (SIOCSIFADDR)", -rc);
  return ok();
}

}  // namespace

std::uint32_t prefix_to_netmask(std::uint32_t prefix_length) noexcept {
  if (prefix_length == 0) return 0;
  if (prefix_length >= 32) return 0xffffffffu;
  return ~((std::uint32_t{1} << (32 - prefix_length)) - 1);
}

Result<void> configure_interface(const std::string& name, const InterfaceSettings& settings) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return fail("io.interface", "interface name '" + name + "' must have 1.." +
                                    std::to_string(IFNAMSIZ - 1) + " characters");
  in_addr parsed{};
  if (::inet_pton(AF_INET, settings.address.c_str(), &parsed) != 1)
    return fail("io.interface", "interface '" + name + "': address '" + settings.address +
                                    "' is not an IPv4 address");
  if (settings.prefix_length > 32)
    return fail("io.interface", "interface '" + name + "': prefix length " +
                                    std::to_string(settings.prefix_length) + " is not 0..32");
  in6_addr parsed6{};
  if (!settings.address6.empty() && ::inet_pton(AF_INET6, settings.address6.c_str(), &parsed6) != 1)
    return fail("io.interface", "interface '" + name + "': address6 '" + settings.address6 +
                                    "' is not an IPv6 address");
  if (settings.prefix_length6 < 1 || settings.prefix_length6 > 128)
    return fail("io.interface", "interface '" + name + "': IPv6 prefix length " +
                                    std::to_string(settings.prefix_length6) + " is not 1..128");
  if (settings.mtu < 68 || settings.mtu > 65535)
    return fail("io.interface", "interface '" + name + "': mtu " + std::to_string(settings.mtu) +
                                    " is not 68..65535");

  UniqueFd socket_fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket_fd) return interface_error(name, "socket(AF_INET)", errno);

  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), name.size());

  set_ipv4(request, ntohl(parsed.s_addr));
  if (int rc = sys_ioctl(socket_fd.get(), SIOCSIFADDR, &request); rc < 0)
    return interface_error(name, "set address (SIOCSIFADDR)", -rc);

  set_ipv4(request, prefix_to_netmask(settings.prefix_length));
  if (int rc = sys_ioctl(socket_fd.get(), SIOCSIFNETMASK, &request); rc < 0)
    return interface_error(name, "set netmask (SIOCSIFNETMASK)", -rc);

  request.ifr_mtu = static_cast<int>(settings.mtu);
  if (int rc = sys_ioctl(socket_fd.get(), SIOCSIFMTU, &request); rc < 0)
    return interface_error(name, "set mtu (SIOCSIFMTU)", -rc);

  if (settings.tx_queue_length != 0) {
    request.ifr_qlen = static_cast<int>(settings.tx_queue_length);
    if (int rc = sys_ioctl(socket_fd.get(), SIOCSIFTXQLEN, &request); rc < 0)
      return interface_error(name, "set transmit queue length (SIOCSIFTXQLEN)", -rc);
  }

  if (int rc = sys_ioctl(socket_fd.get(), SIOCGIFFLAGS, &request); rc < 0)
    return interface_error(name, "read flags (SIOCGIFFLAGS)", -rc);
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP | IFF_RUNNING);
  if (int rc = sys_ioctl(socket_fd.get(), SIOCSIFFLAGS, &request); rc < 0)
    return interface_error(name, "bring up (SIOCSIFFLAGS)", -rc);
  write_sysctl("ipv4/conf/" + name + "/accept_local", "1");
  if (!settings.address6.empty())
    return add_ipv6_address(name, socket_fd.get(), parsed6, settings.prefix_length6);
  return ok();
}

}  // namespace nextmini::dataplane
