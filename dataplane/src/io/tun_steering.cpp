#include "nextmini/dataplane/io/tun_steering.hpp"

#include <linux/bpf.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "nextmini/dataplane/core/ip_packet.hpp"
#include "nextmini/dataplane/io/syscalls.hpp"

namespace nextmini::dataplane {
namespace {

// ---------------------------------------------------------------------------------------------
// The hash, shared by the C++ function and the program (the constants and the per-step recipe).
//   endpoint(port, words):  h = port << 32; for each 32-bit address word w (1 for IPv4, 4 for
//                           IPv6, network order): h ^= w; h *= kMul; h ^= h >> 32.
//   flow:                   f = endpoint(src port, src) + endpoint(dst port, dst)   (symmetric)
//                           f ^= version << 8 | protocol; f *= kFinal; f ^= f >> 32; f *= kMul
//   value:                  f >> 48
// For IPv4 the first step (port << 32 | address) is injective and every later step a bijection,
// so two endpoints never share a value.
constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ULL;
constexpr std::uint64_t kFinal = 0xff51afd7ed558ccdULL;
constexpr std::uint8_t kIpProtoSctp = 132;
constexpr std::uint8_t kIpv6Fragment = 44;
constexpr std::uint8_t kIpv6Ah = 51;

bool carries_ports(std::uint32_t protocol) noexcept {
  return protocol == kIpProtoTcp || protocol == kIpProtoUdp || protocol == kIpProtoSctp;
}
bool is_ipv6_option_header(std::uint32_t next) noexcept {  // length in 8-byte units, minus 1
  return next == 0 || next == 43 || next == 60;
}

std::uint64_t mix_word(std::uint64_t h, std::uint32_t word) noexcept {
  h ^= word;
  h *= kMul;
  return h ^ (h >> 32);
}

std::uint16_t finish(std::uint64_t sum, std::uint32_t version, std::uint32_t protocol) noexcept {
  std::uint64_t f = sum ^ ((static_cast<std::uint64_t>(version) << 8) | protocol);
  f *= kFinal;
  f ^= f >> 32;
  f *= kMul;
  return static_cast<std::uint16_t>(f >> 48);
}

// Big-endian loads as BPF_LD_ABS/IND do them; one out of bounds ends the program with 0.
class Loads {
 public:
  explicit Loads(std::span<const std::uint8_t> packet) : packet_(packet) {}
  std::uint32_t u8(std::uint64_t at) noexcept { return load(at, 1); }
  std::uint32_t u16(std::uint64_t at) noexcept { return load(at, 2); }
  std::uint32_t u32(std::uint64_t at) noexcept { return load(at, 4); }
  bool out_of_bounds() const noexcept { return out_of_bounds_; }

 private:
  std::uint32_t load(std::uint64_t at, std::size_t size) noexcept {
    if (at > packet_.size() || packet_.size() - at < size) {
      out_of_bounds_ = true;
      return 0;
    }
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < size; ++i) value = (value << 8) | packet_[at + i];
    return value;
  }
  std::span<const std::uint8_t> packet_;
  bool out_of_bounds_ = false;
};

std::uint64_t endpoint(Loads& loads, std::uint32_t port, std::uint64_t first_word, int words) {
  std::uint64_t h = static_cast<std::uint64_t>(port) << 32;
  for (int i = 0; i < words; ++i) h = mix_word(h, loads.u32(first_word + 4 * i));
  return h;
}

}  // namespace

