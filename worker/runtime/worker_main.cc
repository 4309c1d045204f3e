#include "worker/runtime/worker_main.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/log.h"
#include "shared/config/loader.h"
#include "shared/ipc/channel.h"
#include "shared/ipc/frame.h"
#include "worker/core/traffic.h"
#include "worker/dispatch/router_adapter.h"
#include "worker/lockdown/lockdown.h"
#include "worker/proxy/user_directory.h"
#include "worker/runtime/server.h"
#include "worker/runtime/worker_protocol.h"
#include "worker/transport/dns/resolver.h"
#include "worker/transport/tls/context.h"

namespace xsup::worker::runtime {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// How long the worker waits for its bootstrap before giving up.
constexpr std::chrono::seconds kBootstrapTimeout{10};

void fail(const std::string& why) {
  std::fprintf(stderr, "xsup worker %d: %s\n", static_cast<int>(::getpid()), why.c_str());
}

class Worker {
 public:
  Worker(asio::io_context& io, ipc::Channel& channel, Server& server, const Bootstrap& boot)
      : io_(io), channel_(channel), server_(server), boot_(boot), timer_(io) {}

  // Reads messages from the supervisor until the channel ends or a stop; drains on EOF.
  asio::awaitable<void> serve_channel() {
    while (true) {
      auto message = co_await channel_.receive();
      if (!message) {
        // The supervisor is gone (DESIGN.md §1): drain with the configured limit.
        log::warning(0, "worker slot {}: supervisor channel closed ({}), draining", boot_.slot,
                     message.error().message());
        co_await drain(boot_.drain_timeout);
        co_return;
      }
      const json& body = message->body;
      auto allowed = boot_.test_triggers ? kWorkerAcceptsWithTriggers : kWorkerAccepts;
      if (auto ok = ipc::check_envelope(body, allowed); !ok) {
        // A supervisor that speaks nonsense is a bug there; this worker cannot trust it.
        fail("bad message from the supervisor: " + ok.error().message());
        std::_Exit(2);
      }
      std::string type = body.at("type");
      if (type == kDrain) {
        auto ms = body.value("timeout_ms", static_cast<std::int64_t>(0));
        co_await drain(std::chrono::milliseconds(ms));
        co_return;
      }
      if (type == kUsers) {
        auto set = users::user_set_from_json(body);
        if (!set) {
          fail("bad user set from the supervisor: " + set.error().message());
          std::_Exit(2);
        }
        std::uint64_t version = set->version;
        std::size_t count = set->users.size();
        std::size_t closed = proxy::user_directory().replace(std::move(*set));
        log::debug(0, "worker slot {}: users version {} ({} users), {} connections closed",
                   boot_.slot, version, count, closed);
        continue;
      }
      if (type == kAllowedIps) {
        const std::size_t closed =
            core::user_connections().set_allowed_ips(body.value("users", json::object()));
        if (closed > 0) {
          log::info(0, "worker slot {}: {} connections closed by users' IP limits", boot_.slot,
                    closed);
        }
        continue;
      }
      if (type == kStop) {
        server_.stop();
        co_return;
      }
      if (type == kTestExecve) {
        // Test-only (bootstrap.test_triggers): proves the sandbox kills a forbidden call.
        char* const args[] = {const_cast<char*>("/bin/true"), nullptr};
        ::execve("/bin/true", args, nullptr);
        fail(std::string("execve was not stopped by the sandbox: ") + std::strerror(errno));
      }
    }
  }

  asio::awaitable<void> heartbeat() {
    while (!stopping_) {
      if (!co_await send_stats()) co_return;
      json beat = ipc::make_message(kHeartbeat);
      beat["connections"] = server_.live_connections();
      auto sent = co_await channel_.send(beat);
      if (!sent) co_return;
      timer_.expires_after(kHeartbeatInterval);
      auto [ec] = co_await timer_.async_wait(kTuple);
      if (ec) co_return;
    }
  }

 private:
  // Sends the traffic since the last report, and the client IPs of users with an IP limit
  // when they changed; false when the channel is gone.
  asio::awaitable<bool> send_stats() {
    json ips = core::user_connections().take_ip_report();
    if (!ips.is_null()) {
      json message = ipc::make_message(kIps);
      message["users"] = std::move(ips);
      auto sent = co_await channel_.send(message);
      if (!sent) co_return false;
    }
    json deltas = core::traffic_table().take_deltas();
    if (deltas.empty()) co_return true;
    json message = ipc::make_message(kStats);
    for (auto& [key, value] : deltas.items()) message[key] = std::move(value);
    auto sent = co_await channel_.send(message);
    co_return static_cast<bool>(sent);
  }

