// The stub resolver against a fake nameserver on 127.0.0.1 in the same io_context: what
// a dialer gets back for A, AAAA and both, local answers, retries, timeouts, the cache,
// merged lookups, and replies that must be ignored.

#include "worker/transport/dns/resolver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace xsup::worker::transport::dns {
namespace {

using asio::ip::tcp;
using asio::ip::udp;
using Addresses = std::vector<asio::ip::address>;
using Result = Expected<Addresses>;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

// Answers queries from a table; can misbehave in the ways a resolver must survive.
class FakeDns {
 public:
  explicit FakeDns(asio::io_context& io) : socket_(io), acceptor_(io) {
    // UDP and TCP on one port: the UDP port the kernel picks may be taken for TCP by
    // another test running at the same time, so try a few.
    for (int attempt = 0; attempt < 50; ++attempt) {
      std::error_code ec;
      socket_ = udp::socket(io, udp::endpoint(ip("127.0.0.1"), 0));
      acceptor_ = tcp::acceptor(io);
      acceptor_.open(tcp::v4(), ec);
      if (!ec) acceptor_.bind(tcp::endpoint(ip("127.0.0.1"), port()), ec);
      if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
      if (!ec) break;
      if (attempt == 49) throw std::system_error(ec, "bind");
    }
    auto rethrow = [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    };
    asio::co_spawn(io, serve(), rethrow);
    asio::co_spawn(io, serve_tcp(), rethrow);
  }
  ~FakeDns() { close(); }
  void close() {
    std::error_code ec;
    socket_.close(ec);
    acceptor_.close(ec);
  }

  std::uint16_t port() const { return socket_.local_endpoint().port(); }

  std::map<std::pair<std::string, std::uint16_t>, Addresses> table;
  std::set<std::string> nxdomain;
  int drop_first = 0;           // ignore this many queries
  bool wrong_id_first = false;  // send a reply with another id (and a bad address) first
  bool wrong_name_first = false;
  bool reject_edns = false;
  bool truncate_udp = false;  // answer UDP with TC=1 and nothing else: the full answer is on TCP
  int tcp_queries = 0;        // answer FORMERR to a query with an OPT record, as old servers do
  std::uint32_t ttl = 300;
  int queries = 0;

 private:
  asio::awaitable<void> serve() {
    std::array<std::uint8_t, 1500> buffer;
    for (;;) {
      udp::endpoint from;
      auto [ec, n] = co_await socket_.async_receive_from(asio::buffer(buffer), from, kTuple);
      if (ec) co_return;
      ++queries;
      if (drop_first > 0) {
        --drop_first;
        continue;
      }
      auto replies = answer(std::span<const std::uint8_t>(buffer.data(), n), true);
      for (const auto& out : replies) {
        co_await socket_.async_send_to(asio::buffer(out), from, kTuple);
      }
    }
  }

  asio::awaitable<void> serve_tcp() {
    for (;;) {
      auto [ec, peer] = co_await acceptor_.async_accept(kTuple);
      if (ec) co_return;
      std::array<std::uint8_t, 2> length{};
      auto [rec, rn] = co_await asio::async_read(peer, asio::buffer(length), kTuple);
      if (rec) continue;
      std::vector<std::uint8_t> query(static_cast<std::size_t>((length[0] << 8) | length[1]));
      auto [qec, qn] = co_await asio::async_read(peer, asio::buffer(query), kTuple);
      if (qec) continue;
      ++tcp_queries;
      auto out = frame(answer(query, false).back());
      co_await asio::async_write(peer, asio::buffer(out), kTuple);
    }
  }

  static std::vector<std::uint8_t> frame(const std::vector<std::uint8_t>& message) {
    std::vector<std::uint8_t> out(2);
    out[0] = static_cast<std::uint8_t>(message.size() >> 8);
    out[1] = static_cast<std::uint8_t>(message.size() & 0xff);
    out.insert(out.end(), message.begin(), message.end());
    return out;
  }

