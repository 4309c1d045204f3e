#include "worker/proxy/shadowsocks/inbound.h"

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstring>
#include <iterator>
#include <map>
#include <vector>

#include "shared/base/base64.h"
#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/deadline.h"
#include "worker/core/prefetch.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/dispatch/udp_sessions.h"
#include "worker/proxy/shadowsocks/codec.h"
#include "worker/proxy/shadowsocks/codec2022.h"
#include "worker/proxy/shadowsocks/shadowsocks.h"
#include "worker/proxy/shadowsocks/stream.h"
#include "worker/proxy/user_directory.h"

namespace xsup::worker::proxy::shadowsocks {
namespace {

using base::Errc;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// The largest UDP payload (RFC 768 over IPv4, 65535 - 8 - 20).
constexpr std::size_t kMaxDatagram = 65507;

// The config's users, then the store's users of inbound `tag`: each store user takes the
// inbound's method; a 2022 user's password is their base64 uPSK (the supervisor checks it).
std::vector<UserEntry> entries(const config::ShadowsocksInbound& settings,
                               const users::UserSet& store, std::string_view tag) {
  std::vector<UserEntry> out;
  for (const auto& u : settings.users) {
    UserEntry e;
    e.email = u.email;
    e.password = u.password;
    if (!u.psks.empty()) e.psk = u.psks.front();
    e.method = parse_method(u.method).value_or(Method::kAes128Gcm);
    e.level = u.level;
    out.push_back(std::move(e));
  }
  const auto method = parse_method(settings.method);
  if (!method) return out;
  for (const auto& u : store.users) {
    if (u.password.empty() ||
        std::find(u.inbounds.begin(), u.inbounds.end(), tag) == u.inbounds.end()) {
      continue;
    }
    UserEntry e;
    e.email = u.email;
    e.method = *method;
    e.level = u.level;
    e.from_store = true;
    if (is_2022(*method)) {
      auto psk = base::base64_decode(u.password);
      if (!psk || psk->size() != info(*method).key_size) continue;
      e.psk = std::move(*psk);
    } else {
      e.password = u.password;
    }
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

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Reads from `stream` until `buffer` holds `need` bytes; false on error or EOF.
awaitable<bool> read_at_least(core::Stream& stream, std::uint8_t* buffer, std::size_t capacity,
                              std::size_t& filled, std::size_t need) {
  while (filled < need) {
    if (filled == capacity) co_return false;
    auto r = co_await stream.read_some(asio::buffer(buffer + filled, capacity - filled));
    if (r.ec) co_return false;
    filled += r.bytes;
  }
  co_return true;
}

// B.2: salt, identity header, fixed header, a variable header of up to 0xFFFF bytes, and
// room for what follows in the same segments.
constexpr std::size_t kHandshake2022 =
    kMaxSaltSize + kEihSize + kFixedRequestSize + kTagSize + 0xFFFF + kTagSize + 4096;

}  // namespace

std::unique_ptr<Inbound> make_inbound(const InboundContext& context) {
  return std::make_unique<ShadowsocksInbound>(context);
}

ShadowsocksInbound::ShadowsocksInbound(const InboundContext& context)
    : context_(context),
      settings_(std::get<config::ShadowsocksInbound>(context.config.settings)),
      salts_(std::make_shared<SaltFilter>()),
      // B.2: salts are remembered for at least 60 s.
      salts_2022_(std::make_shared<SaltFilter>(256 * 1024, std::chrono::seconds(60))) {}

bool ShadowsocksInbound::wants_udp() const { return settings_.udp; }

const UserTablePtr& ShadowsocksInbound::current_users() {
  const UserDirectory& directory = user_directory();
  if (directory.version() != store_version_) {
    users_ = std::make_shared<const UserTable>(
        entries(settings_, directory.set(), context_.config.tag), settings_.identity_psk);
    store_version_ = directory.version();
    ++users_generation_;
  }
  return users_;
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
  const UserTablePtr users = current_users();  // this connection's view, whatever a push does
  session.policy = context_.policy.level(0);
  session.sniffing = &context_.config.sniffing;
  if (!settings_.tcp) {
    log::info(session.id, "shadowsocks: rejected: tcp is not enabled on this inbound");
    co_return;
  }

  if (users->is_2022()) {
    co_await serve_2022(std::move(stream), std::move(session), users);
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
  session.user_from_store = user.from_store;
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
  if (current_users()->is_2022()) {
    co_await serve_udp_2022(socket);
    co_return;
  }
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
    current_users();
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
      p.user_from_store = user.from_store;
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
            if (!payload.empty())
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

// ---- Shadowsocks 2022 -----------------------------------------------------------------------

awaitable<void> ShadowsocksInbound::serve_2022(core::StreamPtr stream, core::Session session,
                                               UserTablePtr users) {
  const Method method = users->method();
  const MethodInfo& m = info(method);
  const bool multi = users->identity_psk().has_value();
  const std::size_t head = m.salt_size + (multi ? kEihSize : 0);
  // One buffer per handshake: a variable header may be 64 KiB, over a pooled buffer.
  auto buffer = std::make_unique<std::uint8_t[]>(kHandshake2022);
  std::size_t filled = 0;
  core::Deadline deadline(*stream, session.policy.handshake);
  auto fail = [&](std::string_view reason) -> std::string_view {
    return deadline.expired() ? std::string_view("handshake timeout") : reason;
  };

  if (!co_await read_at_least(*stream, buffer.get(), kHandshake2022, filled,
                              head + kFixedRequestSize + kTagSize)) {
    log::info(session.id, "shadowsocks: rejected: {}", fail("short request"));
    co_return;
  }
  const std::span<const std::uint8_t> salt(buffer.get(), m.salt_size);
  // B.2 step 1: a salt seen in the last minute is a replay.
  if (!salts_2022_->insert(salt)) {
    deadline.cancel();
    co_await reject(*stream, session, "replayed salt");
    co_return;
  }
  int index = 0;
  if (multi) {
    // B.5: the identity header names the user by BLAKE3(uPSK)[0:16].
    PskHash named{};
    const Key& ipsk = *users->identity_psk();
    if (!decode_tcp_identity(
            {ipsk.data(), m.key_size}, salt,
            std::span<const std::uint8_t, kEihSize>(buffer.get() + m.salt_size, kEihSize), named)) {
      co_return;
    }
    index = users->find_by_psk_hash(named);
    if (index < 0) {
      deadline.cancel();
      co_await reject(*stream, session, "no user matches");
      co_return;
    }
  }
  const User& user = users->users()[static_cast<std::size_t>(index)];
  const Key session_key = derive_session_key(method, user.master_key(), salt);
  auto opener = std::make_unique<ChunkOpener>(
      method, std::span<const std::uint8_t>(session_key.data(), m.key_size), kMaxChunkPayload2022);

  std::uint8_t* const fixed_at = buffer.get() + head;
  auto fixed = opener->open_block({fixed_at, filled - head}, kFixedRequestSize);
  Expected<std::size_t> var_size =
      fixed ? parse_fixed_request(fixed->value, unix_now()) : Expected<std::size_t>(fixed.error());
  if (!var_size) {
    deadline.cancel();
    co_await reject(*stream, session, fixed ? var_size.error().reason : "no user matches");
    co_return;
  }
  const std::size_t var_at = head + kFixedRequestSize + kTagSize;
  const std::size_t end = var_at + *var_size + kTagSize;
  if (!co_await read_at_least(*stream, buffer.get(), kHandshake2022, filled, end)) {
    log::info(session.id, "shadowsocks: rejected: {}", fail("short request"));
    co_return;
  }
  auto var = opener->open_block({buffer.get() + var_at, filled - var_at}, *var_size);
  auto request = var ? parse_variable_request(var->value) : Expected<VariableRequest>(var.error());
  deadline.cancel();
  if (!request) {
    co_await reject(*stream, session, request.error().reason);
    co_return;
  }
  if (deadline.expired()) co_return;

  session.user = user.email;
  session.user_from_store = user.from_store;
  session.level = user.level;
  session.policy = context_.policy.level(user.level);
  session.target = request->target;
  session.original_target = session.target;
  const std::span<const std::uint8_t> payload = var->value.subspan(request->payload_offset);

  AeadStream::Options options;
  options.method = method;
  options.key = user.master_key();
  options.received = {buffer.get() + end, filled - end};
  options.opener = std::move(opener);
  options.server = true;
  options.request_salt = salt;
  options.own_salts = salts_2022_;
  core::StreamPtr ss = std::make_unique<AeadStream>(std::move(stream), std::move(options));
  core::Prefetch first;
  if (!payload.empty() && payload.size() <= core::BufferPool::kBufferSize) {
    first.buffer = core::BufferPool::local().acquire();
    std::memcpy(first.buffer.data(), payload.data(), payload.size());
    first.end = payload.size();
  } else if (!payload.empty()) {
    ss = std::make_unique<core::PrefixedStream>(std::move(ss), payload);
  }
  buffer.reset();
  co_await context_.dispatcher.dispatch(session, *ss, std::move(first));
}

namespace {

// One 2022 UDP client session on the server (B.4): keyed by the client's address.
struct Udp2022Client {
  int user = -1;
  std::uint64_t client_session_id = 0;
  Key client_key{};  // body key of the client's session (AES)
  PacketWindow window;
  std::uint64_t server_session_id = 0;
  std::uint64_t next_packet_id = 0;
  Key server_key{};  // body key of our session (AES)
  std::chrono::steady_clock::time_point last_active;
};

}  // namespace

awaitable<void> ShadowsocksInbound::serve_udp_2022(asio::ip::udp::socket& socket) {
  core::Session prototype;
  prototype.inbound_tag = context_.config.tag;
  prototype.inbound_protocol = "shadowsocks";
  prototype.sniffing = &context_.config.sniffing;
  std::error_code lec;
  auto local = socket.local_endpoint(lec);
  prototype.local =
      net::Destination{net::Network::kUdp, net::Address(local.address()), local.port()};

  using Clients = std::map<asio::ip::udp::endpoint, std::shared_ptr<Udp2022Client>>;
  constexpr std::size_t kMaxClients = 4096;
  // Declared before the session tables: replies look clients up until the tables end.
  Clients clients;
  std::map<int, std::unique_ptr<dispatch::UdpSessions>> by_user;
  UserTablePtr users = users_;
  std::uint64_t generation = users_generation_;
  const Method method = users->method();
  const MethodInfo& m = info(method);
  const bool chacha = method == Method::k2022Chacha20Poly1305;

  auto rx = std::make_unique<std::uint8_t[]>(kMaxDatagram);
  while (true) {
    asio::ip::udp::endpoint client;
    auto [ec, n] =
        co_await socket.async_receive_from(asio::buffer(rx.get(), kMaxDatagram), client, kTuple);
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) break;
    if (ec) continue;
    current_users();
    if (generation != users_generation_) {
      by_user.clear();
      clients.clear();
      users = users_;
      generation = users_generation_;
    }
    const auto now = std::chrono::steady_clock::now();
    std::span<std::uint8_t> packet(rx.get(), n);
    UdpPacketHeader header;
    int index = 0;
    std::span<std::uint8_t> body;
    std::shared_ptr<Udp2022Client> state;
    auto found = clients.find(client);
    if (chacha) {
      auto opened = open_udp_chacha(users->users().front().master_key(), packet, header);
      if (!opened) continue;
      body = *opened;
    } else {
      // B.4: the separate header under PSK0, then the identity header (multi-user).
      const bool multi = users->identity_psk().has_value();
      const std::size_t prefix = udp_prefix_size(method, multi ? 1 : 0);
      if (n < prefix + kTagSize) continue;
      const Key& psk0 = multi ? *users->identity_psk() : users->users().front().key;
      std::uint8_t plain[kSeparateHeaderSize];
      if (!open_udp_separate_header({psk0.data(), m.key_size}, rx.get(), plain, header)) continue;
      if (multi) {
        PskHash named{};
        if (!decode_udp_identity({psk0.data(), m.key_size}, rx.get() + kSeparateHeaderSize, plain,
                                 named)) {
          continue;
        }
        index = users->find_by_psk_hash(named);
        if (index < 0) continue;
      }
      Key key{};
      if (found != clients.end() && found->second->user == index &&
          found->second->client_session_id == header.session_id) {
        key = found->second->client_key;  // cached: no BLAKE3 per packet
      } else {
        key = udp_session_key(method, users->users()[static_cast<std::size_t>(index)].master_key(),
                              header.session_id);
      }
      auto opened = open_udp_body(method, {key.data(), m.key_size}, plain, packet.subspan(prefix));
      if (!opened) continue;
      body = *opened;
      if (found == clients.end() || found->second->user != index ||
          found->second->client_session_id != header.session_id) {
        state = std::make_shared<Udp2022Client>();
        state->client_key = key;
      }
    }
    auto main = parse_udp_main_header(body, kTypeClient, unix_now());
    if (!main) continue;
    if (!state) {
      if (found != clients.end() && found->second->user == index &&
          found->second->client_session_id == header.session_id) {
        state = found->second;
      } else {
        state = std::make_shared<Udp2022Client>();
      }
    }
    if (state->user < 0) {
      // A new client session: our own session for the replies.
      if (found == clients.end() && clients.size() >= kMaxClients) {
        for (auto it = clients.begin(); it != clients.end();) {
          it = now - it->second->last_active > std::chrono::seconds(60) ? clients.erase(it)
                                                                        : std::next(it);
        }
        if (clients.size() >= kMaxClients) continue;
      }
      state->user = index;
      state->client_session_id = header.session_id;
      random_bytes({reinterpret_cast<std::uint8_t*>(&state->server_session_id),
                    sizeof state->server_session_id});
      if (!chacha) {
        state->server_key =
            udp_session_key(method, users->users()[static_cast<std::size_t>(index)].master_key(),
                            state->server_session_id);
      }
      clients[client] = state;
    }
    if (!state->window.accept(header.packet_id)) continue;  // a replay
    state->last_active = now;

    const User& user = users->users()[static_cast<std::size_t>(index)];
    auto& sessions = by_user[index];
    if (!sessions) {
      core::Session p = prototype;
      p.user = user.email;
      p.user_from_store = user.from_store;
      p.level = user.level;
      p.policy = context_.policy.level(user.level);
      const Key psk = user.key;
      sessions = std::make_unique<dispatch::UdpSessions>(
          context_.dispatcher, socket.get_executor(), std::move(p),
          [&socket, &clients, method, psk](std::span<const std::uint8_t> payload,
                                           const net::Destination& from,
                                           const asio::ip::udp::endpoint& to) -> awaitable<void> {
            auto it = clients.find(to);
            if (it == clients.end()) co_return;
            Udp2022Client& c = *it->second;
            const MethodInfo& mi = info(method);
            const std::size_t prefix = udp_prefix_size(method, 0);
            // type, time, client session id, padding length, address.
            const std::size_t header = 1 + 8 + 8 + 2 + address_size(from.address);
            const std::size_t size = prefix + header + payload.size() + kTagSize;
            core::Buffer pooled;
            std::unique_ptr<std::uint8_t[]> large;
            std::uint8_t* out = nullptr;
            if (size <= core::BufferPool::kBufferSize) {
              pooled = core::BufferPool::local().acquire();
              out = pooled.data();
            } else {
              large = std::make_unique<std::uint8_t[]>(size);
              out = large.get();
            }
            const std::size_t h =
                encode_udp_main_header(kTypeServer, static_cast<std::uint64_t>(unix_now()),
                                       c.client_session_id, 0, from, {out + prefix, header});
            if (h == 0) co_return;
            if (!payload.empty()) std::memcpy(out + prefix + h, payload.data(), payload.size());
            const UdpPacketHeader sep{c.server_session_id, c.next_packet_id++};
            const Key keys[1] = {psk};
            const std::size_t sealed =
                seal_udp_packet(method, keys, {c.server_key.data(), mi.key_size}, sep, {out, size},
                                h + payload.size());
            if (sealed == 0) co_return;
            co_await socket.async_send_to(asio::buffer(out, sealed), to, kTuple);
          });
    }
    const std::span<const std::uint8_t> payload = body.subspan(main->payload_offset);
    co_await sessions->send(client, main->address, payload);
  }
}

}  // namespace xsup::worker::proxy::shadowsocks
