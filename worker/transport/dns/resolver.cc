#include "worker/transport/dns/resolver.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <iterator>
#include <mutex>
#include <optional>
#include <utility>

#include "shared/base/log.h"

namespace xsup::worker::transport::dns {
namespace {

using namespace asio::experimental::awaitable_operators;
using base::Errc;
using base::Error;
using xsup::dns::QType;
using xsup::dns::Rcode;
using Clock = std::chrono::steady_clock;

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Room for any UDP answer: servers may ignore our EDNS0 size (RFC 6891 §6.2.5) up to 4096.
constexpr std::size_t kReceiveBuffer = 4096;
constexpr std::size_t kMaxLabel = 63;  // RFC 1035 §2.3.4

// Reasons (static text, see base::Error).
constexpr std::string_view kNxDomain = "dns: no such domain";
constexpr std::string_view kNoData = "dns: no address of the wanted family";
constexpr std::string_view kNoAnswer = "dns: no answer from any nameserver";

std::mutex& config_mutex() {
  static std::mutex m;
  return m;
}
std::shared_ptr<const ResolverConfig>& configured() {
  static std::shared_ptr<const ResolverConfig> config;
  return config;
}

// RFC 1035 §2.3.1 in the relaxed form names take in practice (underscores, digits first).
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > xsup::dns::kMaxNameText) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u >= 0x7f) return false;
    if (++label > kMaxLabel) return false;
  }
  return label != 0;
}

// RFC 6761 §6.3: localhost and its subdomains are the loopback, never asked of a server.
bool is_localhost(std::string_view name) {
  constexpr std::string_view kLocal = "localhost";
  constexpr std::string_view kSuffix = ".localhost";
  return name == kLocal ||
         (name.size() > kSuffix.size() && name.substr(name.size() - kSuffix.size()) == kSuffix);
}

bool wanted(const asio::ip::address& ip, Family want) {
  return want == Family::kBoth || (want == Family::kV4 ? ip.is_v4() : ip.is_v6());
}

// RFC 5452 §9.2: the query id must be unpredictable to make forged answers hard.
std::optional<std::uint16_t> random_id() {
  std::array<unsigned char, 2> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return std::nullopt;
  return static_cast<std::uint16_t>((bytes[0] << 8) | bytes[1]);
}

// What one exchange with one server produced: a matching response or why not.
struct Reply {
  std::optional<xsup::dns::Response> response;
  std::string_view failure;
};

// RFC 5452 §9.1: only a reply with our id and our question is an answer to our query.
bool matches(const Expected<xsup::dns::Response>& response, std::uint16_t id,
             const std::string& name, QType type) {
  if (!response || response->id != id) return false;
  if (response->has_question) {
    return response->question_name == name &&
           response->question_type == static_cast<std::uint16_t>(type);
  }
  return response->rcode != Rcode::kNoError;  // an answer without the question is not ours
}

awaitable<Reply> exchange(asio::ip::udp::endpoint server, const std::string& name, QType type,
                          std::chrono::milliseconds timeout, bool edns) {
  auto executor = co_await asio::this_coro::executor;
  const auto id = random_id();
  if (!id) co_return Reply{std::nullopt, "dns: no randomness for the query id"};
  auto query = xsup::dns::encode_query({*id, name, type, edns});
  if (!query) co_return Reply{std::nullopt, "dns: invalid domain name"};

  asio::ip::udp::socket socket(executor);
  std::error_code ec;
  socket.open(server.protocol(), ec);
  // Connecting a UDP socket only records the peer (no packet, no wait): the kernel then
  // drops datagrams from anyone else and reports ICMP unreachable as ECONNREFUSED.
  if (!ec) socket.connect(server, ec);
  if (ec) co_return Reply{std::nullopt, "dns: cannot reach the nameserver"};
  auto [send_ec, sent] = co_await socket.async_send(asio::buffer(*query), kTuple);
  if (send_ec) co_return Reply{std::nullopt, "dns: cannot reach the nameserver"};

  asio::steady_timer timer(executor, timeout);
  std::array<std::uint8_t, kReceiveBuffer> buffer;
  for (;;) {
    auto outcome =
        co_await (socket.async_receive(asio::buffer(buffer), kTuple) || timer.async_wait(kTuple));
    if (outcome.index() == 1) co_return Reply{std::nullopt, kNoAnswer};
    auto [receive_ec, n] = std::get<0>(outcome);
    if (receive_ec) co_return Reply{std::nullopt, "dns: nameserver unreachable"};
    auto response = xsup::dns::parse_response(std::span<const std::uint8_t>(buffer.data(), n));
    // Anything else is stale or forged, and the real answer may still come in time.
    if (!matches(response, *id, name, type)) continue;
    co_return Reply{std::move(response).value(), {}};
  }
}

