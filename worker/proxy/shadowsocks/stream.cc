#include "worker/proxy/shadowsocks/stream.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "worker/proxy/shadowsocks/codec2022.h"

namespace xsup::worker::proxy::shadowsocks {
namespace {

using base::Errc;

// 2022: the largest chunk, with room to spare for a salt and a response header.
constexpr std::size_t kRxSize2022 = kMaxChunkPayload2022 + kChunkOverhead + 256;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

AeadStream::AeadStream(core::StreamPtr inner, Options options)
    : inner_(std::move(inner)),
      method_(options.method),
      own_salts_(std::move(options.own_salts)),
      server_(options.server),
      opener_(std::move(options.opener)),
      sealer_(std::move(options.sealer)) {
  if (!options.key.empty()) {
    std::memcpy(key_.data(), options.key.data(), std::min(options.key.size(), key_.size()));
  }
  if (!options.request_salt.empty()) {
    std::memcpy(request_salt_.data(), options.request_salt.data(),
                std::min(options.request_salt.size(), request_salt_.size()));
  }
  response_header_pending_ = is_2022(method_) && !server_;
  if (!options.received.empty() && acquire_rx(options.received.size())) {
    const std::size_t n = std::min(options.received.size(), rx_capacity_);
    std::memcpy(rx_, options.received.data(), n);
    rx_end_ = n;
  }
}

AeadStream::AeadStream(core::StreamPtr inner, Method method, std::span<const std::uint8_t> key,
                       std::span<const std::uint8_t> received,
                       std::shared_ptr<SaltFilter> own_salts)
    : AeadStream(std::move(inner), Options{.method = method,
                                           .key = key,
                                           .received = received,
                                           .opener = nullptr,
                                           .sealer = nullptr,
                                           .server = false,
                                           .request_salt = {},
                                           .own_salts = std::move(own_salts)}) {}

bool AeadStream::acquire_rx(std::size_t at_least) {
  if (rx_ != nullptr) return true;
  if (is_2022(method_)) {
    // A server's handshake may have read past its headers more than one chunk holds.
    rx_capacity_ = std::max(kRxSize2022, at_least);
    rx_owned_ = std::make_unique<std::uint8_t[]>(rx_capacity_);
    rx_ = rx_owned_.get();
  } else {
    rx_pooled_ = core::BufferPool::local().acquire();
    rx_ = rx_pooled_.data();
    rx_capacity_ = rx_pooled_.capacity();
  }
  rx_begin_ = rx_end_ = plain_begin_ = plain_end_ = 0;
  return rx_ != nullptr;
}

void AeadStream::release_rx_if_idle() {
  if (plain_begin_ != plain_end_ || rx_begin_ != rx_end_) return;
  rx_begin_ = rx_end_ = plain_begin_ = plain_end_ = 0;
  if (rx_pooled_) {  // an idle AEAD-2017 connection holds no buffer
    rx_pooled_ = core::Buffer();
    rx_ = nullptr;
    rx_capacity_ = 0;
  }
}

bool AeadStream::start_reading() {
  const MethodInfo& m = info(method_);
  if (rx_end_ - rx_begin_ < m.salt_size) return false;
  const Key subkey =
      derive_session_key(method_, {key_.data(), m.key_size}, {rx_ + rx_begin_, m.salt_size});
  opener_ = std::make_unique<ChunkOpener>(
      method_, std::span<const std::uint8_t>(subkey.data(), m.key_size),
      is_2022(method_) ? kMaxChunkPayload2022 : kMaxChunkPayload);
  rx_begin_ += m.salt_size;
  return true;
}

Expected<bool> AeadStream::read_response_header() {
  const std::size_t salt_size = info(method_).salt_size;
  const std::size_t size = fixed_response_size(salt_size);
  auto block = opener_->open_block({rx_ + rx_begin_, rx_end_ - rx_begin_}, size);
  if (!block) {
    if (block.error().is(Errc::kNeedMore)) return false;
    return block.error();
  }
  auto length = parse_fixed_response(block->value, unix_now(), {request_salt_.data(), salt_size});
  if (!length) return length.error();
  rx_begin_ += block->consumed;
  response_header_pending_ = false;
  if (*length > 0) opener_->expect_payload(*length);
  return true;
}

awaitable<std::error_code> AeadStream::wait_readable() {
  if (plain_begin_ < plain_end_ || read_error_) co_return std::error_code{};
  if (opener_ && !response_header_pending_ && rx_end_ - rx_begin_ >= opener_->wanted()) {
    co_return std::error_code{};
  }
  co_return co_await inner_->wait_readable();
}

awaitable<bool> AeadStream::fill_plaintext(std::error_code& ec) {
  if (!acquire_rx()) {
    ec = base::make_error_code(Errc::kClosed);
    co_return false;
  }
  for (;;) {
    std::size_t wanted = info(method_).salt_size;
    if (!opener_) {
      if (start_reading()) continue;
    } else if (response_header_pending_) {
      auto done = read_response_header();
      if (!done) {
        ec = done.error().code;
        co_return false;
      }
      if (*done) continue;
      wanted = kTagSize + fixed_response_size(info(method_).salt_size);
    } else {
      auto chunk = opener_->next({rx_ + rx_begin_, rx_end_ - rx_begin_});
      if (chunk) {
        plain_begin_ = static_cast<std::size_t>(chunk->value.data() - rx_);
        plain_end_ = plain_begin_ + chunk->value.size();
        rx_begin_ += chunk->consumed;
        if (plain_begin_ < plain_end_) co_return true;
        continue;  // an empty chunk: nothing to hand out
      }
      if (!chunk.error().is(Errc::kNeedMore)) {
        ec = chunk.error().code;
        co_return false;
      }
      wanted = opener_->wanted();
    }
    // Need more ciphertext: make room for the whole unit, then read.
    if (rx_begin_ + wanted > rx_capacity_) {
      std::memmove(rx_, rx_ + rx_begin_, rx_end_ - rx_begin_);
      rx_end_ -= rx_begin_;
      rx_begin_ = 0;
    }
    auto r = co_await inner_->read_some(asio::buffer(rx_ + rx_end_, rx_capacity_ - rx_end_));
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

bool AeadStream::open_buffered_chunk() {
  while (opener_ && !response_header_pending_ && !read_error_) {
    auto chunk = opener_->next({rx_ + rx_begin_, rx_end_ - rx_begin_});
    if (!chunk) {
      if (!chunk.error().is(Errc::kNeedMore)) read_error_ = chunk.error().code;
      return false;
    }
    plain_begin_ = static_cast<std::size_t>(chunk->value.data() - rx_);
    plain_end_ = plain_begin_ + chunk->value.size();
    rx_begin_ += chunk->consumed;
    if (plain_begin_ < plain_end_) return true;
  }
  return false;
}

awaitable<core::IoResult> AeadStream::read_some(asio::mutable_buffer buffer) {
  if (buffer.size() == 0) co_return core::IoResult{};
  if (plain_begin_ == plain_end_) {
    if (read_error_) co_return core::IoResult{read_error_, 0};
    std::error_code ec;
    if (!co_await fill_plaintext(ec)) co_return core::IoResult{ec, 0};
  }
  // Hands out every chunk already received whole, so a large read costs one call.
  auto* out = static_cast<std::uint8_t*>(buffer.data());
  std::size_t done = 0;
  do {
    const std::size_t n = std::min(buffer.size() - done, plain_end_ - plain_begin_);
    std::memcpy(out + done, rx_ + plain_begin_, n);
    plain_begin_ += n;
    done += n;
  } while (done < buffer.size() && open_buffered_chunk());
  release_rx_if_idle();
  co_return core::IoResult{{}, done};
}

awaitable<std::error_code> AeadStream::write(std::span<const asio::const_buffer> buffers) {
  const MethodInfo& m = info(method_);
  core::Buffer tx = core::BufferPool::local().acquire();
  const std::size_t capacity = tx.capacity();
  std::size_t pos = 0;
  // The input as one cursor over the buffers.
  std::size_t index = 0;
  std::size_t offset = 0;
  auto take = [&](std::uint8_t* out, std::size_t max) {
    std::size_t copied = 0;
    while (copied < max && index < buffers.size()) {
      const auto& b = buffers[index];
      const std::size_t n = std::min(max - copied, b.size() - offset);
      if (n > 0) std::memcpy(out + copied, static_cast<const std::uint8_t*>(b.data()) + offset, n);
      copied += n;
      offset += n;
      if (offset == b.size()) {
        ++index;
        offset = 0;
      }
    }
    return copied;
  };
  std::size_t left = 0;
  for (const auto& b : buffers) left += b.size();

  if (!sealer_) {
    random_bytes({salt_.data(), m.salt_size});
    if (own_salts_) own_salts_->insert({salt_.data(), m.salt_size});
    const Key subkey =
        derive_session_key(method_, {key_.data(), m.key_size}, {salt_.data(), m.salt_size});
    sealer_ = std::make_unique<Aead>(
        method_, std::span<const std::uint8_t>(subkey.data(), m.key_size), Aead::Direction::kSeal);
    std::memcpy(tx.data(), salt_.data(), m.salt_size);
    pos = m.salt_size;
    if (is_2022(method_) && server_) {
      // B.3: the fixed response header, then the first payload as one sealed block.
      const std::size_t header = fixed_response_size(m.salt_size);
      const std::size_t first =
          std::min({left, kMaxChunkPayload2022, capacity - pos - header - 2 * kTagSize});
      std::uint8_t* h = tx.data() + pos;
      encode_fixed_response(static_cast<std::uint64_t>(unix_now()),
                            {request_salt_.data(), m.salt_size}, first, {h, header});
      if (!sealer_->seal({h, header}, h, std::span<std::uint8_t, kTagSize>(h + header, kTagSize))) {
        co_return base::make_error_code(Errc::kProtocol);
      }
      pos += header + kTagSize;
      std::uint8_t* p = tx.data() + pos;
      take(p, first);
      if (!sealer_->seal({p, first}, p, std::span<std::uint8_t, kTagSize>(p + first, kTagSize))) {
        co_return base::make_error_code(Errc::kProtocol);
      }
      pos += first + kTagSize;
      left -= first;
    }
  }
  const std::size_t max_payload = is_2022(method_) ? kMaxChunkPayload2022 : kMaxChunkPayload;
  while (left > 0) {
    if (capacity - pos < kChunkOverhead + 1) {
      if (auto ec = co_await inner_->write_all(asio::buffer(tx.data(), pos)); ec) co_return ec;
      pos = 0;
    }
    const std::size_t n = std::min({left, max_payload, capacity - pos - kChunkOverhead});
    take(tx.data() + pos + kLengthBlockSize, n);
    const std::size_t sealed = seal_chunk(*sealer_, {tx.data() + pos, capacity - pos}, n);
    if (sealed == 0) co_return base::make_error_code(Errc::kProtocol);
    pos += sealed;
    left -= n;
  }
  if (pos > 0) co_return co_await inner_->write_all(asio::buffer(tx.data(), pos));
  co_return std::error_code{};
}

}  // namespace xsup::worker::proxy::shadowsocks
