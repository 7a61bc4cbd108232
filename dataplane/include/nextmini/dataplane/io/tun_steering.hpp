#pragma once
// TUN queue steering (issue 5, "a flow always on the same queue and worker"): an eBPF program
// attached to a multi-queue TUN with TUNSETSTEERINGEBPF, so the queue a packet leaves the kernel
// on (the queue, and so the worker, that reads it) is a pure function of its flow. Without it the
// kernel steers by itself: a flow's hash until the node writes one of its packets, then the queue
// it was written on, forgotten again after a few idle seconds — so a flow could move queue and
// worker mid-stream and be reordered.
//   The queue: tun_steering_hash(packet) % queues, where the hash is *symmetric* (a flow and its
//   answers get the same value) over the IP version, the two addresses, the transport protocol
//   and, for TCP, UDP and SCTP packets that are no fragment, the two ports. IPv6 extension
//   headers (hop-by-hop, routing, destination options, AH) are walked, at most
//   kMaxIpv6ExtensionHeaders; a fragment header makes the packet a fragment (addresses and the
//   fragment's next header only). Each endpoint (address, port) is hashed alone and the two are
//   added, then mixed with the version and protocol; the program returns the top 16 bits.
//   A packet shorter than a field the hash reads gets hash 0 (queue 0), as the program's
//   BPF_LD_ABS/IND loads end it; so does a version other than 4 and 6.
//   The program sees the IP header at offset 0 (a TUN skb has no link-layer header, and the
//   virtio_net_hdr of IFF_VNET_HDR is only added when the node reads), so it is the same program
//   with or without offloads.
//   tun_steering_hash() is the same function in C++, instruction for instruction, for the tests
//   (which run the program with BPF_PROG_TEST_RUN and compare) and as its documentation.
//   TunSteeringProgram loads it with the bpf(2) syscall (BPF_PROG_TYPE_SOCKET_FILTER, hand-made
//   instructions, no libbpf); a refused load carries the verifier's log in its error.
// Thread: any; attach before the queues are read.

#include <linux/bpf.h>

#include <cstdint>
#include <span>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/io/unique_fd.hpp"

namespace nextmini::dataplane {

// The steering program's value for the raw IP packet `packet` (0..65535).
std::uint16_t tun_steering_hash(std::span<const std::uint8_t> packet) noexcept;

// The queue the steering program puts `packet` on, among `queues` (the kernel's `% numqueues`).
inline unsigned tun_steering_queue(std::span<const std::uint8_t> packet, unsigned queues) noexcept {
  return queues == 0 ? 0 : tun_steering_hash(packet) % queues;
}

class TunSteeringProgram {
 public:
  // Loads the program. Errors: "io.tun_steering" with the reason (and the verifier's log).
  static Result<TunSteeringProgram> load();

  // Makes the program the steering of the multi-queue TUN `tun_fd` belongs to (any of its queue
  // descriptors; the device keeps its own reference). Errors: "io.tun_steering" with the reason.
  Result<void> attach(int tun_fd) const;

  // Runs the program on `packet` (raw IP) with BPF_PROG_TEST_RUN; what it returned (tests).
  Result<std::uint32_t> run(std::span<const std::uint8_t> packet) const;

  int fd() const noexcept { return fd_.get(); }

 private:
  explicit TunSteeringProgram(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

namespace detail {
// Loads `code` as a BPF_PROG_TYPE_SOCKET_FILTER; a refusal carries the verifier's log (its last
// 2,000 characters). TunSteeringProgram::load's loader, exposed for its test.
Result<UniqueFd> load_socket_filter(std::span<const bpf_insn> code);
}  // namespace detail

// Loads the program and attaches it to `tun_fd` (TunSteeringProgram::load + attach).
Result<void> attach_tun_steering(int tun_fd);

// Removes a steering program from the TUN `tun_fd` belongs to (the kernel steers by itself again).
Result<void> detach_tun_steering(int tun_fd);

}  // namespace nextmini::dataplane
