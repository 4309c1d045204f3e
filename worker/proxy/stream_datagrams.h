#pragma once
// Datagrams carried inside a byte stream, as VLESS (spec/vless.md §6.2) and Trojan
// (spec/trojan.md §3) do for UDP. A protocol supplies its framing as a DatagramFraming;
// this file gives both ends of such a stream:
//   - relay_stream_datagrams: an inbound's client stream against the dispatcher's packet
//     stream, until either side ends or the policy's connIdle passes with no datagram;
//   - StreamPacketStream: an outbound's stream seen as a PacketStream.

#include <asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "shared/base/error.h"
#include "shared/net/destination.h"
#include "worker/core/packet_stream.h"
#include "worker/core/session.h"
#include "worker/core/stream.h"

namespace xsup::worker::proxy {

using asio::awaitable;
using base::Expected;

struct DatagramFrame {
  std::optional<net::Destination> address;  // none when the stream fixes the destination
  std::size_t payload_offset = 0;
  std::size_t payload_size = 0;
  std::size_t frame_size = 0;
};

// The longest frame header any framing writes (Trojan's: a 255-byte domain, its ATYP,
// length byte and port, LENGTH and CRLF).
inline constexpr std::size_t kMaxDatagramHeader = 1 + 1 + 255 + 2 + 2 + 2;

struct DatagramFraming {
  // One frame at the start of `in`: kNeedMore for a valid prefix, another error for a bad
  // or oversized frame (which ends the stream).
  Expected<DatagramFrame> (*parse)(std::span<const std::uint8_t> in);
  // Writes the header for a payload of `size` bytes from or to `address` into `out`;
  // returns its size, 0 when it cannot be written.
  std::size_t (*encode_header)(const net::Destination& address, std::size_t size,
                               std::span<std::uint8_t> out);
  std::size_t max_header;   // the longest header encode_header writes
  std::size_t max_frame;    // the longest frame parse accepts
  std::size_t max_written;  // larger payloads are dropped by the writer
};

// Reads frames from a stream into one buffer of framing.max_frame bytes (per UDP session,
// not per read).
class FrameReader {
 public:
  explicit FrameReader(const DatagramFraming& framing);
  // Bytes already read from the stream (past a protocol header).
  void seed(std::span<const std::uint8_t> bytes);
  // The next frame; its payload (payload()) stays valid until the next call.
  awaitable<Expected<DatagramFrame>> next(core::Stream& stream);
  std::span<const std::uint8_t> payload(const DatagramFrame& frame) const {
    return {buffer_.get() + frame_begin_ + frame.payload_offset, frame.payload_size};
  }

 private:
  const DatagramFraming& framing_;
  std::unique_ptr<std::uint8_t[]> buffer_;
  std::size_t begin_ = 0;  // unparsed bytes are [begin_, end_)
  std::size_t end_ = 0;
  std::size_t frame_begin_ = 0;
};

struct DatagramRelayResult {
  std::uint64_t uplink_packets = 0;
  std::uint64_t downlink_packets = 0;
  std::string_view ended_by;  // "eof", "idle timeout", "bad frame", "error"
};

// Carries datagrams between an inbound's client stream and the packet stream the
// dispatcher opened. Frames without an address go to `fixed_target`. `reader` may hold
// bytes read past the header.
awaitable<DatagramRelayResult> relay_stream_datagrams(core::Stream& client, FrameReader& reader,
                                                      core::PacketStream& server,
                                                      const DatagramFraming& framing,
                                                      const net::Destination& fixed_target,
                                                      const core::Policy& policy);

// An outbound's framed stream as a packet stream. Frames without an address came from
// `fixed_peer`. With `fixed_destination` (VLESS: the request header names the only
// target) datagrams for any other destination are dropped.
class StreamPacketStream final : public core::PacketStream {
 public:
  StreamPacketStream(core::StreamPtr stream, const DatagramFraming& framing,
                     net::Destination fixed_peer, bool fixed_destination);
  ~StreamPacketStream() override;

  asio::any_io_executor get_executor() override { return stream_->get_executor(); }
  awaitable<core::PacketResult> receive(asio::mutable_buffer buffer) override;
  awaitable<std::error_code> send(std::span<const std::uint8_t> payload,
                                  const net::Destination& to) override;
  void close() override { stream_->close(); }

 private:
  core::StreamPtr stream_;
  const DatagramFraming& framing_;
  net::Destination fixed_peer_;
  bool fixed_destination_;
  FrameReader reader_;
};

}  // namespace xsup::worker::proxy
