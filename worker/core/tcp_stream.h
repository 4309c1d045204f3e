#pragma once
// A Stream over a connected TCP socket: the bottom of every TCP pipeline, and the only
// stream that offers splice_fd().

#include <asio/ip/tcp.hpp>

#include "worker/core/stream.h"

namespace xsup::worker::core {

class TcpStream final : public Stream {
 public:
  explicit TcpStream(asio::ip::tcp::socket socket);

  asio::any_io_executor get_executor() override { return socket_.get_executor(); }
  awaitable<std::error_code> wait_readable() override;
  awaitable<IoResult> read_some(asio::mutable_buffer buffer) override;
  awaitable<std::error_code> write(std::span<const asio::const_buffer> buffers) override;
  awaitable<std::error_code> shutdown_send() override;
  void close() override;
  int splice_fd() const override;
  awaitable<std::error_code> wait_writable() override;

  asio::ip::tcp::socket& socket() { return socket_; }

 private:
  asio::ip::tcp::socket socket_;
};

}  // namespace xsup::worker::core