  // The datagrams to send back for one query, in order (g++ 12 cannot keep initializer
  // lists in coroutine frames, so this is a plain function).
  std::vector<std::vector<std::uint8_t>> answer(std::span<const std::uint8_t> query, bool udp) {
    // The question: uncompressed labels from offset 12, then QTYPE and QCLASS.
    std::size_t pos = 12;
    std::string name;
    while (pos < query.size() && query[pos] != 0) {
      if (!name.empty()) name += '.';
      name.append(reinterpret_cast<const char*>(&query[pos + 1]), query[pos]);
      pos += query[pos] + 1;
    }
    const auto qtype = static_cast<std::uint16_t>((query[pos + 1] << 8) | query[pos + 2]);
    const auto id = static_cast<std::uint16_t>((query[0] << 8) | query[1]);
    const std::vector<std::uint8_t> question(query.begin() + 12,
                                             query.begin() + static_cast<long>(pos + 5));
    std::vector<std::vector<std::uint8_t>> out;
    if (wrong_id_first) {
      wrong_id_first = false;
      out.push_back(reply(static_cast<std::uint16_t>(id ^ 0x5555), question, qtype, 0,
                          {ip("6.6.6.6"), ip("::6")}));
    }
    if (wrong_name_first) {
      wrong_name_first = false;
      std::vector<std::uint8_t> other{5, 'o', 't', 'h', 'e', 'r', 0, 0, 1, 0, 1};
      other[8] = static_cast<std::uint8_t>(qtype);
      out.push_back(reply(id, other, qtype, 0, {ip("6.6.6.6"), ip("::6")}));
    }
    if (reject_edns && query[11] != 0) {
      out.push_back(reply(id, question, qtype, 1, {}));
      return out;
    }
    if (udp && truncate_udp) {
      out.push_back(reply(id, question, qtype, 0, {}));
      out.back()[2] |= 0x02;  // TC: the answer did not fit (RFC 1035 §4.1.1)
      return out;
    }
    if (nxdomain.count(name)) {
      out.push_back(reply(id, question, qtype, 3, {}));
      return out;
    }
    auto it = table.find({name, qtype});
    out.push_back(reply(id, question, qtype, 0, it == table.end() ? Addresses{} : it->second));
    return out;
  }

  std::vector<std::uint8_t> reply(std::uint16_t id, const std::vector<std::uint8_t>& question,
                                  std::uint16_t qtype, std::uint8_t rcode, const Addresses& all) {
    Addresses answers;
    for (const auto& a : all) {
      if ((a.is_v4() ? 1 : 28) == qtype) answers.push_back(a);
    }
    std::vector<std::uint8_t> out{static_cast<std::uint8_t>(id >> 8),
                                  static_cast<std::uint8_t>(id & 0xff),
                                  0x81,
                                  static_cast<std::uint8_t>(0x80 | rcode),
                                  0,
                                  1,
                                  0,
                                  static_cast<std::uint8_t>(answers.size()),
                                  0,
                                  0,
                                  0,
                                  0};
    out.insert(out.end(), question.begin(), question.end());
    for (const auto& a : answers) {
      const std::uint16_t type = a.is_v4() ? 1 : 28;
      out.insert(
          out.end(),
          {0xC0, 12, 0, static_cast<std::uint8_t>(type), 0, 1, static_cast<std::uint8_t>(ttl >> 24),
           static_cast<std::uint8_t>(ttl >> 16), static_cast<std::uint8_t>(ttl >> 8),
           static_cast<std::uint8_t>(ttl), 0, static_cast<std::uint8_t>(a.is_v4() ? 4 : 16)});
      if (a.is_v4()) {
        auto b = a.to_v4().to_bytes();
        out.insert(out.end(), b.begin(), b.end());
      } else {
        auto b = a.to_v6().to_bytes();
        out.insert(out.end(), b.begin(), b.end());
      }
    }
    return out;
  }

  udp::socket socket_;
  tcp::acceptor acceptor_;
};

struct ResolverTest : ::testing::Test {
  asio::io_context io;
  FakeDns server{io};