std::uint16_t tun_steering_hash(std::span<const std::uint8_t> packet) noexcept {
  Loads loads(packet);
  const std::uint32_t version = loads.u8(0) >> 4;
  std::uint32_t protocol = 0;
  std::uint32_t ports = 0;  // src port << 16 | dst port, or 0
  std::uint64_t src = 0;
  int words = 0;
  if (version == 4) {
    protocol = loads.u8(9);
    const bool fragment = (loads.u16(6) & 0x3fff) != 0;  // MF or an offset
    if (!fragment && carries_ports(protocol)) ports = loads.u32((loads.u8(0) & 0x0f) << 2);
    src = 12;
    words = 1;
  } else if (version == 6) {
    std::uint32_t next = loads.u8(6);
    std::uint64_t offset = 40;
    bool fragment = false;
    for (std::size_t i = 0; i < kMaxIpv6ExtensionHeaders && !loads.out_of_bounds(); ++i) {
      if (next == kIpv6Fragment) {
        next = loads.u8(offset);
        fragment = true;
        break;
      }
      std::uint64_t length = 0;
      if (next == kIpv6Ah) {
        length = (loads.u8(offset + 1) + 2) << 2;
      } else if (is_ipv6_option_header(next)) {
        length = (loads.u8(offset + 1) + 1) << 3;
      } else {
        break;
      }
      next = loads.u8(offset);
      offset += length;
    }
    protocol = next;
    if (!fragment && carries_ports(protocol)) ports = loads.u32(offset);
    src = 8;
    words = 4;
  } else {
    return 0;
  }
  const std::uint64_t sum = endpoint(loads, ports >> 16, src, words) +
                            endpoint(loads, ports & 0xffff, src + 4 * words, words);
  if (loads.out_of_bounds()) return 0;
  return finish(sum, version, protocol);
}

namespace {

// ---------------------------------------------------------------------------------------------
// The program. A small assembler: instructions, and labels resolved into jump offsets.
//   Registers: r6 the skb (BPF_LD_ABS/IND read through it and clobber r0-r5), r7 the protocol,
//   r8 the ports word (src << 16 | dst, or 0), r9 the hash being built; r1 a scratch register
//   between loads; the stack slot [r10 - 8] holds the source endpoint while the destination's
//   is computed.
constexpr std::uint8_t r0 = BPF_REG_0, r1 = BPF_REG_1, r6 = BPF_REG_6, r7 = BPF_REG_7,
                       r8 = BPF_REG_8, r9 = BPF_REG_9, r10 = BPF_REG_10;

bpf_insn make(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off,
              std::int32_t imm) {
  bpf_insn insn{};
  insn.code = code;
  insn.dst_reg = dst & 0x0f;
  insn.src_reg = src & 0x0f;
  insn.off = off;
  insn.imm = imm;
  return insn;
}

class Assembler {
 public:
  using Label = std::size_t;

  Label label() {
    targets_.push_back(kUnbound);
    return targets_.size() - 1;
  }
  void bind(Label label) { targets_[label] = code_.size(); }

  void mov(std::uint8_t dst, std::uint8_t src) { alu(BPF_MOV, dst, src); }
  void mov_imm(std::uint8_t dst, std::int32_t imm) { alu_imm(BPF_MOV, dst, imm); }
  void alu(std::uint8_t op, std::uint8_t dst, std::uint8_t src) {
    code_.push_back(make(BPF_ALU64 | op | BPF_X, dst, src, 0, 0));
  }
  void alu_imm(std::uint8_t op, std::uint8_t dst, std::int32_t imm) {
    code_.push_back(make(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm));
  }
  void load_imm64(std::uint8_t dst, std::uint64_t value) {  // two instruction slots
    code_.push_back(make(BPF_LD | BPF_DW | BPF_IMM, dst, 0, 0, static_cast<std::int32_t>(value)));
    code_.push_back(make(0, 0, 0, 0, static_cast<std::int32_t>(value >> 32)));
  }
  // r0 = the big-endian value of `size` (BPF_B/H/W) bytes at [offset] or [index + offset].
  void load_packet(std::uint8_t size, std::int32_t offset) {
    code_.push_back(make(BPF_LD | BPF_ABS | size, 0, 0, 0, offset));
  }
  void load_packet_at(std::uint8_t size, std::uint8_t index, std::int32_t offset) {
    code_.push_back(make(BPF_LD | BPF_IND | size, 0, index, 0, offset));
  }
  void store_stack(std::int16_t offset, std::uint8_t src) {
    code_.push_back(make(BPF_STX | BPF_MEM | BPF_DW, r10, src, offset, 0));
  }
  void load_stack(std::uint8_t dst, std::int16_t offset) {
    code_.push_back(make(BPF_LDX | BPF_MEM | BPF_DW, dst, r10, offset, 0));
  }
  void jump_if(std::uint8_t op, std::uint8_t reg, std::int32_t imm, Label to) {
    fixups_.push_back({code_.size(), to});
    code_.push_back(make(BPF_JMP | op | BPF_K, reg, 0, 0, imm));
  }
  void jump(Label to) {
    fixups_.push_back({code_.size(), to});
    code_.push_back(make(BPF_JMP | BPF_JA, 0, 0, 0, 0));
  }
  void exit() { code_.push_back(make(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)); }