// RFC 7766 §5 / RFC 1035 §4.2.2: when the UDP answer was truncated, ask again over TCP,
// where a two-octet length prefixes each message. One deadline covers the whole exchange.
awaitable<Reply> exchange_tcp(asio::ip::tcp::endpoint server, const std::string& name, QType type,
                              std::chrono::milliseconds timeout) {
  constexpr std::string_view kTcpFailed = "dns: TCP retry of a truncated answer failed";
  auto executor = co_await asio::this_coro::executor;
  const auto id = random_id();
  if (!id) co_return Reply{std::nullopt, "dns: no randomness for the query id"};
  auto query = xsup::dns::encode_query({*id, name, type, false});
  if (!query) co_return Reply{std::nullopt, "dns: invalid domain name"};
  std::vector<std::uint8_t> framed(query->size() + 2);
  framed[0] = static_cast<std::uint8_t>(query->size() >> 8);
  framed[1] = static_cast<std::uint8_t>(query->size() & 0xff);
  std::copy(query->begin(), query->end(), framed.begin() + 2);

  asio::ip::tcp::socket socket(executor);
  asio::steady_timer timer(executor, timeout);
  auto connected = co_await (socket.async_connect(server, kTuple) || timer.async_wait(kTuple));
  if (connected.index() == 1 || std::get<0>(std::get<0>(connected))) {
    co_return Reply{std::nullopt, kTcpFailed};
  }
  auto written = co_await (asio::async_write(socket, asio::buffer(framed), kTuple) ||
                           timer.async_wait(kTuple));
  if (written.index() == 1 || std::get<0>(std::get<0>(written))) {
    co_return Reply{std::nullopt, kTcpFailed};
  }
  std::array<std::uint8_t, 2> length{};
  auto head =
      co_await (asio::async_read(socket, asio::buffer(length), kTuple) || timer.async_wait(kTuple));
  if (head.index() == 1 || std::get<0>(std::get<0>(head))) {
    co_return Reply{std::nullopt, kTcpFailed};
  }
  std::vector<std::uint8_t> message(static_cast<std::size_t>((length[0] << 8) | length[1]));
  auto body = co_await (asio::async_read(socket, asio::buffer(message), kTuple) ||
                        timer.async_wait(kTuple));
  if (body.index() == 1 || std::get<0>(std::get<0>(body))) {
    co_return Reply{std::nullopt, kTcpFailed};
  }
  auto response = xsup::dns::parse_response(message);
  if (!matches(response, *id, name, type)) co_return Reply{std::nullopt, kTcpFailed};
  co_return Reply{std::move(response).value(), {}};
}

}  // namespace

struct Resolver::Pending {
  explicit Pending(const asio::any_io_executor& executor)
      : done(executor, Clock::time_point::max()) {}
  asio::steady_timer done;  // cancelled when result is set: wakes every waiter
  std::optional<Result> result;
};

struct Resolver::Outcome {
  Result result;
  std::chrono::seconds ttl{0};  // how long to cache; 0 = not at all
};

std::size_t Resolver::KeyHash::operator()(const Key& k) const {
  return std::hash<std::string>()(k.name) ^ static_cast<std::size_t>(k.type);
}

Resolver::Resolver(ResolverConfig config)
    : config_(std::make_shared<const ResolverConfig>(std::move(config))),
      stats_(std::make_shared<Stats>()) {}

