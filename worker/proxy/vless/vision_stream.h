#pragma once
// XTLS Vision around a VLESS body (spec/vision.md §1, §3, §5): writes are padded while
// the inner traffic's first packets go by, reads are unpadded, and both watch for an inner
// TLS 1.3 session. When the sender marks a batch Direct, that direction leaves the outer
// TLS for the bare socket below it (TlsStream::set_raw_read / set_raw_write); once both
// directions have, splice_fd() is the socket's and the relay splices. Inner TLS 1.2 and
// non-TLS traffic end the padding with End and stay inside the outer TLS.
//
// The same class serves both sides: the client's writer and the server's reader see the
// inner ClientHello, the server's writer and the client's reader the ServerHello.

#include <memory>
#include <vector>

#include "worker/core/stream.h"
#include "worker/proxy/vless/vision_codec.h"
#include "worker/transport/tls/tls_stream.h"

namespace xsup::worker::proxy::vless {

using asio::awaitable;

class VisionStream final : public core::Stream {
 public:
  // `inner` carries the VLESS body (its headers handled below it); `tls` is the outer
  // TLS stream at its bottom, which `inner` owns. `uuid` goes in the first frame written
  // and is expected in the first frame read. `seed`: body bytes already read, still padded.
  VisionStream(core::StreamPtr inner, transport::tls::TlsStream& tls, const vision::Uuid& uuid,
               std::span<const std::uint8_t> seed, std::uint64_t session_id);

  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  awaitable<std::error_code> wait_readable() override;
  awaitable<core::IoResult> read_some(asio::mutable_buffer buffer) override;
  awaitable<std::error_code> write(std::span<const asio::const_buffer> buffers) override;
  awaitable<std::error_code> shutdown_send() override { return inner_->shutdown_send(); }
  void close() override { inner_->close(); }
  int splice_fd() const override;
  awaitable<std::error_code> wait_writable() override { return inner_->wait_writable(); }

  bool reader_direct() const { return reader_direct_; }
  bool writer_direct() const { return writer_direct_; }

 private:
  // Unpads work_[16, 16 + n) into work_ and keeps the result as pending output.
  void take(std::size_t n);
  std::size_t hand_out(asio::mutable_buffer buffer);
  // Appends one padded frame for `content` to out_.
  void add_frame(vision::Command command, std::span<const std::uint8_t> content, bool long_padding);

  core::StreamPtr inner_;
  transport::tls::TlsStream& tls_;
  vision::Uuid uuid_;
  std::uint64_t session_id_;
  vision::TrafficState state_;
  vision::Unpadder unpadder_;
  // Reader: unpadded bytes not handed out yet, in work_ (only while padding).
  std::unique_ptr<std::uint8_t[]> work_;
  std::size_t pending_begin_ = 0;
  std::size_t pending_end_ = 0;
  bool reader_direct_ = false;
  // Writer (spec/vision.md §3.3).
  std::vector<std::uint8_t> out_;
  bool uuid_written_ = false;
  bool is_padding_ = true;
  bool direct_next_ = false;
  bool writer_direct_ = false;
};

}  // namespace xsup::worker::proxy::vless