  std::vector<bpf_insn> finish() {
    for (const auto& [at, label] : fixups_) {
      code_[at].off = static_cast<std::int16_t>(static_cast<std::ptrdiff_t>(targets_[label]) -
                                                static_cast<std::ptrdiff_t>(at) - 1);
    }
    return std::move(code_);
  }

 private:
  static constexpr std::size_t kUnbound = ~std::size_t{0};
  struct Fixup {
    std::size_t at;
    Label label;
  };
  std::vector<bpf_insn> code_;
  std::vector<std::size_t> targets_;
  std::vector<Fixup> fixups_;
};

// r9 = endpoint(port, words): the port is the high (source) or low (destination) half of r8.
void emit_endpoint(Assembler& a, bool source, std::int32_t first_word, int words) {
  a.mov(r9, r8);
  if (source) {
    a.alu_imm(BPF_RSH, r9, 16);
  } else {
    a.alu_imm(BPF_AND, r9, 0xffff);
  }
  a.alu_imm(BPF_LSH, r9, 32);
  for (int i = 0; i < words; ++i) {
    a.load_packet(BPF_W, first_word + 4 * i);
    a.alu(BPF_XOR, r9, r0);  // h ^= w
    a.load_imm64(r1, kMul);
    a.alu(BPF_MUL, r9, r1);  // h *= kMul
    a.mov(r1, r9);
    a.alu_imm(BPF_RSH, r1, 32);
    a.alu(BPF_XOR, r9, r1);  // h ^= h >> 32
  }
}

// The flow value from r7 (protocol) and r8 (ports), reading the addresses; returns it.
void emit_hash_and_exit(Assembler& a, std::int32_t src, int words, std::int32_t version) {
  emit_endpoint(a, true, src, words);
  a.store_stack(-8, r9);
  emit_endpoint(a, false, src + 4 * words, words);
  a.load_stack(r1, -8);
  a.alu(BPF_ADD, r9, r1);  // f = source + destination
  a.alu_imm(BPF_OR, r7, version << 8);
  a.alu(BPF_XOR, r9, r7);  // f ^= version << 8 | protocol
  a.load_imm64(r1, kFinal);
  a.alu(BPF_MUL, r9, r1);
  a.mov(r1, r9);
  a.alu_imm(BPF_RSH, r1, 32);
  a.alu(BPF_XOR, r9, r1);
  a.load_imm64(r1, kMul);
  a.alu(BPF_MUL, r9, r1);
  a.mov(r0, r9);
  a.alu_imm(BPF_RSH, r0, 48);
  a.exit();
}

// Jumps to `to` when r7 is TCP, UDP or SCTP.
void emit_if_ports(Assembler& a, Assembler::Label to) {
  a.jump_if(BPF_JEQ, r7, kIpProtoTcp, to);
  a.jump_if(BPF_JEQ, r7, kIpProtoUdp, to);
  a.jump_if(BPF_JEQ, r7, kIpProtoSctp, to);
}

std::vector<bpf_insn> steering_program() {
  Assembler a;
  const auto ipv4 = a.label(), ipv6 = a.label();
  a.mov(r6, BPF_REG_1);  // the skb, for BPF_LD_ABS/IND
  a.mov_imm(r8, 0);      // no ports
  a.load_packet(BPF_B, 0);
  a.alu_imm(BPF_RSH, r0, 4);
  a.jump_if(BPF_JEQ, r0, 4, ipv4);
  a.jump_if(BPF_JEQ, r0, 6, ipv6);
  a.mov_imm(r0, 0);  // neither IPv4 nor IPv6: queue 0
  a.exit();

  // IPv4: protocol at 9, fragment bits at 6, ports behind IHL * 4 bytes, addresses at 12, 16.
  a.bind(ipv4);
  const auto ipv4_ports = a.label(), ipv4_hash = a.label();
  a.load_packet(BPF_B, 9);
  a.mov(r7, r0);
  a.load_packet(BPF_H, 6);
  a.alu_imm(BPF_AND, r0, 0x3fff);
  a.jump_if(BPF_JNE, r0, 0, ipv4_hash);  // a fragment: no ports
  emit_if_ports(a, ipv4_ports);
  a.jump(ipv4_hash);
  a.bind(ipv4_ports);
  a.load_packet(BPF_B, 0);
  a.alu_imm(BPF_AND, r0, 0x0f);
  a.alu_imm(BPF_LSH, r0, 2);
  a.mov(r9, r0);
  a.load_packet_at(BPF_W, r9, 0);
  a.mov(r8, r0);
  a.bind(ipv4_hash);
  emit_hash_and_exit(a, 12, 1, 4);

  // IPv6: r7 the next header (at 6), r8 the offset of the header it names (from 40); the
  // extension headers are walked, unrolled, at most kMaxIpv6ExtensionHeaders.
  a.bind(ipv6);
  const auto fragment = a.label(), walked = a.label(), ipv6_ports = a.label(),
             ipv6_hash = a.label();
  a.load_packet(BPF_B, 6);
  a.mov(r7, r0);
  a.mov_imm(r8, 40);
  for (std::size_t i = 0; i < kMaxIpv6ExtensionHeaders; ++i) {
    const auto option = a.label(), ah = a.label(), advance = a.label();
    a.jump_if(BPF_JEQ, r7, kIpv6Fragment, fragment);
    a.jump_if(BPF_JEQ, r7, kIpv6Ah, ah);
    a.jump_if(BPF_JEQ, r7, 0, option);
    a.jump_if(BPF_JEQ, r7, 43, option);
    a.jump_if(BPF_JEQ, r7, 60, option);
    a.jump(walked);
    a.bind(option);  // length: (byte 1 + 1) * 8
    a.load_packet_at(BPF_B, r8, 1);
    a.alu_imm(BPF_ADD, r0, 1);
    a.alu_imm(BPF_LSH, r0, 3);
    a.mov(r9, r0);
    a.jump(advance);
    a.bind(ah);  // length: (byte 1 + 2) * 4
    a.load_packet_at(BPF_B, r8, 1);
    a.alu_imm(BPF_ADD, r0, 2);
    a.alu_imm(BPF_LSH, r0, 2);
    a.mov(r9, r0);
    a.bind(advance);  // next header: byte 0
    a.load_packet_at(BPF_B, r8, 0);
    a.mov(r7, r0);
    a.alu(BPF_ADD, r8, r9);
  }
  a.bind(walked);
  emit_if_ports(a, ipv6_ports);
  a.mov_imm(r8, 0);
  a.jump(ipv6_hash);
  a.bind(ipv6_ports);
  a.load_packet_at(BPF_W, r8, 0);
  a.mov(r8, r0);
  a.jump(ipv6_hash);
  a.bind(fragment);  // the fragment header's next header is the protocol; no ports
  a.load_packet_at(BPF_B, r8, 0);
  a.mov(r7, r0);
  a.mov_imm(r8, 0);
  a.bind(ipv6_hash);
  emit_hash_and_exit(a, 8, 4, 6);
  return a.finish();
}

long bpf(int command, bpf_attr& attr) noexcept {
  long rc;
  do {
    rc = ::syscall(SYS_bpf, command, &attr, sizeof(attr));
  } while (rc < 0 && errno == EINTR);
  return rc < 0 ? -errno : rc;
}

std::string errno_text(long rc) { return std::strerror(static_cast<int>(-rc)); }

}  // namespace