Resolver::~Resolver() = default;

void Resolver::configure(ResolverConfig config) {
  std::lock_guard lock(config_mutex());
  configured() = std::make_shared<const ResolverConfig>(std::move(config));
}

Resolver& Resolver::local() {
  thread_local std::unique_ptr<Resolver> instance;
  if (!instance) {
    std::shared_ptr<const ResolverConfig> config;
    {
      std::lock_guard lock(config_mutex());
      config = configured();
    }
    instance = std::make_unique<Resolver>(config ? *config : xsup::dns::parse_resolv_conf(""));
  }
  return *instance;
}

awaitable<Expected<std::vector<asio::ip::address>>> Resolver::resolve(std::string_view text,
                                                                      Family want) {
  using Addresses = std::vector<asio::ip::address>;
  {
    std::error_code ec;
    auto ip = asio::ip::make_address(std::string(text), ec);
    if (!ec) co_return Addresses{ip};
  }
  std::string name = xsup::dns::normalize_name(text);
  if (!valid_name(name)) co_return Error(Errc::kResolveFailed, "dns: invalid domain name");

  if (is_localhost(name)) {
    Addresses out;
    if (want != Family::kV6) out.push_back(asio::ip::address_v4::loopback());
    if (want != Family::kV4) out.push_back(asio::ip::address_v6::loopback());
    co_return out;
  }
  {
    // hosts(5) first, as "hosts: files dns" in nsswitch.conf orders it.
    Addresses v4, v6;
    auto [first, last] = config_->hosts.equal_range(name);
    for (auto it = first; it != last; ++it) {
      if (!wanted(it->second, want)) continue;
      (it->second.is_v4() ? v4 : v6).push_back(it->second);
    }
    if (!v4.empty() || !v6.empty()) {
      v4.insert(v4.end(), v6.begin(), v6.end());
      co_return v4;
    }
  }

  auto executor = co_await asio::this_coro::executor;
  // Keys and pending lookups are named locals: g++ 12 mishandles the lifetime of
  // temporaries inside a co_await expression.
  const Key a_key{name, QType::kA};
  const Key aaaa_key{name, QType::kAaaa};
  if (want != Family::kBoth) {
    auto pending = start(executor, want == Family::kV4 ? a_key : aaaa_key);
    Result single = co_await wait(std::move(pending));
    co_return single;
  }
  // Both lookups are started before either is awaited, so they run in parallel.
  auto a = start(executor, a_key);
  auto aaaa = start(executor, aaaa_key);
  Result v4 = co_await wait(std::move(a));
  Result v6 = co_await wait(std::move(aaaa));
  if (!v4) {
    if (v6) co_return v6;
    // NXDOMAIN says the most; a missing family the least.
    if (v4.error().reason == kNoData) co_return v6;
    co_return v4;
  }
  if (v6) v4->insert(v4->end(), v6->begin(), v6->end());
  co_return v4;
}

std::shared_ptr<Resolver::Pending> Resolver::start(const asio::any_io_executor& executor,
                                                   const Key& key) {
  if (auto it = cache_.find(key); it != cache_.end()) {
    if (Clock::now() < it->second.expires) {
      auto ready = std::make_shared<Pending>(executor);
      ready->result = it->second.result;
      return ready;
    }
    cache_order_.erase(it->second.order);
    cache_.erase(it);
  }
  if (auto it = in_flight_.find(key); it != in_flight_.end()) return it->second;

  auto pending = std::make_shared<Pending>(executor);
  in_flight_.emplace(key, pending);
  // Only allocation can throw in run(); then the waiters are woken to see "cancelled" and
  // the next lookup of the name starts afresh.
  asio::co_spawn(executor, run(this, stats_, config_, key, pending),
                 [this, alive = std::weak_ptr<Stats>(stats_), key,
                  weak = std::weak_ptr<Pending>(pending)](std::exception_ptr e) {
                   if (!e) return;
                   log::error(0, "dns: lookup of {} failed unexpectedly", key.name);
                   if (!alive.expired()) in_flight_.erase(key);
                   if (auto p = weak.lock()) p->done.cancel();
                 });
  return pending;
}

