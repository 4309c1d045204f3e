#pragma once
// AeadStream: one Shadowsocks AEAD connection as a Stream (spec/shadowsocks.md A.3). The
// read side opens the peer's salt and chunks; the write side sends its own salt with the
// first write, then seals chunks. Both sides hold a pooled buffer only while bytes are in
// flight: an idle connection holds none.

#include <memory>
#include <span>

#include "worker/core/buffer_pool.h"
#include "worker/core/stream.h"
#include "worker/proxy/shadowsocks/cipher.h"
#include "worker/proxy/shadowsocks/codec.h"
#include "worker/proxy/shadowsocks/salt_filter.h"

namespace xsup::worker::proxy::shadowsocks {

using asio::awaitable;

class AeadStream final : public core::Stream {
 public:
  // `key` is the master key (password_key). `received` holds bytes already read from
  // `inner` (a server's first read, starting with the client's salt). The salt this side
  // sends goes into `own_salts` when given (a server refuses its own salts reflected back).
  AeadStream(core::StreamPtr inner, Method method, std::span<const std::uint8_t> key,
             std::span<const std::uint8_t> received,
             std::shared_ptr<SaltFilter> own_salts = nullptr);

  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  awaitable<std::error_code> wait_readable() override;
  awaitable<core::IoResult> read_some(asio::mutable_buffer buffer) override;
  awaitable<std::error_code> write(std::span<const asio::const_buffer> buffers) override;
  awaitable<std::error_code> shutdown_send() override { return inner_->shutdown_send(); }
  void close() override { inner_->close(); }

 private:
  // Opens the next chunk from rx_, reading from inner_ as needed; false at EOF or error
  // (in `ec`).
  awaitable<bool> fill_plaintext(std::error_code& ec);
  bool start_reading();

  core::StreamPtr inner_;
  Method method_;
  Key key_{};
  std::shared_ptr<SaltFilter> own_salts_;

  // Read side: ciphertext in rx_[rx_begin_, rx_end_); opened plaintext in
  // rx_[plain_begin_, plain_end_).
  std::unique_ptr<ChunkOpener> opener_;
  core::Buffer rx_;
  std::size_t rx_begin_ = 0;
  std::size_t rx_end_ = 0;
  std::size_t plain_begin_ = 0;
  std::size_t plain_end_ = 0;

  // Write side.
  std::unique_ptr<Aead> sealer_;
  std::array<std::uint8_t, kMaxSaltSize> salt_{};
  bool salt_sent_ = false;
};

}  // namespace xsup::worker::proxy::shadowsocks
