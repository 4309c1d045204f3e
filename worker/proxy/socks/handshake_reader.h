#pragma once
// Reads one handshake message after another from a stream into fixed storage: each message
// is parsed from the bytes already there before anything more is read, so a client that
// pipelines its greeting, credentials and request in one segment loses nothing, and the
// bytes past the last message are left for the relay.

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <cstddef>
#include <cstdint>
#include <span>

#include "shared/base/error.h"
#include "worker/core/stream.h"
#include "worker/proxy/socks/codec.h"

namespace xsup::worker::proxy::socks {

struct HandshakeReader {
  std::span<std::uint8_t> storage;
  std::size_t pos = 0;     // start of the next unparsed byte
  std::size_t filled = 0;  // end of the bytes read

  std::span<const std::uint8_t> unparsed() const { return storage.subspan(pos, filled - pos); }

  // Reads at least one more byte.
  asio::awaitable<base::Status> fill(core::Stream& stream) {
    if (filled == storage.size()) co_return base::Error(base::Errc::kTooLarge, "header too large");
    auto r =
        co_await stream.read_some(asio::buffer(storage.data() + filled, storage.size() - filled));
    if (r.ec == asio::error::eof) co_return base::Error(r.ec, "closed during the handshake");
    if (r.ec) co_return base::Error(r.ec, "read failed during the handshake");
    filled += r.bytes;
    co_return base::Status{};
  }

  // Parses the next message with `parse`, reading as much as it needs.
  template <class T>
  asio::awaitable<base::Expected<T>> next(
      core::Stream& stream, base::Expected<Parsed<T>> (*parse)(std::span<const std::uint8_t>)) {
    for (;;) {
      auto parsed = parse(unparsed());
      if (parsed) {
        pos += parsed->consumed;
        co_return std::move(parsed->value);
      }
      if (!parsed.error().is(base::Errc::kNeedMore)) co_return parsed.error();
      auto status = co_await fill(stream);
      if (!status) co_return status.error();
    }
  }
};

}  // namespace xsup::worker::proxy::socks