awaitable<Resolver::Result> Resolver::wait(std::shared_ptr<Pending> pending) {
  if (!pending->result) co_await pending->done.async_wait(kTuple);
  if (!pending->result) co_return Error(Errc::kResolveFailed, "dns: lookup cancelled");
  co_return *pending->result;
}

awaitable<void> Resolver::run(Resolver* self, std::weak_ptr<Stats> alive,
                              std::shared_ptr<const ResolverConfig> config, Key key,
                              std::shared_ptr<Pending> pending) {
  Outcome outcome = co_await query_servers(*config, key, alive);
  if (!alive.expired()) {
    self->in_flight_.erase(key);
    if (outcome.ttl.count() > 0) self->store(key, outcome.result, outcome.ttl);
  }
  pending->result = std::move(outcome.result);
  pending->done.cancel();
}

awaitable<Resolver::Outcome> Resolver::query_servers(const ResolverConfig& config, const Key& key,
                                                     std::weak_ptr<Stats> alive) {
  std::string_view last = kNoAnswer;
  // resolv.conf(5): each attempt tries every server in order, each for `timeout`.
  for (int attempt = 0; attempt < config.attempts; ++attempt) {
    for (const auto& ip : config.nameservers) {
      if (auto stats = alive.lock()) ++stats->queries_sent;
      const asio::ip::udp::endpoint server(ip, config.port);
      Reply reply = co_await exchange(server, key.name, key.type, config.timeout, true);
      if (reply.response && reply.response->rcode == Rcode::kFormErr) {
        // RFC 6891 §7: a server that predates EDNS answers FORMERR; ask it again without.
        if (auto stats = alive.lock()) ++stats->queries_sent;
        reply = co_await exchange(server, key.name, key.type, config.timeout, false);
      }
      if (reply.response && reply.response->truncated) {
        if (auto stats = alive.lock()) ++stats->queries_sent;
        const asio::ip::tcp::endpoint tcp_server(ip, config.port);
        Reply full = co_await exchange_tcp(tcp_server, key.name, key.type, config.timeout);
        // Without TCP, a truncated answer that carries addresses is still usable.
        if (full.response || reply.response->addresses.empty()) reply = std::move(full);
      }
      if (!reply.response) {
        last = reply.failure;
        continue;
      }
      const auto& response = *reply.response;
      switch (response.rcode) {
        case Rcode::kNoError:
          if (!response.addresses.empty()) {
            const auto ttl =
                std::min<std::chrono::seconds>(std::chrono::seconds(response.min_ttl), kMaxTtl);
            co_return Outcome{response.addresses, ttl};
          }
          // A truncated reply with no address might have had one: ask the next server
          // rather than cache a false "no data".
          if (response.truncated) {
            last = "dns: truncated answer";
            continue;
          }
          co_return Outcome{Error(Errc::kResolveFailed, kNoData), kNegativeTtl};
        case Rcode::kNxDomain:
          co_return Outcome{Error(Errc::kResolveFailed, kNxDomain), kNegativeTtl};
        case Rcode::kServFail:
          last = "dns: nameserver failure";
          continue;
        case Rcode::kRefused:
          last = "dns: nameserver refused";
          continue;
        default:
          last = "dns: nameserver error";
          continue;
      }
    }
  }
  co_return Outcome{Error(Errc::kResolveFailed, last), std::chrono::seconds(0)};
}

void Resolver::store(const Key& key, const Result& result, std::chrono::seconds ttl) {
  if (auto it = cache_.find(key); it != cache_.end()) {
    cache_order_.erase(it->second.order);
    cache_.erase(it);
  }
  while (cache_.size() >= kMaxCacheEntries && !cache_order_.empty()) {
    cache_.erase(cache_order_.front());
    cache_order_.pop_front();
  }
  cache_order_.push_back(key);
  cache_.emplace(key, CacheEntry{result, Clock::now() + ttl, std::prev(cache_order_.end())});
}

}  // namespace xsup::worker::transport::dns