namespace detail {

Result<UniqueFd> load_socket_filter(std::span<const bpf_insn> code) {
  static const char kLicense[] = "GPL";
  const auto load_with_log = [&](char* log, std::uint32_t log_size) {
    bpf_attr attr{};
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = reinterpret_cast<std::uintptr_t>(code.data());
    attr.insn_cnt = static_cast<std::uint32_t>(code.size());
    attr.license = reinterpret_cast<std::uintptr_t>(kLicense);
    attr.log_buf = reinterpret_cast<std::uintptr_t>(log);
    attr.log_size = log_size;
    attr.log_level = log == nullptr ? 0 : 1;
    std::memcpy(attr.prog_name, "nm_tun_steer", sizeof("nm_tun_steer"));
    return bpf(BPF_PROG_LOAD, attr);
  };
  const long fd = load_with_log(nullptr, 0);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  std::string message =
      "cannot load the TUN queue steering program (bpf BPF_PROG_LOAD): " + errno_text(fd) +
      (fd == -EPERM ? "; are you root (CAP_BPF, CAP_NET_ADMIN)?" : "");
  if (fd != -EPERM && fd != -ENOSYS) {  // ask again with the verifier's log
    std::vector<char> log(1 << 20, '\0');
    const long again = load_with_log(log.data(), static_cast<std::uint32_t>(log.size()));
    if (again >= 0) return UniqueFd(static_cast<int>(again));
    std::string text(log.data(), ::strnlen(log.data(), log.size()));
    while (!text.empty() && text.back() == '\n') text.pop_back();
    constexpr std::size_t kTail = 2000;  // where the verifier says what it refused
    if (text.size() > kTail) text = "..." + text.substr(text.size() - kTail);
    if (!text.empty()) message += "; verifier log:\n" + text;
  }
  return fail("io.tun_steering", message);
}

}  // namespace detail

