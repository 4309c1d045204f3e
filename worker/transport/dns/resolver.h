#pragma once
// A stub resolver for one worker's event loop. getaddrinfo cannot run in a worker: it
// opens /etc/resolv.conf, /etc/hosts and NSS modules, which the sandbox forbids, and it
// blocks. This one answers IP literals, localhost and the hosts table locally, asks the
// configured nameservers over UDP otherwise (TCP when an answer comes back truncated),
// caches answers and merges concurrent lookups of the same name. Search domains and ndots
// are not applied: a proxy is given fully qualified names. Single-threaded: one instance
// per event loop (see local()); lookups still in flight when it goes are finished harmlessly.

#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/base/error.h"
#include "shared/dns/message.h"
#include "shared/dns/system_files.h"

namespace xsup::worker::transport::dns {

using asio::awaitable;
using base::Expected;
using xsup::dns::ResolverConfig;

enum class Family : std::uint8_t { kV4, kV6, kBoth };

class Resolver {
 public:
  // A positive answer is kept for its TTL up to this; a negative one (NXDOMAIN, or no
  // record of the type, RFC 2308 §5) for kNegativeTtl.
  static constexpr std::chrono::seconds kMaxTtl{600};
  static constexpr std::chrono::seconds kNegativeTtl{30};
  static constexpr std::size_t kMaxCacheEntries = 4096;

  explicit Resolver(ResolverConfig config);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Addresses for `name` (an IP literal resolves to itself, whatever `want` says). With
  // kBoth, A and AAAA are asked in parallel and IPv4 addresses come first. Errors are
  // Errc::kResolveFailed with a reason. `name` must outlive the co_await (as it does in
  // `co_await resolver.resolve(x, f)`). Runs on the caller's executor.
  awaitable<Expected<std::vector<asio::ip::address>>> resolve(std::string_view name, Family want);

  // Sets the configuration every thread's local() instance starts from; call once before
  // the event loops run (an instance already made keeps its settings). Without it, local() uses the
  // resolv.conf defaults (127.0.0.1).
  static void configure(ResolverConfig config);
  // This thread's resolver (one event loop per worker thread).
  static Resolver& local();

  // For tests: how many queries went out to nameservers.
  std::size_t queries_sent() const { return stats_->queries_sent; }

 private:
  using Result = Expected<std::vector<asio::ip::address>>;
  struct Key {
    std::string name;
    xsup::dns::QType type;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  struct CacheEntry {
    Result result;
    std::chrono::steady_clock::time_point expires;
    std::list<Key>::iterator order;
  };
  struct Pending;
  struct Stats {
    std::size_t queries_sent = 0;
  };
  struct Outcome;

  // The lookup of one type through the cache, the in-flight table or the network.
  std::shared_ptr<Pending> start(const asio::any_io_executor& executor, const Key& key);
  static awaitable<Result> wait(std::shared_ptr<Pending> pending);
  // The network part runs detached, so a caller that gives up does not fail the others
  // waiting on the same lookup; it reaches back into the resolver only while `alive`.
  static awaitable<void> run(Resolver* self, std::weak_ptr<Stats> alive,
                             std::shared_ptr<const ResolverConfig> config, Key key,
                             std::shared_ptr<Pending> pending);
  static awaitable<Outcome> query_servers(const ResolverConfig& config, const Key& key,
                                          std::weak_ptr<Stats> alive);
  void store(const Key& key, const Result& result, std::chrono::seconds ttl);

  std::shared_ptr<const ResolverConfig> config_;
  std::unordered_map<Key, CacheEntry, KeyHash> cache_;
  std::list<Key> cache_order_;  // oldest first
  std::unordered_map<Key, std::shared_ptr<Pending>, KeyHash> in_flight_;
  std::shared_ptr<Stats> stats_;
};

}  // namespace xsup::worker::transport::dns
