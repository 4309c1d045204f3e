#pragma once
// Stream: an ordered byte stream in a worker (DESIGN.md §2). TCP sockets, TLS, WebSocket,
// protocol-framed streams and mux sub-streams all implement it, so layers stack in any
// order the configuration allows. Every operation reports errors as values.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>

namespace xsup::worker::core {

using asio::awaitable;

struct IoResult {
  std::error_code ec;
  std::size_t bytes = 0;
};

class Stream {
 public:
  virtual ~Stream() = default;

  virtual asio::any_io_executor get_executor() = 0;

  // Completes when read_some would not block, or the stream failed. Lets an idle
  // connection wait without holding a buffer (DESIGN.md §2, no allocation per read).
  virtual awaitable<std::error_code> wait_readable() = 0;
  // Reads at least one byte; ec == asio::error::eof at the end of the stream.
  virtual awaitable<IoResult> read_some(asio::mutable_buffer buffer) = 0;
  // Writes every byte of every buffer, or fails.
  virtual awaitable<std::error_code> write(std::span<const asio::const_buffer> buffers) = 0;
  // Half-close: no more bytes will be written; reading goes on.
  virtual awaitable<std::error_code> shutdown_send() = 0;
  // Cancels pending operations and releases the transport. Idempotent.
  virtual void close() = 0;

  // The kernel socket when bytes pass through this stream unchanged (plain TCP), for
  // the splice(2) fast path; -1 otherwise.
  virtual int splice_fd() const { return -1; }
  // Completes when the socket under splice_fd() can take more bytes.
  virtual awaitable<std::error_code> wait_writable();

  // Convenience: write one buffer.
  awaitable<std::error_code> write_all(asio::const_buffer buffer);
};

using StreamPtr = std::unique_ptr<Stream>;

// A stream that first yields bytes it was given (read past a header, or sniffed), then
// those of the stream under it.
class PrefixedStream final : public Stream {
 public:
  PrefixedStream(StreamPtr inner, std::span<const std::uint8_t> prefix);

  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  awaitable<std::error_code> wait_readable() override;
  awaitable<IoResult> read_some(asio::mutable_buffer buffer) override;
  awaitable<std::error_code> write(std::span<const asio::const_buffer> buffers) override {
    return inner_->write(buffers);
  }
  awaitable<std::error_code> shutdown_send() override { return inner_->shutdown_send(); }
  void close() override { inner_->close(); }
  int splice_fd() const override { return offset_ == prefix_.size() ? inner_->splice_fd() : -1; }
  awaitable<std::error_code> wait_writable() override { return inner_->wait_writable(); }

 private:
  StreamPtr inner_;
  std::unique_ptr<std::uint8_t[]> storage_;
  std::span<const std::uint8_t> prefix_;
  std::size_t offset_ = 0;
};

}  // namespace xsup::worker::core
