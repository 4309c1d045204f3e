#include "worker/core/tcp_stream.h"

#include <sys/socket.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>

namespace xsup::worker::core {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
}

TcpStream::TcpStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  std::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

awaitable<std::error_code> TcpStream::wait_readable() {
  // Asio's epoll reactor is edge-triggered and does not try a wait speculatively: bytes
  // (or a FIN) that arrived before this wait would never wake it. Peek first; if nothing
  // is there, the next arrival raises a fresh edge, since this loop is single-threaded.
  char probe;
  ssize_t n = ::recv(socket_.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) co_return std::error_code{};
  if (errno != EAGAIN && errno != EWOULDBLOCK)
    co_return std::error_code(errno, std::system_category());
  auto [ec] = co_await socket_.async_wait(asio::socket_base::wait_read, kTuple);
  co_return ec;
}

awaitable<IoResult> TcpStream::read_some(asio::mutable_buffer buffer) {
  auto [ec, n] = co_await socket_.async_read_some(buffer, kTuple);
  co_return IoResult{ec, n};
}

awaitable<std::error_code> TcpStream::write(std::span<const asio::const_buffer> buffers) {
  auto [ec, n] = co_await asio::async_write(socket_, buffers, kTuple);
  co_return ec;
}

awaitable<std::error_code> TcpStream::shutdown_send() {
  std::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_send, ec);
  co_return ec;
}

void TcpStream::close() {
  std::error_code ec;
  socket_.close(ec);
}

int TcpStream::splice_fd() const {
  return socket_.is_open() ? const_cast<asio::ip::tcp::socket&>(socket_).native_handle() : -1;
}

awaitable<std::error_code> TcpStream::wait_writable() {
  auto [ec] = co_await socket_.async_wait(asio::socket_base::wait_write, kTuple);
  co_return ec;
}

}  // namespace xsup::worker::core
