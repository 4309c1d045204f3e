#pragma once
// The parts of a Mux.Cool connection both ends share (spec/mux.md): one writer at a time
// on the carrying stream, and a sub-stream that is a core::Stream, so the dispatcher
// relays it like any other client stream.
//
// A sub-stream buffers what the peer sent in one pooled buffer; when that buffer is full
// the connection's reader waits (backpressure for the whole connection, as Xray's mux
// reader does). Writes become Keep frames of at most 8192 bytes; shutdown_send sends End.
// Everything runs on the carrying stream's executor (one thread per worker).

#include <array>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "worker/core/buffer_pool.h"
#include "worker/core/stream.h"
#include "worker/proxy/mux/codec.h"

namespace xsup::worker::proxy::mux {

using asio::awaitable;

// A wake-up for coroutines that wait for a condition on one executor: notify() wakes
// every waiter, which then checks its condition again.
class Signal {
 public:
  explicit Signal(const asio::any_io_executor& executor);
  awaitable<void> wait();
  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

class Connection {
 public:
  explicit Connection(core::Stream& stream);
  core::Stream& stream() { return stream_; }
  asio::any_io_executor get_executor() { return stream_.get_executor(); }

  // Writes one frame: its header and frame.data_size bytes from `data`. Frames from
  // different sub-streams never interleave. Fails once the connection is closed.
  awaitable<std::error_code> write_frame(const Frame& frame, std::span<const std::uint8_t> data);
  bool closed() const { return closed_; }
  // Closes the carrying stream and fails every later write.
  void close();

 private:
  core::Stream& stream_;
  Signal writable_;
  bool writing_ = false;
  bool closed_ = false;
  std::array<std::uint8_t, kMaxFrameHeader> header_{};
};

class SubStream final : public core::Stream {
 public:
  SubStream(Connection& connection, std::uint16_t id);
  ~SubStream() override;
  std::uint16_t id() const { return id_; }

  // The connection's reader side. Waits for room and copies `data` in; false when the
  // sub-stream is closed (the caller discards the rest).
  awaitable<bool> deliver(std::span<const std::uint8_t> data);
  // The peer sent End: reads end after the buffered bytes.
  void end_from_peer();
  // Sends End once (Opt = error when `error`); nothing when the connection is closed.
  awaitable<void> send_end(bool error);

  asio::any_io_executor get_executor() override { return connection_.get_executor(); }
  awaitable<std::error_code> wait_readable() override;
  awaitable<core::IoResult> read_some(asio::mutable_buffer buffer) override;
  awaitable<std::error_code> write(std::span<const asio::const_buffer> buffers) override;
  awaitable<std::error_code> shutdown_send() override;
  void close() override;
  // Closes without ever sending End: the peer reused the ID for a new session.
  void abandon() {
    end_sent_ = true;
    close();
  }

 private:
  Connection& connection_;
  const std::uint16_t id_;
  core::Buffer buffer_;  // held only while it has bytes
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  Signal readable_;
  Signal room_;
  bool peer_ended_ = false;
  bool closed_ = false;
  bool end_sent_ = false;
};

// Reads frames from a carrying stream through one pooled buffer: the header of each frame,
// then its data, moved to a sub-stream, taken whole (a datagram) or skipped.
class FrameReader {
 public:
  // `rest` holds bytes already read past the carrying protocol's header.
  FrameReader(core::Stream& stream, std::span<const std::uint8_t> rest);

  // The next frame's header; nullopt when the stream ended, failed or sent a bad frame
  // (ended_by() says which).
  awaitable<std::optional<Frame>> next();
  // Moves `size` data bytes to `to`, or drops them when `to` is null or closes.
  awaitable<bool> pass_data(SubStream* to, std::size_t size);
  // The next `size` data bytes in one piece (size <= kMaxFrameData), valid until the next
  // call; nullopt when the stream ended.
  awaitable<std::optional<std::span<const std::uint8_t>>> take(std::size_t size);
  awaitable<bool> skip(std::size_t size);
  // The largest size take() can hold.
  std::size_t max_take() const { return in_.capacity(); }
  std::string_view ended_by() const { return ended_by_; }
  // The stream ended with a frame that broke the format (ended_by() says how).
  bool bad_frame() const { return bad_frame_; }

 private:
  // Makes sure `want` bytes are buffered at in_[begin_]; false when the stream ended.
  awaitable<bool> fill(std::size_t want);

  core::Stream& stream_;
  core::Buffer in_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::string ended_by_ = "eof";
  bool bad_frame_ = false;
};

}  // namespace xsup::worker::proxy::mux
