#include "worker/proxy/vless/vision_stream.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "shared/base/log.h"

namespace xsup::worker::proxy::vless {
namespace {

using vision::Command;

// Room for a UUID held from an earlier read in front of the bytes read (Unpadder::unpad).
constexpr std::size_t kSlack = 16;
constexpr std::size_t kWorkSize = kSlack + vision::kBufferSize;

std::uint32_t random_u32() {
  std::uint32_t value = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof value) != 1) value = 0;
  return value;
}

bool starts_with_app_data(std::span<const std::uint8_t> b) {
  return b.size() >= 6 && b[0] == 0x17 && b[1] == 0x03 && b[2] == 0x03;
}

// The bytes of whole `17 03 03` records at the start of the batch.
std::size_t whole_records(const std::vector<std::span<const std::uint8_t>>& parts) {
  std::size_t total = 0;
  for (const auto& p : parts) total += p.size();
  const auto byte_at = [&](std::size_t at) -> std::uint8_t {
    for (const auto& p : parts) {
      if (at < p.size()) return p[at];
      at -= p.size();
    }
    return 0;
  };
  std::size_t at = 0;
  while (total - at >= 5) {
    if (byte_at(at) != 0x17 || byte_at(at + 1) != 0x03 || byte_at(at + 2) != 0x03) break;
    const std::size_t next = at + 5 + ((std::size_t{byte_at(at + 3)} << 8) | byte_at(at + 4));
    if (next > total) break;
    at = next;
  }
  return at;
}

}  // namespace

VisionStream::VisionStream(core::StreamPtr inner, transport::tls::TlsStream& tls,
                           const vision::Uuid& uuid, std::span<const std::uint8_t> seed,
                           std::uint64_t session_id)
    : inner_(std::move(inner)),
      tls_(tls),
      uuid_(uuid),
      session_id_(session_id),
      unpadder_(uuid),
      work_(std::make_unique<std::uint8_t[]>(kWorkSize)) {
  // The seed is at most one pooled read; anything past one work buffer would be a bug.
  const std::size_t n = std::min(seed.size(), vision::kBufferSize);
  if (n > 0) {
    std::memcpy(work_.get() + kSlack, seed.data(), n);
    take(n);
  }
}

void VisionStream::take(std::size_t n) {
  const std::size_t out = unpadder_.unpad({work_.get() + kSlack, n}, work_.get());
  pending_begin_ = 0;
  pending_end_ = out;
  if (out > 0) vision::filter_tls(state_, {work_.get(), out});
  if (unpadder_.direct() && !reader_direct_) {
    reader_direct_ = true;
    tls_.set_raw_read();
    log::info(session_id_, "vision: direct copy ({})", "read");
  }
}

std::size_t VisionStream::hand_out(asio::mutable_buffer buffer) {
  const std::size_t n = std::min(buffer.size(), pending_end_ - pending_begin_);
  std::memcpy(buffer.data(), work_.get() + pending_begin_, n);
  pending_begin_ += n;
  if (pending_begin_ == pending_end_ && !unpadder_.within_padding()) work_.reset();
  return n;
}

awaitable<std::error_code> VisionStream::wait_readable() {
  if (pending_begin_ < pending_end_) co_return std::error_code{};
  co_return co_await inner_->wait_readable();
}

awaitable<core::IoResult> VisionStream::read_some(asio::mutable_buffer buffer) {
  if (buffer.size() == 0) co_return core::IoResult{};
  if (pending_begin_ < pending_end_) co_return core::IoResult{{}, hand_out(buffer)};
  if (!unpadder_.within_padding()) {
    work_.reset();
    auto result = co_await inner_->read_some(buffer);
    if (!result.ec && state_.packets_to_filter > 0 && !reader_direct_) {
      vision::filter_tls(state_, {static_cast<const std::uint8_t*>(buffer.data()), result.bytes});
    }
    co_return result;
  }
  for (;;) {
    auto [ec, n] =
        co_await inner_->read_some(asio::buffer(work_.get() + kSlack, vision::kBufferSize));
    if (ec) co_return core::IoResult{ec, 0};
    take(n);
    if (pending_end_ > 0) co_return core::IoResult{{}, hand_out(buffer)};
    if (!unpadder_.within_padding()) {
      // Padding ended on a frame boundary with nothing after it: read on, unpadded.
      work_.reset();
      co_return co_await inner_->read_some(buffer);
    }
  }
}

void VisionStream::add_frame(Command command, std::span<const std::uint8_t> content,
                             bool long_padding) {
  const std::size_t padding =
      vision::padding_length(content.size(), long_padding, vision::kDefaultSeed, random_u32());
  const std::size_t at = out_.size();
  out_.resize(at + vision::kFirstFrameHeader + content.size() + padding);
  const std::size_t n = vision::encode_frame(uuid_written_ ? nullptr : &uuid_, command, content,
                                             padding, {out_.data() + at, out_.size() - at});
  uuid_written_ = true;
  out_.resize(at + n);
}

