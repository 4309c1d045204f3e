#include "worker/proxy/shadowsocks/stream.h"

#include <algorithm>
#include <cstring>

namespace xsup::worker::proxy::shadowsocks {

using base::Errc;

AeadStream::AeadStream(core::StreamPtr inner, Method method, std::span<const std::uint8_t> key,
                       std::span<const std::uint8_t> received,
                       std::shared_ptr<SaltFilter> own_salts)
    : inner_(std::move(inner)), method_(method), own_salts_(std::move(own_salts)) {
  std::memcpy(key_.data(), key.data(), std::min(key.size(), key_.size()));
  if (!received.empty()) {
    rx_ = core::BufferPool::local().acquire();
    const std::size_t n = std::min(received.size(), rx_.capacity());
    std::memcpy(rx_.data(), received.data(), n);
    rx_end_ = n;
  }
}

bool AeadStream::start_reading() {
  const MethodInfo& m = info(method_);
  if (rx_end_ - rx_begin_ < m.salt_size) return false;
  const Key subkey =
      session_subkey({key_.data(), m.key_size}, {rx_.data() + rx_begin_, m.salt_size});
  opener_ = std::make_unique<ChunkOpener>(method_,
                                          std::span<const std::uint8_t>(subkey.data(), m.key_size));
  rx_begin_ += m.salt_size;
  return true;
}

awaitable<std::error_code> AeadStream::wait_readable() {
  if (plain_begin_ < plain_end_) co_return std::error_code{};
  if (opener_ && rx_end_ - rx_begin_ >= opener_->wanted()) co_return std::error_code{};
  co_return co_await inner_->wait_readable();
}

awaitable<bool> AeadStream::fill_plaintext(std::error_code& ec) {
  for (;;) {
    if (!rx_) {
      rx_ = core::BufferPool::local().acquire();
      rx_begin_ = rx_end_ = 0;
    }
    if (!opener_) {
      if (start_reading()) continue;
    } else {
      auto chunk = opener_->next({rx_.data() + rx_begin_, rx_end_ - rx_begin_});
      if (chunk) {
        plain_begin_ = static_cast<std::size_t>(chunk->value.data() - rx_.data());
        plain_end_ = plain_begin_ + chunk->value.size();
        rx_begin_ += chunk->consumed;
        if (plain_begin_ < plain_end_) co_return true;
        continue;  // an empty chunk: nothing to hand out
      }
      if (!chunk.error().is(Errc::kNeedMore)) {
        ec = chunk.error().code;
        co_return false;
      }
    }
    // Need more ciphertext: make room for the whole chunk, then read.
    const std::size_t wanted = opener_ ? opener_->wanted() : info(method_).salt_size;
    if (rx_begin_ + wanted > rx_.capacity()) {
      std::memmove(rx_.data(), rx_.data() + rx_begin_, rx_end_ - rx_begin_);
      rx_end_ -= rx_begin_;
      rx_begin_ = 0;
    }
    auto r =
        co_await inner_->read_some(asio::buffer(rx_.data() + rx_end_, rx_.capacity() - rx_end_));
    if (r.ec) {
      // EOF in the middle of a chunk is a truncated stream; at a chunk boundary it is the end.
      ec = (r.ec == asio::error::eof && rx_begin_ != rx_end_)
               ? std::error_code(base::make_error_code(Errc::kProtocol))
               : r.ec;
      co_return false;
    }
    rx_end_ += r.bytes;
  }
}

awaitable<core::IoResult> AeadStream::read_some(asio::mutable_buffer buffer) {
  if (buffer.size() == 0) co_return core::IoResult{};
  if (plain_begin_ == plain_end_) {
    std::error_code ec;
    if (!co_await fill_plaintext(ec)) co_return core::IoResult{ec, 0};
  }
  const std::size_t n = std::min(buffer.size(), plain_end_ - plain_begin_);
  std::memcpy(buffer.data(), rx_.data() + plain_begin_, n);
  plain_begin_ += n;
  if (plain_begin_ == plain_end_ && rx_begin_ == rx_end_) {
    // Nothing buffered: an idle connection holds no buffer.
    rx_ = core::Buffer();
    rx_begin_ = rx_end_ = plain_begin_ = plain_end_ = 0;
  }
  co_return core::IoResult{{}, n};
}

awaitable<std::error_code> AeadStream::write(std::span<const asio::const_buffer> buffers) {
  const MethodInfo& m = info(method_);
  core::Buffer tx = core::BufferPool::local().acquire();
  std::size_t pos = 0;
  if (!salt_sent_) {
    random_bytes({salt_.data(), m.salt_size});
    if (own_salts_) own_salts_->insert({salt_.data(), m.salt_size});
    const Key subkey = session_subkey({key_.data(), m.key_size}, {salt_.data(), m.salt_size});
    sealer_ = std::make_unique<Aead>(
        method_, std::span<const std::uint8_t>(subkey.data(), m.key_size), Aead::Direction::kSeal);
    std::memcpy(tx.data(), salt_.data(), m.salt_size);
    pos = m.salt_size;
    salt_sent_ = true;
  }
  const std::size_t capacity = tx.capacity();
  for (const auto& b : buffers) {
    const auto* in = static_cast<const std::uint8_t*>(b.data());
    std::size_t left = b.size();
    while (left > 0) {
      if (capacity - pos < kChunkOverhead + 1) {
        if (auto ec = co_await inner_->write_all(asio::buffer(tx.data(), pos)); ec) co_return ec;
        pos = 0;
      }
      const std::size_t n = std::min({left, kMaxChunkPayload, capacity - pos - kChunkOverhead});
      std::memcpy(tx.data() + pos + kLengthBlockSize, in, n);
      const std::size_t sealed = seal_chunk(*sealer_, {tx.data() + pos, capacity - pos}, n);
      if (sealed == 0) co_return base::make_error_code(Errc::kProtocol);
      pos += sealed;
      in += n;
      left -= n;
    }
  }
  if (pos > 0) co_return co_await inner_->write_all(asio::buffer(tx.data(), pos));
  co_return std::error_code{};
}

}  // namespace xsup::worker::proxy::shadowsocks