Result<TunSteeringProgram> TunSteeringProgram::load() {
  const std::vector<bpf_insn> code = steering_program();
  auto fd = detail::load_socket_filter(code);
  if (!fd) return Failure{fd.error()};
  return TunSteeringProgram(std::move(*fd));
}

Result<void> TunSteeringProgram::attach(int tun_fd) const {
  int prog = fd_.get();
  const int rc = sys_ioctl(tun_fd, TUNSETSTEERINGEBPF, &prog);
  if (rc < 0) {
    return fail("io.tun_steering",
                "cannot attach the queue steering program to the TUN (TUNSETSTEERINGEBPF): " +
                    errno_text(rc) + (rc == -EINVAL ? "; does this kernel predate 4.16?" : ""));
  }
  return ok();
}

Result<std::uint32_t> TunSteeringProgram::run(std::span<const std::uint8_t> packet) const {
  // A socket filter's test run takes an Ethernet frame and hands the program the skb behind the
  // Ethernet header (as a TUN's skb is: the IP header at offset 0). The EtherType is the local
  // experimental one: with IPv4's or IPv6's the kernel refuses packets shorter than their fixed
  // header, and the program never looks at it.
  std::vector<std::uint8_t> frame(14, 0);
  frame[12] = 0x88;
  frame[13] = 0xb5;
  frame.insert(frame.end(), packet.begin(), packet.end());
  bpf_attr attr{};
  attr.test.prog_fd = static_cast<std::uint32_t>(fd_.get());
  attr.test.data_in = reinterpret_cast<std::uintptr_t>(frame.data());
  attr.test.data_size_in = static_cast<std::uint32_t>(frame.size());
  attr.test.repeat = 1;
  const long rc = bpf(BPF_PROG_TEST_RUN, attr);
  if (rc < 0) {
    return fail("io.tun_steering",
                "BPF_PROG_TEST_RUN of the queue steering program: " + errno_text(rc));
  }
  return attr.test.retval;
}

Result<void> attach_tun_steering(int tun_fd) {
  auto program = TunSteeringProgram::load();
  if (!program) return Failure{program.error()};
  return program->attach(tun_fd);  // the TUN holds the program; our descriptor closes here
}

Result<void> detach_tun_steering(int tun_fd) {
  int none = -1;
  const int rc = sys_ioctl(tun_fd, TUNSETSTEERINGEBPF, &none);
  if (rc < 0) {
    return fail("io.tun_steering",
                "cannot detach the queue steering program (TUNSETSTEERINGEBPF): " + errno_text(rc));
  }
  return ok();
}

}  // namespace nextmini::dataplane