  ResolverConfig config(std::chrono::milliseconds timeout = std::chrono::milliseconds(200),
                        int attempts = 2) {
    ResolverConfig c;
    c.nameservers = {ip("127.0.0.1")};
    c.port = server.port();
    c.timeout = timeout;
    c.attempts = attempts;
    return c;
  }

  // Runs the io_context until every given lookup has finished.
  std::vector<Result> run(Resolver& resolver, std::vector<std::pair<std::string, Family>> asks) {
    std::vector<std::optional<Result>> results(asks.size());
    std::size_t done = 0;
    for (std::size_t i = 0; i < asks.size(); ++i) {
      asio::co_spawn(
          io,
          [&, i]() -> asio::awaitable<void> {
            results[i] = co_await resolver.resolve(asks[i].first, asks[i].second);
            if (++done == asks.size()) io.stop();
          },
          [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
          });
    }
    io.restart();
    io.run_for(std::chrono::seconds(10));
    std::vector<Result> out;
    for (auto& r : results) {
      if (!r) {
        ADD_FAILURE() << "lookup did not finish";
        out.emplace_back(base::Error(base::Errc::kTimeout, "test: not finished"));
      } else {
        out.push_back(std::move(*r));
      }
    }
    return out;
  }
  Result resolve(Resolver& resolver, std::string name, Family want) {
    return std::move(run(resolver, {{std::move(name), want}})[0]);
  }
};

TEST_F(ResolverTest, AAaaaAndBoth) {
  server.table[{"example.test", 1}] = {ip("192.0.2.1"), ip("192.0.2.2")};
  server.table[{"example.test", 28}] = {ip("2001:db8::1")};
  Resolver resolver(config());

  auto v4 = resolve(resolver, "Example.Test.", Family::kV4);
  ASSERT_TRUE(v4) << v4.error().message();
  EXPECT_EQ(*v4, (Addresses{ip("192.0.2.1"), ip("192.0.2.2")}));

  Resolver fresh(config());
  auto v6 = resolve(fresh, "example.test", Family::kV6);
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_EQ(*v6, (Addresses{ip("2001:db8::1")}));

  Resolver both_resolver(config());
  const int before = server.queries;
  auto both = resolve(both_resolver, "example.test", Family::kBoth);
  ASSERT_TRUE(both) << both.error().message();
  EXPECT_EQ(*both, (Addresses{ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1")}));
  EXPECT_EQ(server.queries - before, 2);
}

TEST_F(ResolverTest, BothWithOnlyOneFamilyGivesThatFamily) {
  server.table[{"v4only.test", 1}] = {ip("192.0.2.9")};
  Resolver resolver(config());
  auto both = resolve(resolver, "v4only.test", Family::kBoth);
  ASSERT_TRUE(both) << both.error().message();
  EXPECT_EQ(*both, (Addresses{ip("192.0.2.9")}));
  auto v6 = resolve(resolver, "v4only.test", Family::kV6);
  ASSERT_FALSE(v6);
  EXPECT_TRUE(v6.error().is(base::Errc::kResolveFailed));
}

TEST_F(ResolverTest, LiteralsLocalhostAndHostsNeedNoNetwork) {
  auto c = config();
  c.hosts.emplace("printer.lan", ip("10.0.0.7"));
  c.hosts.emplace("printer.lan", ip("fd00::7"));
  Resolver resolver(c);
  EXPECT_EQ(*resolve(resolver, "203.0.113.5", Family::kV6), (Addresses{ip("203.0.113.5")}));
  EXPECT_EQ(*resolve(resolver, "::1", Family::kV4), (Addresses{ip("::1")}));
  EXPECT_EQ(*resolve(resolver, "localhost", Family::kBoth),
            (Addresses{ip("127.0.0.1"), ip("::1")}));
  EXPECT_EQ(*resolve(resolver, "a.LOCALHOST.", Family::kV4), (Addresses{ip("127.0.0.1")}));
  EXPECT_EQ(*resolve(resolver, "Printer.Lan", Family::kBoth),
            (Addresses{ip("10.0.0.7"), ip("fd00::7")}));
  EXPECT_EQ(*resolve(resolver, "printer.lan", Family::kV6), (Addresses{ip("fd00::7")}));
  EXPECT_EQ(resolver.queries_sent(), 0u);
  EXPECT_EQ(server.queries, 0);
}

TEST_F(ResolverTest, InvalidNamesFailWithoutNetwork) {
  Resolver resolver(config());
  for (const char* bad : {"", ".", "a..b", "bad name.test", "x\x01y.test"}) {
    auto r = resolve(resolver, bad, Family::kV4);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().is(base::Errc::kResolveFailed));
  }
  EXPECT_EQ(server.queries, 0);
}

TEST_F(ResolverTest, RetriesAfterADroppedQuery) {
  server.table[{"flaky.test", 1}] = {ip("192.0.2.3")};
  server.drop_first = 1;
  Resolver resolver(config(std::chrono::milliseconds(100)));
  auto r = resolve(resolver, "flaky.test", Family::kV4);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (Addresses{ip("192.0.2.3")}));
  EXPECT_EQ(server.queries, 2);
}

TEST_F(ResolverTest, SilentServerTimesOutAfterAllAttempts) {
  server.drop_first = 1000;
  Resolver resolver(config(std::chrono::milliseconds(100), 3));
  const auto start = Clock::now();
  auto r = resolve(resolver, "silent.test", Family::kBoth);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(base::Errc::kResolveFailed));
  EXPECT_EQ(r.error().reason, "dns: no answer from any nameserver");
  // Three attempts of 100 ms, A and AAAA in parallel.
  EXPECT_GE(elapsed, std::chrono::milliseconds(290));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1000));
  EXPECT_EQ(server.queries, 6);
}

