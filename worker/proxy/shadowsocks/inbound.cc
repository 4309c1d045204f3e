#include "worker/proxy/shadowsocks/inbound.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <map>
#include <vector>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/deadline.h"
#include "worker/core/prefetch.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/dispatch/udp_sessions.h"
#include "worker/proxy/shadowsocks/codec.h"
#include "worker/proxy/shadowsocks/shadowsocks.h"
#include "worker/proxy/shadowsocks/stream.h"

namespace xsup::worker::proxy::shadowsocks {
namespace {

using base::Errc;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// The largest UDP payload (RFC 768 over IPv4, 65535 - 8 - 20).
constexpr std::size_t kMaxDatagram = 65507;

std::vector<UserEntry> entries(const config::ShadowsocksInbound& settings) {
  std::vector<UserEntry> out;
  for (const auto& u : settings.users) {
    UserEntry e;
    e.email = u.email;
    e.password = u.password;
    e.method = parse_method(u.method).value_or(Method::kAes128Gcm);
    e.level = u.level;
    out.push_back(std::move(e));
  }
  return out;
}

// A uniform random duration in [limit / 4, limit], at least one second.
std::chrono::steady_clock::duration drain_time(std::chrono::seconds limit) {
  using std::chrono::milliseconds;
  const auto max_ms = std::max<std::int64_t>(1000, milliseconds(limit).count());
  std::uint32_t r = 0;
  random_bytes({reinterpret_cast<std::uint8_t*>(&r), sizeof r});
  const std::int64_t min_ms = std::max<std::int64_t>(1000, max_ms / 4);
  return milliseconds(min_ms + static_cast<std::int64_t>(r % (max_ms - min_ms + 1)));
}

}  // namespace

std::unique_ptr<Inbound> make_inbound(const InboundContext& context) {
  return std::make_unique<ShadowsocksInbound>(context);
}

ShadowsocksInbound::ShadowsocksInbound(const InboundContext& context)
    : context_(context),
      settings_(std::get<config::ShadowsocksInbound>(context.config.settings)),
      users_(std::make_shared<const UserTable>(entries(settings_))),
      salts_(std::make_shared<SaltFilter>()) {}

bool ShadowsocksInbound::wants_udp() const { return settings_.udp; }

void ShadowsocksInbound::set_users(UserTablePtr users) {
  users_ = std::move(users);
  ++users_generation_;
}

awaitable<void> ShadowsocksInbound::reject(core::Stream& stream, const core::Session& session,
                                           std::string_view reason) {
  log::info(session.id, "shadowsocks: rejected: {}", reason);
  core::Deadline deadline(stream, drain_time(session.policy.handshake));
  std::array<std::uint8_t, 512> sink;
  for (;;) {
    auto r = co_await stream.read_some(asio::buffer(sink));
    if (r.ec) break;
  }
  stream.close();
}

// ---- TCP ---------------------------------------------------------------------------------

awaitable<void> ShadowsocksInbound::serve(core::StreamPtr stream, core::Session session) {
  const UserTablePtr users = users_;  // this connection's view, whatever a swap does
  session.policy = context_.policy.level(0);
  session.sniffing = &context_.config.sniffing;
  if (!settings_.tcp) {
    log::info(session.id, "shadowsocks: rejected: tcp is not enabled on this inbound");
    co_return;
  }

  core::Buffer buffer = core::BufferPool::local().acquire();
  core::Deadline deadline(*stream, session.policy.handshake);

  // A.3: try the users on the first bytes, as they arrive.
  std::size_t filled = 0;
  std::vector<bool> tried;
  int match = -1;
  while (match < 0) {
    auto r = co_await stream->read_some(
        asio::buffer(buffer.data() + filled, buffer.capacity() - filled));
    if (r.ec) {
      log::info(session.id, "shadowsocks: rejected: {}",
                deadline.expired() ? "handshake timeout" : r.ec.message());
      co_return;
    }
    filled += r.bytes;
    match = users->match_stream({buffer.data(), filled}, tried);
    if (match < 0 && (std::count(tried.begin(), tried.end(), true) ==
                          static_cast<std::ptrdiff_t>(users->users().size()) ||
                      filled == buffer.capacity())) {
      break;
    }
  }
  deadline.cancel();
  if (match < 0) {
    co_await reject(*stream, session, "no user matches");
    co_return;
  }
  const User& user = users->users()[static_cast<std::size_t>(match)];
  const MethodInfo& method = info(user.method);
  if (!salts_->insert({buffer.data(), method.salt_size})) {
    co_await reject(*stream, session, "replayed salt");
    co_return;
  }
  session.user = user.email;
  session.level = user.level;
  session.policy = context_.policy.level(user.level);

  core::Stream* raw = stream.get();
  auto ss =
      std::make_unique<AeadStream>(std::move(stream), user.method, user.master_key(),
                                   std::span<const std::uint8_t>(buffer.data(), filled), salts_);
  // The target address: the first plaintext bytes, maybe over several chunks.
  core::Deadline header_deadline(*raw, session.policy.handshake);
  filled = 0;
  std::size_t consumed = 0;
  for (;;) {
    auto r =
        co_await ss->read_some(asio::buffer(buffer.data() + filled, buffer.capacity() - filled));
    if (r.ec) {
      if (r.ec == base::make_error_code(Errc::kProtocol)) {
        co_await reject(*ss, session, "bad chunk");
      } else {
        log::info(session.id, "shadowsocks: rejected: {}",
                  header_deadline.expired() ? "handshake timeout" : r.ec.message());
      }
      co_return;
    }
    filled += r.bytes;
    auto address = parse_address({buffer.data(), filled}, net::Network::kTcp);
    if (address) {
      session.target = std::move(address->value);
      consumed = address->consumed;
      break;
    }
    if (!address.error().is(Errc::kNeedMore)) {
      header_deadline.cancel();
      co_await reject(*ss, session, address.error().reason);
      co_return;
    }
  }
  header_deadline.cancel();
  if (header_deadline.expired()) co_return;
  session.original_target = session.target;
  // A named argument, not a temporary: g++ 12 destroys class temporaries in a co_await
  // expression twice.
  core::Prefetch first{std::move(buffer), consumed, filled};
  co_await context_.dispatcher.dispatch(session, *ss, std::move(first));
}

// ---- UDP ---------------------------------------------------------------------------------

awaitable<void> ShadowsocksInbound::serve_udp(asio::ip::udp::socket& socket) {
  core::Session prototype;
  prototype.inbound_tag = context_.config.tag;
  prototype.inbound_protocol = "shadowsocks";
  prototype.sniffing = &context_.config.sniffing;
  std::error_code lec;
  auto local = socket.local_endpoint(lec);
  prototype.local =
      net::Destination{net::Network::kUdp, net::Address(local.address()), local.port()};

  // One session table per user, so that each session carries its user and each reply is
  // sealed with that user's key. Rebuilt when the user table changes.
  std::map<int, std::unique_ptr<dispatch::UdpSessions>> by_user;
  UserTablePtr users = users_;
  std::uint64_t generation = users_generation_;

  // UDP salts have their own filter: a busy UDP client must not push TCP salts out early.
  auto salts = std::make_shared<SaltFilter>();
  auto rx = std::make_unique<std::uint8_t[]>(kMaxDatagram);
  auto plain = std::make_unique<std::uint8_t[]>(kMaxDatagram);
  while (true) {
    asio::ip::udp::endpoint client;
    auto [ec, n] =
        co_await socket.async_receive_from(asio::buffer(rx.get(), kMaxDatagram), client, kTuple);
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) break;
    if (ec) continue;  // ICMP errors surface here; the socket lives on
    if (generation != users_generation_) {
      by_user.clear();
      users = users_;
      generation = users_generation_;
    }
    std::span<std::uint8_t> opened;
    const int index = users->match_packet({rx.get(), n}, {plain.get(), kMaxDatagram}, &opened);
    if (index < 0) {
      log::debug(0, "shadowsocks: udp: dropped a datagram from {}: no user matches",
                 client.address().to_string());
      continue;
    }
    const User& user = users->users()[static_cast<std::size_t>(index)];
    if (!salts->insert({rx.get(), info(user.method).salt_size})) {
      log::debug(0, "shadowsocks: udp: dropped a datagram from {}: replayed salt",
                 client.address().to_string());
      continue;
    }
    auto target = parse_address(opened, net::Network::kUdp);
    if (!target) {
      log::debug(0, "shadowsocks: udp: dropped a datagram from {}: {}",
                 client.address().to_string(), target.error().reason);
      continue;
    }
    auto& sessions = by_user[index];
    if (!sessions) {
      core::Session p = prototype;
      p.user = user.email;
      p.level = user.level;
      p.policy = context_.policy.level(user.level);
      const Method method = user.method;
      const Key key = user.key;
      sessions = std::make_unique<dispatch::UdpSessions>(
          context_.dispatcher, socket.get_executor(), std::move(p),
          [&socket, method, key, salts](std::span<const std::uint8_t> payload,
                                        const net::Destination& from,
                                        const asio::ip::udp::endpoint& to) -> awaitable<void> {
            // A.4: salt || AEAD(address of the source || payload).
            const MethodInfo& m = info(method);
            const std::size_t header = address_size(from.address);
            if (header == 0) co_return;
            const std::size_t size = m.salt_size + header + payload.size() + kTagSize;
            core::Buffer pooled;
            std::unique_ptr<std::uint8_t[]> large;  // a reply over a pooled buffer: rare
            std::uint8_t* out = nullptr;
            if (size <= core::BufferPool::kBufferSize) {
              pooled = core::BufferPool::local().acquire();
              out = pooled.data();
            } else {
              large = std::make_unique<std::uint8_t[]>(size);
              out = large.get();
            }
            encode_address(from.address, from.port, {out + m.salt_size, header});
            std::memcpy(out + m.salt_size + header, payload.data(), payload.size());
            const std::size_t sealed =
                seal_packet(method, {key.data(), m.key_size}, {out, size}, header + payload.size());
            if (sealed == 0) co_return;
            salts->insert({out, m.salt_size});
            co_await socket.async_send_to(asio::buffer(out, sealed), to, kTuple);
          });
    }
    const std::span<const std::uint8_t> payload = opened.subspan(target->consumed);
    co_await sessions->send(client, target->value, payload);
  }
}

}  // namespace xsup::worker::proxy::shadowsocks
