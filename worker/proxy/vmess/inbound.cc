#include "worker/proxy/vmess/inbound.h"

#include <openssl/rand.h>

#include <array>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstring>
#include <ctime>

#include "shared/base/log.h"
#include "shared/crypto/uuid.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/deadline.h"
#include "worker/core/prefetch.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/proxy/user_directory.h"
#include "worker/proxy/vmess/chunk_stream.h"
#include "worker/proxy/vmess/vmess.h"

namespace xsup::worker::proxy::vmess {
namespace {

using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// spec/vmess.md §2, §3.1: how long AuthIDs and request sessions are remembered.
constexpr std::chrono::seconds kAuthIdMemory{120};
constexpr std::chrono::seconds kSessionMemory{180};
// The drain after a failed authentication (as Xray's behaviour-seeded drainer): read a
// random 54..3319 further bytes, for at most a random 2..6 seconds, then close.
constexpr std::size_t kDrainMinBytes = 16 + 38;
constexpr std::size_t kDrainSpreadBytes = 3266;
constexpr int kDrainMinSeconds = 2;
constexpr int kDrainSpreadSeconds = 5;

// The config's clients first (they win a UUID both lists have), then the store's users.
std::vector<UserEntry> entries(const config::VmessInbound& settings, const std::string& tag) {
  std::vector<UserEntry> out;
  const users::UserSet& store = user_directory().set();
  out.reserve(settings.clients.size() + store.users.size());
  for (const auto& c : settings.clients) out.push_back(UserEntry{c.email, c.id, c.level, false});
  if (tag.empty()) return out;
  for (const auto& u : store.users) {
    if (u.uuid.empty()) continue;
    bool here = false;
    for (const auto& t : u.inbounds) here = here || t == tag;
    if (!here) continue;
    if (auto id = crypto::parse_uuid(u.uuid)) out.push_back(UserEntry{u.email, *id, u.level, true});
  }
  return out;
}

std::uint32_t random_u32() {
  std::uint32_t v = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v);
  return v;
}

// Reads until `filled` >= n, into buffer.
awaitable<std::error_code> read_at_least(core::Stream& stream, core::Buffer& buffer,
                                         std::size_t& filled, std::size_t n) {
  while (filled < n) {
    auto r =
        co_await stream.read_some(asio::buffer(buffer.data() + filled, buffer.capacity() - filled));
    if (r.ec) co_return r.ec;
    filled += r.bytes;
  }
  co_return std::error_code{};
}

// The state of one UDP session: the idle limit shrinks once the client has sent its end.
struct PacketRelayState {
  Clock::time_point last_activity = Clock::now();
  Clock::duration limit;
  asio::steady_timer* watchdog = nullptr;
  void touch() { last_activity = Clock::now(); }
};

awaitable<void> packets_up(ChunkStream& stream, core::PacketStream& packets,
                           const net::Destination& target, PacketRelayState& state,
                           const core::Policy& policy, std::uint64_t id) {
  core::Buffer buffer = core::BufferPool::local().acquire();
  for (;;) {
    auto r = co_await stream.read_packet(asio::buffer(buffer.data(), buffer.capacity()));
    if (r.ec) {
      if (r.ec != asio::error::eof) {
        log::debug(id, "vmess: udp: client: {}", r.ec.message());
        co_return;
      }
      // The client sent its end: replies may still come, for downlinkOnly.
      buffer = core::Buffer();
      state.limit = policy.downlink_only;
      state.touch();
      state.watchdog->cancel();
      asio::steady_timer forever(stream.get_executor(), Clock::time_point::max());
      co_await forever.async_wait(kTuple);
      co_return;
    }
    state.touch();
    auto ec = co_await packets.send({buffer.data(), r.bytes}, target);
    if (ec) log::debug(id, "vmess: udp: send to {}: {}", target.host_port(), ec.message());
  }
}

awaitable<void> packets_down(ChunkStream& stream, core::PacketStream& packets,
                             PacketRelayState& state, std::uint64_t id) {
  core::Buffer buffer = core::BufferPool::local().acquire();
  const std::size_t room = std::min(buffer.capacity(), stream.max_packet());
  for (;;) {
    auto r = co_await packets.receive(asio::buffer(buffer.data(), room));
    if (r.ec) {
      log::debug(id, "vmess: udp: target: {}", r.ec.message());
      co_return;
    }
    state.touch();
    if (auto ec = co_await stream.write_packet({buffer.data(), r.bytes}); ec) {
      log::debug(id, "vmess: udp: reply to client: {}", ec.message());
      co_return;
    }
  }
}

awaitable<void> packets_watchdog(PacketRelayState& state) {
  for (;;) {
    const auto deadline = state.last_activity + state.limit;
    if (Clock::now() >= deadline) co_return;
    state.watchdog->expires_at(deadline);
    co_await state.watchdog->async_wait(kTuple);
  }
}

}  // namespace