  // Stops accepting, lets live connections finish up to `limit`, then cancels the rest.
  asio::awaitable<void> drain(std::chrono::milliseconds limit) {
    stopping_ = true;
    timer_.cancel();
    server_.stop_accepting();
    auto deadline = Clock::now() + limit;
    asio::steady_timer poll(io_);
    while (server_.live_connections() > 0 && Clock::now() < deadline) {
      poll.expires_after(std::chrono::milliseconds(50));
      co_await poll.async_wait(kTuple);
    }
    if (server_.live_connections() > 0) {
      log::info(0, "worker slot {}: drain limit reached, closing {} connections", boot_.slot,
                server_.live_connections());
    }
    server_.stop();
    // The last traffic: cancelled connections unwind first, then their bytes are reported.
    poll.expires_after(std::chrono::milliseconds(10));
    co_await poll.async_wait(kTuple);
    co_await send_stats();
    std::error_code ec;
    channel_.socket().close(ec);
  }

  asio::io_context& io_;
  ipc::Channel& channel_;
  Server& server_;
  const Bootstrap& boot_;
  asio::steady_timer timer_;
  bool stopping_ = false;
};

}  // namespace

int worker_main(int argc, char** argv) {
  int channel_fd = -1;
  for (int i = 0; i + 1 < argc; ++i) {
    if (std::string_view(argv[i]) == "--channel-fd") channel_fd = std::atoi(argv[i + 1]);
  }
  if (channel_fd < 0) {
    std::fputs("xsup worker: started by the supervisor only (--channel-fd N)\n", stderr);
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  // The supervisor owns SIGINT/SIGTERM handling for the whole group: a terminal's Ctrl-C
  // reaches it, and it drains the workers.
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);

  auto received = ipc::receive_blocking(channel_fd, kBootstrapTimeout);
  if (!received) {
    fail("no bootstrap: " + received.error().message());
    return 1;
  }
  auto boot = parse_bootstrap(*received);
  if (!boot) {
    fail("bad bootstrap: " + boot.error().message());
    return 1;
  }
  config::LoadResult loaded = config::build(boot->config);
  if (!loaded.ok()) {
    fail("bootstrap config does not build: " + loaded.errors().front().to_string());
    return 1;
  }
  const config::Config& cfg = loaded.config;
  try {
    log::Options log_options = boot->log;
    log::configure(log_options);
    std::vector<int> keep = {0, 1, 2, channel_fd};
    for (int fd : log::open_fds()) keep.push_back(fd);
    for (const auto& l : boot->listeners) {
      if (l.tcp) keep.push_back(l.tcp.get());
      if (l.udp) keep.push_back(l.udp.get());
    }
    lockdown::LockdownOptions options;
    options.user = boot->user;
    options.mode = boot->sandbox;
    options.keep_net_admin = boot->keep_net_admin;
    // Workers never open files once locked down: geo data is read now, and the random
    // sources initialise now (OpenSSL reads its config file, std::random_device may open
    // /dev/urandom).
    dispatch::preload_assets(cfg);
    // TLS contexts read the system roots from disk.
    transport::tls::prepare(cfg);
    // masterKeyLog files stay open for the worker's life (opened by prepare()).
    for (int fd : transport::tls::key_log_fds()) keep.push_back(fd);
    std::uint8_t warm[16];
    if (RAND_bytes(warm, sizeof warm) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
    (void)core::Session::next_id();
    ::tzset();  // log time stamps read /etc/localtime once, now

    lockdown::lock_down(options, keep);
    core::traffic_table().enabled = boot->stats;
    proxy::user_directory().replace(std::move(boot->users));
    transport::dns::Resolver::configure(boot->resolver);

    asio::io_context io(1);
    Server server(io, cfg, std::move(boot->listeners));
    asio::local::stream_protocol::socket socket(io);
    socket.assign(asio::local::stream_protocol(), channel_fd);
    ipc::Channel channel(std::move(socket));
    Worker worker(io, channel, server, *boot);
    server.start(/*announce=*/false);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          json ready = ipc::make_message(kReady);
          ready["pid"] = ::getpid();
          ready["generation"] = boot->generation;
          ready["slot"] = boot->slot;
          co_await channel.send(ready);
          asio::co_spawn(io, worker.heartbeat(), asio::detached);
          co_await worker.serve_channel();
        },
        [](std::exception_ptr e) {
          if (e) fail("channel loop ended by an exception");
        });
    io.run();
    if (server.live_connections() > 0) {
      std::fflush(nullptr);
      std::_Exit(0);
    }
  } catch (const std::exception& e) {
    fail(e.what());
    return 1;
  }
  return 0;
}

}  // namespace xsup::worker::runtime
