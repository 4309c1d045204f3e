#pragma once
// ChunkStream: a Stream whose bytes travel as VMess body chunks (spec/vmess.md §6) over an
// inner stream, for both ends of a VMess connection.
//
// Server (inbound): reads request chunks; the first write (or the end of the stream) sends
// the sealed response header in front of the first response chunk (§7).
// Client (outbound): the first write sends the sealed request in front of the first chunk;
// if nothing is written within 100 ms of the first read, the request goes alone (Xray waits
// that long for the first payload, §3). Reads open the response header first and check V.
//
// Reads decode into the caller's buffer when it is large enough (one copy from the socket
// buffer, none more); a pooled buffer holds received bytes only while a chunk is incomplete
// or undelivered, so an idle connection holds none. Chunks longer than the pooled buffer
// (legal up to 65535 bytes, never sent by Xray or v2ray) get a per-connection buffer.
// UDP (Cmd 2) uses read_packet/write_packet: one datagram per chunk.

#include <asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "worker/core/buffer_pool.h"
#include "worker/core/stream.h"
#include "worker/proxy/vmess/chunk.h"
#include "worker/proxy/vmess/header.h"

namespace xsup::worker::proxy::vmess {

using asio::awaitable;

class ChunkStream final : public core::Stream {
 public:
  struct ServerSide {
    const RequestHeader& request;
    core::Buffer received;  // bytes read past the request header, in received[begin, end)
    std::size_t begin = 0;
    std::size_t end = 0;
  };
  struct ClientSide {
    const RequestHeader& request;
    std::span<const std::uint8_t> sealed_request;  // AuthID ‖ … ‖ EncHeader
  };

  ChunkStream(core::StreamPtr inner, ServerSide server);
  ChunkStream(core::StreamPtr inner, ClientSide client);
  ~ChunkStream() override;

  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  awaitable<std::error_code> wait_readable() override;
  awaitable<core::IoResult> read_some(asio::mutable_buffer buffer) override;
  awaitable<std::error_code> write(std::span<const asio::const_buffer> buffers) override;
  // Sends the end-of-stream chunk (and the pending header). The inner stream stays open:
  // the chunk says it all, as Xray does.
  awaitable<std::error_code> shutdown_send() override;
  void close() override;

  // UDP: one chunk's payload per call; a datagram larger than `buffer` is dropped.
  awaitable<core::IoResult> read_packet(asio::mutable_buffer buffer);
  awaitable<std::error_code> write_packet(std::span<const std::uint8_t> payload);
  std::size_t max_packet() const { return writer_.max_payload(); }

 private:
  awaitable<std::error_code> ensure(std::size_t n);
  awaitable<std::error_code> read_response_header();
  awaitable<std::error_code> send_request_soon();
  awaitable<void> lock_writer();
  void unlock_writer();
  // Fills the header (if still unsent) and as many chunks from `data` as fit into tx;
  // returns the bytes used.
  awaitable<std::error_code> send(std::span<const asio::const_buffer> buffers, bool end);
  awaitable<core::IoResult> read_chunks(asio::mutable_buffer buffer, bool one);
  std::uint8_t* rx() { return big_ ? big_.get() : received_.data(); }
  std::size_t rx_capacity() const;
  void release_if_empty();

  core::StreamPtr inner_;
  bool client_;
  bool raw_;  // security none without option S: the body is the bytes themselves
  ChunkCodec reader_;
  ChunkCodec writer_;

  // Header to send with the first write: the sealed request (client) or response (server).
  std::array<std::uint8_t, kMaxRequestSize> header_{};
  std::size_t header_size_ = 0;
  bool header_sent_ = false;
  asio::steady_timer header_timer_;

  // Client: the response header is checked before the first chunk.
  bool response_pending_ = false;
  Bytes16 resp_key_{};
  Bytes16 resp_iv_{};
  std::uint8_t response_auth_ = 0;

  // Received bytes: rx()[begin_, end_).
  core::Buffer received_;
  std::unique_ptr<std::uint8_t[]> big_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  // A decoded chunk that did not fit the caller's buffer: rx()[plain_begin_, plain_end_).
  std::size_t plain_begin_ = 0;
  std::size_t plain_end_ = 0;
  std::optional<ChunkCodec::Length> next_length_;  // decoded, body not consumed yet
  bool eof_ = false;

  bool writing_ = false;
  asio::steady_timer writer_idle_;
};

}  // namespace xsup::worker::proxy::vmess