VmessInbound::VmessInbound(const InboundContext& context)
    : context_(context),
      settings_(std::get<config::VmessInbound>(context.config.settings)),
      auth_ids_(kAuthIdMemory),
      sessions_(kSessionMemory) {}

VmessInbound::~VmessInbound() = default;

const UserTablePtr& VmessInbound::users() {
  const std::uint64_t version = user_directory().version();
  if (!users_ || version != users_version_) {
    users_ = std::make_shared<const UserTable>(entries(settings_, context_.config.tag));
    users_version_ = version;
  }
  return users_;
}

std::unique_ptr<Inbound> make_vmess_inbound(const InboundContext& context) {
  return std::make_unique<VmessInbound>(context);
}

awaitable<void> VmessInbound::serve(core::StreamPtr stream, core::Session session) {
  session.sniffing = &context_.config.sniffing;
  core::Buffer buffer = core::BufferPool::local().acquire();
  std::size_t filled = 0;
  core::Deadline deadline(*stream, session.policy.handshake);
  const UserTablePtr table = users();  // this connection keeps the table it started with

  // Ends the handshake with one log line; a failed authentication drains first.
  auto reject = [&](std::string_view reason, bool drain_first) {
    log::info(session.id, "vmess: rejected: {}", deadline.expired() ? "handshake timeout" : reason);
    return drain_first && !deadline.expired();
  };

  if (auto ec = co_await read_at_least(*stream, buffer, filled, kAuthIdSize); ec) {
    reject(ec == asio::error::eof ? "closed during the handshake" : "read failed", false);
    stream->close();
    co_return;
  }
  Bytes16 auth_id;
  std::memcpy(auth_id.data(), buffer.data(), kAuthIdSize);
  auto match = table->match_auth_id(auth_id);
  std::string_view failure;
  if (!match) {
    failure = "invalid user";
  } else {
    const std::int64_t now = std::time(nullptr);
    const std::int64_t skew = match->time - now;
    if (match->time < 0 || skew > kAuthIdWindow || skew < -kAuthIdWindow) {
      failure = "AuthID time outside the 120 s window";
    } else if (!auth_ids_.check_and_insert(auth_id)) {
      failure = "replayed AuthID";
    }
  }
  if (!failure.empty()) {
    if (reject(failure, true)) co_await drain(*stream);
    stream->close();
    co_return;
  }
  const User& user = *match->user;

  std::array<std::uint8_t, kMaxHeaderSize> plain;
  Expected<RequestHeader> header = base::Error(base::Errc::kProtocol);
  std::size_t body_start = 0;
  if (auto ec = co_await read_at_least(*stream, buffer, filled, kRequestPrefixSize); ec) {
    failure = "closed during the handshake";
  } else if (auto size = open_header_length(user.cmd_key, {buffer.data(), kRequestPrefixSize});
             !size) {
    failure = size.error().reason;
  } else {
    body_start = kRequestPrefixSize + *size + Aead::kTagSize;
    if (auto ec2 = co_await read_at_least(*stream, buffer, filled, body_start); ec2) {
      failure = "closed during the handshake";
    } else if (auto opened = open_header(
                   user.cmd_key, {buffer.data(), kRequestPrefixSize},
                   {buffer.data() + kRequestPrefixSize, *size + Aead::kTagSize}, plain.data());
               !opened) {
      failure = opened.error().reason;
    } else {
      header = parse_header({plain.data(), *size});
      if (!header) failure = header.error().reason;
    }
  }
  if (!failure.empty()) {
    if (reject(failure, true)) co_await drain(*stream);
    stream->close();
    co_return;
  }

  const RequestHeader& h = *header;
  const std::uint8_t security = h.security;
  if (security == static_cast<std::uint8_t>(Security::kNone) ||
      security == static_cast<std::uint8_t>(Security::kZero)) {
    if (!settings_.legacy_security) {
      failure = "security none refused (set settings.legacySecurity to allow it)";
    }
  } else if (security != static_cast<std::uint8_t>(Security::kAes128Gcm) &&
             security != static_cast<std::uint8_t>(Security::kChacha20Poly1305)) {
    failure = "unknown security type";
  }
  if (failure.empty() && (h.options & kOptAuthenticatedLength) != 0) {
    failure = "AuthenticatedLength (option 0x10) not supported yet";
  }
  if (failure.empty()) {
    std::array<std::uint8_t, 48> key;
    std::memcpy(key.data(), user.entry.id.data(), 16);
    std::memcpy(key.data() + 16, h.body_key.data(), 16);
    std::memcpy(key.data() + 32, h.body_iv.data(), 16);
    if (!sessions_.check_and_insert(key)) failure = "replayed request session";
  }
  if (!failure.empty()) {
    if (reject(failure, true)) co_await drain(*stream);
    stream->close();
    co_return;
  }
  deadline.cancel();
  if (deadline.expired()) {
    reject("handshake timeout", false);
    co_return;
  }

  session.user = user.entry.email;
  session.user_from_store = user.entry.from_store;
  session.level = user.entry.level;
  session.policy = context_.policy.level(user.entry.level);
  session.target = h.target;
  session.original_target = h.target;
  log::debug(session.id, "vmess: {} for {}",
             h.command == Command::kMux ? "mux" : h.target.to_string(),
             session.user.empty() ? "a user" : session.user);

  ChunkStream chunks(std::move(stream),
                     ChunkStream::ServerSide{h, std::move(buffer), body_start, filled});
  // spec/mux.md §2: command 0x03, or a TCP request for the Mux.Cool target.
  if (h.command == Command::kMux || (h.command == Command::kTcp && mux::is_mux_target(h.target))) {
    const std::span<const std::uint8_t> none;  // ChunkStream holds what was read on
    co_await mux::serve(chunks, session, context_.dispatcher, xudp_, none, "vmess");
  } else if (h.command == Command::kUdp) {
    co_await relay_packets(session, chunks);
  } else {
    core::Prefetch first;
    co_await context_.dispatcher.dispatch(session, chunks, std::move(first));
  }
  chunks.close();
}