TEST_F(ResolverTest, SecondServerAnswersWhenTheFirstIsDown) {
  server.table[{"two.test", 1}] = {ip("192.0.2.4")};
  auto c = config(std::chrono::milliseconds(300), 1);
  // 127.0.0.2 has nobody on the port: ICMP unreachable ends that exchange early.
  c.nameservers = {ip("127.0.0.2"), ip("127.0.0.1")};
  Resolver resolver(c);
  auto r = resolve(resolver, "two.test", Family::kV4);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (Addresses{ip("192.0.2.4")}));
  EXPECT_EQ(resolver.queries_sent(), 2u);
}

TEST_F(ResolverTest, FormErrToEdnsRetriesWithoutIt) {
  server.table[{"old.test", 1}] = {ip("192.0.2.10")};
  server.reject_edns = true;
  Resolver resolver(config());
  auto r = resolve(resolver, "old.test", Family::kV4);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (Addresses{ip("192.0.2.10")}));
  EXPECT_EQ(server.queries, 2);
}

TEST_F(ResolverTest, TruncatedAnswerIsAskedAgainOverTcp) {
  server.table[{"big.test", 28}] = {ip("2001:db8::a"), ip("2001:db8::b")};
  server.truncate_udp = true;
  Resolver resolver(config());
  auto r = resolve(resolver, "big.test", Family::kV6);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (Addresses{ip("2001:db8::a"), ip("2001:db8::b")}));
  EXPECT_EQ(server.queries, 1);
  EXPECT_EQ(server.tcp_queries, 1);
}

TEST_F(ResolverTest, NxDomainIsAnErrorAndIsCached) {
  server.nxdomain.insert("nope.test");
  Resolver resolver(config());
  auto r = resolve(resolver, "nope.test", Family::kV4);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(base::Errc::kResolveFailed));
  EXPECT_EQ(r.error().reason, "dns: no such domain");
  auto again = resolve(resolver, "NOPE.test", Family::kV4);
  ASSERT_FALSE(again);
  EXPECT_EQ(server.queries, 1);
}

TEST_F(ResolverTest, CacheAnswersTheSecondResolve) {
  server.table[{"cached.test", 1}] = {ip("192.0.2.5")};
  Resolver resolver(config());
  auto first = resolve(resolver, "cached.test", Family::kV4);
  auto second = resolve(resolver, "cached.test.", Family::kV4);
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, (Addresses{ip("192.0.2.5")}));
  EXPECT_EQ(server.queries, 1);
}

