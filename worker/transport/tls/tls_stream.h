#pragma once
// TlsStream: TLS (OpenSSL) over a connected TCP stream, non-blocking. OpenSSL reads and
// writes the socket itself; when it would block, the stream waits on the socket's
// readiness, which it has then seen fail with EAGAIN (the reactor is edge-triggered).
// The SSL object holds no record buffers while idle (SSL_MODE_RELEASE_BUFFERS, set on
// every context by context.cc). Bytes change on the way, so there is no splice_fd() —
// until XTLS Vision (spec/vision.md §5, §8) turns both directions raw: then reads hand out
// the plaintext OpenSSL still holds and go on from the bare socket, writes go straight to
// it, and splice_fd() is the socket. read_ahead stays off (OpenSSL's default), so OpenSSL
// never holds raw bytes past the record it returned.

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "worker/core/stream.h"
#include "worker/core/tcp_stream.h"

namespace xsup::worker::transport::tls {

using asio::awaitable;

class TlsStream final : public core::Stream {
 public:
  // Takes the SSL object, already set to accept or connect; binds it to tcp's socket.
  TlsStream(std::unique_ptr<core::TcpStream> tcp, SSL* ssl);
  ~TlsStream() override;

  // Runs the handshake to its end. On failure, error_text() says what OpenSSL saw.
  awaitable<std::error_code> handshake();
  const std::string& error_text() const { return error_text_; }
  // The ALPN protocol agreed on, "" for none.
  std::string alpn() const;

  asio::any_io_executor get_executor() override { return tcp_->get_executor(); }
  awaitable<std::error_code> wait_readable() override;
  awaitable<core::IoResult> read_some(asio::mutable_buffer buffer) override;
  awaitable<std::error_code> write(std::span<const asio::const_buffer> buffers) override;
  awaitable<std::error_code> shutdown_send() override;
  void close() override { tcp_->close(); }
  int splice_fd() const override;
  awaitable<std::error_code> wait_writable() override { return tcp_->wait_writable(); }

  // The outer session is TLS 1.3, the one version Vision may leave (spec/vision.md §7).
  bool is_tls13() const;
  // Vision's direct copy (spec/vision.md §5): from now on reads bypass TLS once the
  // decrypted bytes OpenSSL holds are out; writes bypass it at once. Neither sends any
  // further TLS record (no close_notify, spec/vision.md §7).
  void set_raw_read() { raw_read_ = true; }
  void set_raw_write() { raw_write_ = true; }

 private:
  // What to do after an SSL call returned `result`: wait for the socket and retry (an
  // empty code with retry set), or stop with an error (eof for a clean end).
  struct Next {
    bool retry = false;
    std::error_code ec;
  };
  awaitable<Next> after(int result);

  std::unique_ptr<core::TcpStream> tcp_;
  SSL* ssl_;
  std::string error_text_;
  bool sent_close_notify_ = false;
  bool raw_read_ = false;
  bool raw_write_ = false;
};

}  // namespace xsup::worker::transport::tls