awaitable<void> VmessInbound::relay_packets(core::Session& session, ChunkStream& stream) {
  auto packets = co_await context_.dispatcher.open_packets(session);
  if (!packets) {
    log::info(session.id, "vmess: udp: {}: {}", session.target.to_string(),
              packets.error().message());
    co_return;
  }
  asio::steady_timer watchdog(stream.get_executor());
  PacketRelayState state;
  state.limit = session.policy.conn_idle;
  state.watchdog = &watchdog;
  core::PacketStream& p = **packets;
  co_await (packets_up(stream, p, session.target, state, session.policy, session.id) ||
            packets_down(stream, p, state, session.id) || packets_watchdog(state));
  p.close();
  log::info(session.id, "closed {}", session.target.to_string());
}

awaitable<void> VmessInbound::drain(core::Stream& stream) {
  const std::uint32_t r = random_u32();
  const std::size_t budget = kDrainMinBytes + r % kDrainSpreadBytes;
  const auto seconds = std::chrono::seconds(kDrainMinSeconds + (r >> 16) % kDrainSpreadSeconds);
  core::Deadline limit(stream, seconds);
  std::array<std::uint8_t, 512> sink;
  std::size_t total = 0;
  while (total < budget) {
    auto rr = co_await stream.read_some(asio::buffer(sink));
    if (rr.ec) break;
    total += rr.bytes;
  }
}

}  // namespace xsup::worker::proxy::vmess