TEST_F(ResolverTest, CacheIsBoundedAndForgetsTheOldestFirst) {
  Resolver resolver(config());
  const std::size_t names = Resolver::kMaxCacheEntries + 1;
  // In batches, so the lookups in flight stay well under the descriptor limit.
  for (std::size_t first = 0; first < names; first += 64) {
    std::vector<std::pair<std::string, Family>> batch;
    for (std::size_t i = first; i < std::min(names, first + 64); ++i) {
      batch.emplace_back("n" + std::to_string(i) + ".test", Family::kV4);
    }
    for (auto& r : run(resolver, batch)) EXPECT_FALSE(r);  // cached as "no data"
  }
  ASSERT_EQ(server.queries, static_cast<int>(names));
  (void)resolve(resolver, "n" + std::to_string(names - 1) + ".test", Family::kV4);
  EXPECT_EQ(server.queries, static_cast<int>(names));  // the newest is still cached
  (void)resolve(resolver, "n0.test", Family::kV4);
  EXPECT_EQ(server.queries, static_cast<int>(names) + 1);  // the oldest was evicted
}

TEST_F(ResolverTest, ZeroTtlIsNotCached) {
  server.table[{"fresh.test", 1}] = {ip("192.0.2.6")};
  server.ttl = 0;
  Resolver resolver(config());
  ASSERT_TRUE(resolve(resolver, "fresh.test", Family::kV4));
  ASSERT_TRUE(resolve(resolver, "fresh.test", Family::kV4));
  EXPECT_EQ(server.queries, 2);
}

TEST_F(ResolverTest, ConcurrentLookupsOfOneNameShareAQuery) {
  server.table[{"popular.test", 1}] = {ip("192.0.2.7")};
  Resolver resolver(config());
  auto results = run(resolver, {{"popular.test", Family::kV4},
                                {"Popular.Test", Family::kV4},
                                {"popular.test", Family::kV4}});
  for (auto& r : results) {
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, (Addresses{ip("192.0.2.7")}));
  }
  EXPECT_EQ(server.queries, 1);
  EXPECT_EQ(resolver.queries_sent(), 1u);
}

TEST_F(ResolverTest, RepliesWithAnotherIdOrQuestionAreIgnored) {
  server.table[{"real.test", 1}] = {ip("192.0.2.8")};
  server.wrong_id_first = true;
  server.wrong_name_first = true;
  Resolver resolver(config());
  auto r = resolve(resolver, "real.test", Family::kV4);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (Addresses{ip("192.0.2.8")}));
  EXPECT_EQ(server.queries, 1);
}

TEST_F(ResolverTest, ResolverOutlivedByItsLookupIsHarmless) {
  server.drop_first = 1000;
  {
    Resolver resolver(config(std::chrono::milliseconds(50), 1));
    asio::co_spawn(
        io,
        [&resolver]() -> asio::awaitable<void> {
          (void)co_await resolver.resolve("gone.test", Family::kV4);
        },
        asio::detached);
    io.run_for(std::chrono::milliseconds(10));
  }
  io.restart();
  io.run_for(std::chrono::milliseconds(150));  // the orphaned lookup times out quietly
  SUCCEED();
}

TEST(ResolverLocal, UsesTheConfiguredSettings) {
  ResolverConfig c;
  c.nameservers = {ip("127.0.0.1")};
  c.hosts.emplace("configured.lan", ip("10.1.2.3"));
  Resolver::configure(c);
  asio::io_context io;
  std::optional<Result> result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        result = co_await Resolver::local().resolve("configured.lan", Family::kV4);
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(result && *result);
  EXPECT_EQ(**result, (Addresses{ip("10.1.2.3")}));
  EXPECT_EQ(&Resolver::local(), &Resolver::local());
}

}  // namespace
}  // namespace xsup::worker::transport::dns
