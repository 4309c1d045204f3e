#pragma once
// Mux.Cool frames as pure functions (spec/mux.md §1; STYLE.md §2):
//   METALEN(2) META[SESSION(2) STATUS OPTION (NETWORK PORT ATYP ADDR (GLOBALID))]
//   (if OPTION & 1) DATALEN(2) DATA
// parse_frame reads everything up to the data and says how many data bytes follow; the
// caller moves the data itself, so a payload is never copied by the codec.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "shared/base/error.h"
#include "shared/net/destination.h"
#include "worker/proxy/address_codec.h"

namespace xsup::worker::proxy::mux {

using base::Expected;

// spec/mux.md §1 status byte.
enum class Status : std::uint8_t { kNew = 0x01, kKeep = 0x02, kEnd = 0x03, kKeepAlive = 0x04 };
// spec/mux.md §1 option bits.
inline constexpr std::uint8_t kOptionData = 0x01;
inline constexpr std::uint8_t kOptionError = 0x02;
// spec/mux.md §1: a longer metadata is an error.
inline constexpr std::size_t kMaxMetaSize = 512;
// METALEN, the metadata and DATALEN.
inline constexpr std::size_t kMaxFrameHeader = 2 + kMaxMetaSize + 2;
// spec/mux.md §1 writer rules: TCP data is cut into frames of at most this many bytes, and
// a UDP datagram is at most this long.
inline constexpr std::size_t kMaxFrameData = 8192;
// spec/mux.md §3: XUDP's writer drops datagrams with length + 666 > 8192.
inline constexpr std::size_t kMaxXudpDatagram = 8192 - 666;
// spec/mux.md §2: the target name that means "this stream is Mux.Cool".
inline constexpr std::string_view kMuxCoolDomain = "v1.mux.cool";

// spec/mux.md §2: the port a client names with kMuxCoolDomain (Xray's muxCoolPort).
inline constexpr std::uint16_t kMuxCoolPort = 9527;

using GlobalId = std::array<std::uint8_t, 8>;

// True for the target that means "this stream carries Mux.Cool" (spec/mux.md §2).
bool is_mux_target(const net::Destination& target);

struct Frame {
  std::uint16_t session_id = 0;
  Status status = Status::kKeepAlive;
  std::uint8_t option = 0;
  // New: the session's network and target. Keep: the per-packet UDP address (XUDP and
  // full-cone UDP, spec/mux.md §1), network udp.
  std::optional<net::Destination> address;
  // New, UDP, with data: the XUDP Global ID when it is present and not all zero.
  std::optional<GlobalId> global_id;
  // The data that follows the header; meaningful when option has kOptionData.
  std::size_t data_size = 0;

  bool has_data() const { return (option & kOptionData) != 0; }
  bool has_error() const { return (option & kOptionError) != 0; }
};

// Reads one frame header (through DATALEN when the data bit is set) at the start of `in`.
// `consumed` is where the data starts. kNeedMore for a valid prefix; kProtocol for a
// metadata length over 512, a short metadata, an unknown status or network, or an address
// that does not fit its metadata. Bytes left in the metadata after the known fields are
// ignored, as Xray does.
Expected<Decoded<Frame>> parse_frame(std::span<const std::uint8_t> in);

// Writes the header of `frame` (and DATALEN = frame.data_size when it has the data bit)
// into `out` (at least kMaxFrameHeader bytes). Returns the size, 0 when an address
// cannot be encoded. A New frame needs `address`; a Keep frame writes it when present.
std::size_t encode_frame(const Frame& frame, std::span<std::uint8_t> out);

}  // namespace xsup::worker::proxy::mux
