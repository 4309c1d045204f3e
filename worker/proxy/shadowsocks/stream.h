#pragma once
// AeadStream: one Shadowsocks connection as a Stream (spec/shadowsocks.md A.3, B.2, B.3).
// The read side opens the peer's salt and chunks; the write side sends its own salt with
// the first write, then seals chunks. For Shadowsocks 2022 a server's first write carries
// the response header and a client's first read checks it.
//
// AEAD-2017 streams hold a pooled buffer per side only while bytes are in flight, so an
// idle connection holds none. 2022 chunks may be 64 KiB, over a pooled buffer: a 2022
// stream owns a read buffer of that size for its life.

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
  struct Options {
    Method method = Method::kAes128Gcm;
    // The master key (AEAD-2017) or the user's PSK (2022).
    std::span<const std::uint8_t> key;
    // Ciphertext already read from the peer and not consumed yet.
    std::span<const std::uint8_t> received;
    // A reader already keyed (a server past the request header); else the peer's salt
    // comes first in `received` or on the wire.
    std::unique_ptr<ChunkOpener> opener;
    // A writer already keyed, whose salt and header went out (a 2022 client).
    std::unique_ptr<Aead> sealer;
    // 2022: this side is the server (its first write carries the response header).
    bool server = false;
    // 2022: the client's request salt, echoed by the server and checked by the client.
    std::span<const std::uint8_t> request_salt;
    // The salt this side sends goes in here when given (a server refuses its own salts
    // reflected back at it).
    std::shared_ptr<SaltFilter> own_salts;
  };

  explicit AeadStream(core::StreamPtr inner, Options options);
  // AEAD-2017: `received` holds bytes already read from `inner` (a server's first read,
  // starting with the client's salt).
  AeadStream(core::StreamPtr inner, Method method, std::span<const std::uint8_t> key,
             std::span<const std::uint8_t> received,
             std::shared_ptr<SaltFilter> own_salts = nullptr);

  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  awaitable<std::error_code> wait_readable() override;
  awaitable<core::IoResult> read_some(asio::mutable_buffer buffer) override;
  awaitable<std::error_code> write(std::span<const asio::const_buffer> buffers) override;
  awaitable<std::error_code> shutdown_send() override { return inner_->shutdown_send(); }
  void close() override { inner_->close(); }

  // Writes bytes as they are, under the stream (a 2022 client's request header).
  awaitable<std::error_code> write_raw(asio::const_buffer bytes) {
    return inner_->write_all(bytes);
  }

 private:
  // Opens the next chunk from the read buffer, reading from inner_ as needed; false at
  // EOF or on error (in `ec`).
  awaitable<bool> fill_plaintext(std::error_code& ec);
  // Opens the next chunk if it is already buffered whole: true when it gave plaintext.
  // A chunk that fails is kept in read_error_ for the next read.
  bool open_buffered_chunk();
  // Keys the reader from the peer's salt once it is buffered.
  bool start_reading();
  // 2022 client: opens and checks the response header once it is buffered.
  Expected<bool> read_response_header();
  // A read buffer of at least `at_least` bytes (2022; pooled buffers have their size).
  bool acquire_rx(std::size_t at_least = 0);
  void release_rx_if_idle();

  core::StreamPtr inner_;
  std::error_code read_error_;
  Method method_;
  Key key_{};
  std::shared_ptr<SaltFilter> own_salts_;
  bool server_ = false;
  std::array<std::uint8_t, kMaxSaltSize> request_salt_{};
  bool response_header_pending_ = false;  // 2022 client: the response header is next

  // Read side: ciphertext in rx_[rx_begin_, rx_end_); opened plaintext in
  // rx_[plain_begin_, plain_end_).
  std::unique_ptr<ChunkOpener> opener_;
  core::Buffer rx_pooled_;
  std::unique_ptr<std::uint8_t[]> rx_owned_;  // 2022
  std::uint8_t* rx_ = nullptr;
  std::size_t rx_capacity_ = 0;
  std::size_t rx_begin_ = 0;
  std::size_t rx_end_ = 0;
  std::size_t plain_begin_ = 0;
  std::size_t plain_end_ = 0;

  // Write side.
  std::unique_ptr<Aead> sealer_;
  std::array<std::uint8_t, kMaxSaltSize> salt_{};
};

}  // namespace xsup::worker::proxy::shadowsocks