awaitable<std::error_code> VisionStream::write(std::span<const asio::const_buffer> buffers) {
  if (!is_padding_) {
    if (state_.packets_to_filter > 0 && !writer_direct_) {
      for (const auto& b : buffers) {
        vision::filter_tls(state_, {static_cast<const std::uint8_t*>(b.data()), b.size()});
      }
    }
    co_return co_await inner_->write(buffers);
  }

  std::vector<std::span<const std::uint8_t>> parts;
  for (const auto& b : buffers) {
    std::span<const std::uint8_t> part(static_cast<const std::uint8_t*>(b.data()), b.size());
    if (state_.packets_to_filter > 0) vision::filter_tls(state_, part);
    if (!part.empty()) parts.push_back(part);
  }
  // A batch of inner records that does not end on a record boundary (a read cut a record)
  // is cut after its last whole record: the whole records close the padding, and the rest
  // follows unpadded, as Xray's next write would send it. Otherwise reads that never line
  // up with records would keep a long transfer padded.
  std::vector<std::span<const std::uint8_t>> tail;
  if (state_.is_tls) {
    const std::size_t whole = whole_records(parts);
    if (whole >= 6) {
      std::size_t kept = 0;
      std::vector<std::span<const std::uint8_t>> head;
      for (const auto& part : parts) {
        if (kept >= whole) {
          tail.push_back(part);
        } else if (kept + part.size() <= whole) {
          head.push_back(part);
        } else {
          head.push_back(part.first(whole - kept));
          tail.push_back(part.subspan(whole - kept));
        }
        kept += part.size();
      }
      parts = std::move(head);
    }
  }
  // Reshape (spec/vision.md §3.2): no piece reaches 8171 bytes.
  std::vector<std::span<const std::uint8_t>> pieces;
  for (std::span<const std::uint8_t> rest : parts) {
    while (rest.size() >= vision::kMaxContent) {
      const std::size_t cut = vision::reshape_split(rest);
      pieces.push_back(rest.first(cut));
      rest = rest.subspan(cut);
    }
    if (!rest.empty()) pieces.push_back(rest);
  }
  out_.clear();
  if (pieces.empty()) co_return std::error_code{};
  std::size_t total = 0;
  for (const auto& piece : pieces) total += piece.size();
  // spec/vision.md §3.3 `complete`: the batch is whole `17 03 03` records.
  const bool complete = whole_records(pieces) == total;
  bool long_padding = state_.is_tls;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto piece = pieces[i];
    const bool last = i + 1 == pieces.size();
    if (state_.is_tls && starts_with_app_data(piece) && complete) {
      // Only the batch's last frame may end the padding: the receiver takes whatever
      // follows an End or Direct frame as plain data.
      Command command = Command::kContinue;
      if (last) command = state_.enable_xtls ? Command::kDirect : Command::kEnd;
      add_frame(command, piece, /*long_padding=*/true);
      is_padding_ = false;
      long_padding = false;
      continue;
    }
    if (!state_.is_tls12_or_above && state_.packets_to_filter <= 1) {
      add_frame(Command::kEnd, piece, long_padding);
      is_padding_ = false;
      // The rest of the batch goes as it is.
      for (std::size_t j = i + 1; j < pieces.size(); ++j) {
        out_.insert(out_.end(), pieces[j].begin(), pieces[j].end());
      }
      break;
    }
    Command command = Command::kContinue;
    if (last && !is_padding_) command = state_.enable_xtls ? Command::kDirect : Command::kEnd;
    add_frame(command, piece, long_padding);
  }
  // After a Direct frame this direction leaves the outer TLS, at the next write.
  if (!is_padding_ && state_.enable_xtls && !pieces.empty()) direct_next_ = true;
  std::error_code ec = co_await inner_->write_all(asio::buffer(out_));
  if (!is_padding_) std::vector<std::uint8_t>().swap(out_);  // no buffer held once plain
  if (!ec && direct_next_) {
    // spec/vision.md §3.3 step 1: Xray switches at the start of the next write; the
    // Direct frame is flushed to the socket by now, so switching here sends the same
    // bytes and lets the relay splice without waiting for more uplink data.
    direct_next_ = false;
    writer_direct_ = true;
    tls_.set_raw_write();
    log::info(session_id_, "vision: direct copy ({})", "write");
  }
  if (!ec && !tail.empty()) {
    std::vector<asio::const_buffer> rest;
    for (const auto& part : tail) rest.emplace_back(part.data(), part.size());
    ec = co_await inner_->write(rest);
  }
  co_return ec;
}

int VisionStream::splice_fd() const {
  if (!reader_direct_ || !writer_direct_ || pending_begin_ < pending_end_) return -1;
  return inner_->splice_fd();
}

}  // namespace xsup::worker::proxy::vless
