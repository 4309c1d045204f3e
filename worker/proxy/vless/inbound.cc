#include "worker/proxy/vless/inbound.h"

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/deadline.h"
#include "worker/core/prefetch.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/proxy/fallback/fallback.h"
#include "worker/proxy/mux/server.h"
#include "worker/proxy/stream_datagrams.h"
#include "worker/proxy/user_directory.h"
#include "worker/proxy/vless/udp_framing.h"
#include "worker/proxy/vless/vision_stream.h"
#include "worker/proxy/vless/vless.h"
#include "worker/transport/tls/tls_stream.h"

namespace xsup::worker::proxy::vless {

VlessInbound::VlessInbound(const InboundContext& context)
    : context_(context),
      settings_(std::get<config::VlessInbound>(context.config.settings)),
      users_(std::make_shared<const UserTable>(settings_.clients)) {
  if (!settings_.fallbacks.empty()) {
    fallbacks_ = std::make_unique<fallback::FallbackTable>(settings_.fallbacks);
  }
}

VlessInbound::~VlessInbound() = default;

const UserTablePtr& VlessInbound::current_users() {
  const UserDirectory& directory = user_directory();
  if (directory.version() != store_version_) {
    users_ =
        std::make_shared<const UserTable>(settings_.clients, &directory.set(), context_.config.tag);
    store_version_ = directory.version();
  }
  return users_;
}

namespace {

// spec/vless.md §5: a Vision user may come without the flow for UDP, and for a Mux body
// whose first frame opens XUDP (session id 0, network UDP).
bool vision_user_may_skip_flow(const Request& request, const core::Buffer& buffer,
                               std::size_t consumed, std::size_t filled) {
  if (request.command == Command::kUdp) return true;
  if (request.command != Command::kMux) return false;
  if (filled - consumed < 7) return false;
  const std::uint8_t* frame = buffer.data() + consumed;
  return frame[2] == 0 && frame[3] == 0 && frame[6] == 0x02;
}

}  // namespace

std::unique_ptr<Inbound> make_inbound(const InboundContext& context) {
  return std::make_unique<VlessInbound>(context);
}

awaitable<void> VlessInbound::serve(core::StreamPtr stream, core::Session session) {
  session.policy = context_.policy.level(0);
  session.sniffing = &context_.config.sniffing;
  const UserTablePtr users = current_users();  // the set this connection started with

  core::Buffer buffer = core::BufferPool::local().acquire();
  const std::size_t capacity = buffer.capacity();
  std::size_t filled = 0;
  core::Deadline deadline(*stream, session.policy.handshake);
  const User* user = nullptr;
  std::string_view not_vless;  // set when the bytes are not VLESS: fall back or close
  std::size_t consumed = 0;
  Request request;

  for (bool first_read = true;; first_read = false) {
    auto [ec, n] =
        co_await stream->read_some(asio::buffer(buffer.data() + filled, capacity - filled));
    if (ec) {
      log::info(session.id, "vless: rejected: {}",
                deadline.expired() ? std::string("handshake timeout")
                                   : "failed to read request header: " + ec.message());
      stream->close();
      co_return;
    }
    filled += n;
    std::span<const std::uint8_t> bytes(buffer.data(), filled);
    // spec/vless.md §9.1: with fallbacks, a short first read is not VLESS.
    if (first_read && fallbacks_ != nullptr && filled < kMinFirstBytes) {
      not_vless = "short first read";
      break;
    }
    if (user == nullptr) {
      auto id = peek_user(bytes);
      if (!id && id.error().is(base::Errc::kNeedMore)) continue;
      if (!id) {
        not_vless = id.error().reason;
        break;
      }
      user = users->find(*id);
      if (user == nullptr) {
        not_vless = "invalid request user id";
        break;
      }
    }
    auto parsed = parse_request(bytes);
    if (parsed) {
      request = std::move(parsed->value);
      consumed = parsed->consumed;
      break;
    }
    if (!parsed.error().is(base::Errc::kNeedMore) || filled == capacity) {
      const auto reason = parsed.error().is(base::Errc::kNeedMore) ? "request header too long"
                                                                   : parsed.error().reason;
      log::info(session.id, "vless: rejected: {}", reason);
      stream->close();
      co_return;
    }
  }
  deadline.cancel();
  if (deadline.expired()) {
    log::info(session.id, "vless: rejected: handshake timeout");
    co_return;
  }

  if (!not_vless.empty()) {
    if (fallbacks_ == nullptr) {
      log::info(session.id, "vless: rejected: {}", not_vless);
      stream->close();
      co_return;
    }
    log::debug(session.id, "vless: not VLESS ({}), falling back", not_vless);
    co_await fallback::serve(*fallbacks_, *stream, session, {buffer.data(), filled}, "vless");
    co_return;
  }

  // spec/vless.md §5: the flow the client asks for must suit the user's.
  const bool user_vision = is_vision_flow(user->flow);
  const bool vision = request.flow == kFlowVision;
  if (!request.flow.empty() && !vision) {
    log::info(session.id, "vless: rejected: unknown flow \"{}\"", request.flow);
    stream->close();
    co_return;
  }
  if (vision && !user_vision) {
    log::info(session.id, "vless: rejected: user {} is not able to use the flow {}", user->email,
              request.flow);
    stream->close();
    co_return;
  }
  if (user_vision && !vision && !vision_user_may_skip_flow(request, buffer, consumed, filled)) {
    // TLS-in-TLS without padding would show its signature (spec/vless.md §5).
    log::info(session.id, "vless: rejected: user {} must use the flow {}", user->email,
              kFlowVision);
    stream->close();
    co_return;
  }
  transport::tls::TlsStream* outer_tls = nullptr;
  if (vision) {
    if (request.command == Command::kUdp) {
      log::info(session.id, "vless: rejected: the flow {} doesn't support UDP", request.flow);
      stream->close();
      co_return;
    }
    // spec/vision.md §1: only TLS 1.3 directly over TCP may be left for the raw socket.
    outer_tls = dynamic_cast<transport::tls::TlsStream*>(stream.get());
    if (outer_tls == nullptr || !outer_tls->is_tls13()) {
      log::info(session.id, "vless: rejected: XTLS only supports TLS 1.3 directly over TCP");
      stream->close();
      co_return;
    }
  }
  session.user = user->email;
  session.user_from_store = user->from_store;
  session.level = user->level;
  session.policy = context_.policy.level(user->level);

  switch (request.command) {
    case Command::kReverse:
      log::info(session.id, "vless: rejected: reverse (command 4) not supported yet");
      stream->close();
      co_return;
    case Command::kTcp:
    case Command::kUdp:
    case Command::kMux:
      break;
  }
  session.target = request.target;
  session.original_target = session.target;

  // spec/vless.md §4: Xray holds the response header back until the first downlink bytes.
  // The client reads it lazily either way, and sending it now leaves the stream plain, so
  // the relay can splice.
  if (std::error_code ec = co_await stream->write_all(asio::buffer(kResponse)); ec) {
    log::info(session.id, "vless: response write failed: {}", ec.message());
    stream->close();
    co_return;
  }

  if (vision) {
    // spec/vision.md §1: the padding frames start right after the request header; the
    // server's frames carry the 16 bytes the client sent.
    std::span<const std::uint8_t> rest(buffer.data() + consumed, filled - consumed);
    stream = std::make_unique<VisionStream>(std::move(stream), *outer_tls, request.user, rest,
                                            session.id);
    buffer = core::Buffer{};
    consumed = filled = 0;
  }

  // spec/mux.md §2: command 0x03, or the Mux.Cool target from a client that names it.
  if (request.command == Command::kMux ||
      (request.command == Command::kTcp && mux::is_mux_target(request.target))) {
    std::span<const std::uint8_t> rest(buffer.data() + consumed, filled - consumed);
    co_await mux::serve(*stream, session, context_.dispatcher, xudp_, rest, "vless");
    co_return;
  }
  if (request.command == Command::kUdp) {
    std::span<const std::uint8_t> rest(buffer.data() + consumed, filled - consumed);
    co_await serve_udp(*stream, session, rest);
    co_return;
  }
  // A named argument, not a temporary: g++ 12 destroys class temporaries in a co_await
  // expression twice.
  core::Prefetch first{std::move(buffer), consumed, filled};
  co_await context_.dispatcher.dispatch(session, *stream, std::move(first));
}

awaitable<void> VlessInbound::serve_udp(core::Stream& stream, core::Session& session,
                                        std::span<const std::uint8_t> rest) {
  FrameReader reader(kUdpFraming);
  reader.seed(rest);
  auto packets = co_await context_.dispatcher.open_packets(session);
  if (!packets) {
    log::info(session.id, "{}: failed to open {}: {}", session.outbound_tag,
              session.target.to_string(), packets.error().message());
    stream.close();
    co_return;
  }
  auto result = co_await relay_stream_datagrams(stream, reader, **packets, kUdpFraming,
                                                session.target, session.policy);
  (*packets)->close();
  stream.close();
  log::info(session.id, "closed {}: up {} down {} packets ({})", session.target.to_string(),
            result.uplink_packets, result.downlink_packets, result.ended_by);
}

}  // namespace xsup::worker::proxy::vless
