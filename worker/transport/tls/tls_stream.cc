#include "worker/transport/tls/tls_stream.h"

#include <openssl/err.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>

#include "shared/base/error.h"

namespace xsup::worker::transport::tls {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// The oldest entry of OpenSSL's error queue as text, and the queue cleared: the queue is
// per thread and shared by every connection of this worker.
std::string take_openssl_error() {
  unsigned long code = ERR_peek_error();
  std::string text;
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text = buffer;
  }
  ERR_clear_error();
  return text;
}

}  // namespace

TlsStream::TlsStream(std::unique_ptr<core::TcpStream> tcp, SSL* ssl)
    : tcp_(std::move(tcp)), ssl_(ssl) {
  SSL_set_fd(ssl_, tcp_->socket().native_handle());
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

std::string TlsStream::alpn() const {
  const unsigned char* data = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(ssl_, &data, &size);
  return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data), size);
}

awaitable<TlsStream::Next> TlsStream::after(int result) {
  const int saved_errno = errno;
  const int error = SSL_get_error(ssl_, result);
  switch (error) {
    case SSL_ERROR_WANT_READ: {
      ERR_clear_error();
      auto [ec] = co_await tcp_->socket().async_wait(asio::socket_base::wait_read, kTuple);
      co_return Next{!ec, ec};
    }
    case SSL_ERROR_WANT_WRITE: {
      ERR_clear_error();
      auto [ec] = co_await tcp_->socket().async_wait(asio::socket_base::wait_write, kTuple);
      co_return Next{!ec, ec};
    }
    case SSL_ERROR_ZERO_RETURN:  // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a bare FIN
      ERR_clear_error();
      co_return Next{false, asio::error::eof};
    case SSL_ERROR_SYSCALL:
      error_text_ = take_openssl_error();
      if (saved_errno != 0)
        co_return Next{false, std::error_code(saved_errno, std::system_category())};
      co_return Next{false, asio::error::eof};
    default:
      error_text_ = take_openssl_error();
      if (!tcp_->socket().is_open()) co_return Next{false, asio::error::operation_aborted};
      co_return Next{false, base::make_error_code(base::Errc::kProtocol)};
  }
}

awaitable<std::error_code> TlsStream::handshake() {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int result = SSL_do_handshake(ssl_);
    if (result == 1) co_return std::error_code{};
    Next next = co_await after(result);
    if (!next.retry) {
      if (error_text_.empty() && next.ec) error_text_ = next.ec.message();
      co_return next.ec ? next.ec : base::make_error_code(base::Errc::kProtocol);
    }
  }
}

bool TlsStream::is_tls13() const { return SSL_version(ssl_) == TLS1_3_VERSION; }

int TlsStream::splice_fd() const {
  if (!raw_read_ || !raw_write_ || SSL_pending(ssl_) > 0) return -1;
  return tcp_->splice_fd();
}

awaitable<std::error_code> TlsStream::wait_readable() {
  if (raw_read_ && SSL_pending(ssl_) == 0) co_return co_await tcp_->wait_readable();
  // A record already decrypted, or raw bytes of the next one held by OpenSSL.
  if (SSL_pending(ssl_) > 0 || SSL_has_pending(ssl_) == 1) co_return std::error_code{};
  co_return co_await tcp_->wait_readable();
}

awaitable<core::IoResult> TlsStream::read_some(asio::mutable_buffer buffer) {
  if (buffer.size() == 0) co_return core::IoResult{};
  if (raw_read_) {
    // spec/vision.md §5 step 4: the rest of the record that held the Direct frame first.
    // With read_ahead off OpenSSL pulled nothing past it from the socket.
    const int pending = SSL_pending(ssl_);
    if (pending <= 0) co_return co_await tcp_->read_some(buffer);
    std::size_t n = 0;
    const std::size_t want = std::min(buffer.size(), static_cast<std::size_t>(pending));
    ERR_clear_error();
    if (SSL_read_ex(ssl_, buffer.data(), want, &n) == 1) co_return core::IoResult{{}, n};
    error_text_ = take_openssl_error();
    co_return core::IoResult{base::make_error_code(base::Errc::kProtocol), 0};
  }
  for (;;) {
    ERR_clear_error();
    errno = 0;
    std::size_t n = 0;
    const int result = SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n);
    if (result == 1) co_return core::IoResult{{}, n};
    Next next = co_await after(result);
    if (!next.retry) co_return core::IoResult{next.ec, 0};
  }
}

awaitable<std::error_code> TlsStream::write(std::span<const asio::const_buffer> buffers) {
  if (raw_write_) co_return co_await tcp_->write(buffers);
  for (const auto& buffer : buffers) {
    const auto* data = static_cast<const std::uint8_t*>(buffer.data());
    std::size_t left = buffer.size();
    while (left > 0) {
      ERR_clear_error();
      errno = 0;
      std::size_t n = 0;
      // Without partial writes, a retry repeats the same call until all of it is sent.
      const int result = SSL_write_ex(ssl_, data, left, &n);
      if (result == 1) {
        data += n;
        left -= n;
        continue;
      }
      Next next = co_await after(result);
      if (!next.retry) co_return next.ec == asio::error::eof ? asio::error::broken_pipe : next.ec;
    }
  }
  co_return std::error_code{};
}

awaitable<std::error_code> TlsStream::shutdown_send() {
  if (sent_close_notify_) co_return std::error_code{};
  if (raw_write_) {
    sent_close_notify_ = true;  // no TLS record after the switch (spec/vision.md §7)
    co_return co_await tcp_->shutdown_send();
  }
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int result = SSL_shutdown(ssl_);
    if (result >= 0) break;  // 0: close_notify sent, the peer's still to come; 1: both done
    Next next = co_await after(result);
    if (!next.retry) co_return next.ec;
  }
  sent_close_notify_ = true;
  co_return co_await tcp_->shutdown_send();
}

}  // namespace xsup::worker::transport::tls
