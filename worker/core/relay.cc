#include "worker/core/relay.h"

#include <fcntl.h>
#include <unistd.h>

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>

#include "worker/core/buffer_pool.h"

namespace xsup::worker::core {
namespace {

using Clock = std::chrono::steady_clock;
using namespace asio::experimental::awaitable_operators;

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Bytes moved per splice(2) call and the pipe size asked for: larger means fewer calls.
constexpr std::size_t kSpliceChunk = 1 << 20;
constexpr int kPipeSize = 1 << 20;

bool is_eof(const std::error_code& ec) { return ec == asio::error::eof; }

// A pipe for one spliced direction; closed with it.
struct Pipe {
  int read_fd = -1;
  int write_fd = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0) {
      read_fd = fds[0];
      write_fd = fds[1];
      ::fcntl(write_fd, F_SETPIPE_SZ, kPipeSize);  // best effort; 64 KiB otherwise
    }
  }
  ~Pipe() {
    if (read_fd >= 0) ::close(read_fd);
    if (write_fd >= 0) ::close(write_fd);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool ok() const { return read_fd >= 0; }
};

class Relay {
 public:
  Relay(Stream& client, Stream& server, const Policy& policy, TrafficCells traffic)
      : client_(client),
        server_(server),
        policy_(policy),
        traffic_(traffic),
        timer_(client.get_executor()),
        timeout_(policy.conn_idle),
        last_activity_(Clock::now()) {}

  awaitable<RelayResult> run(std::span<const std::uint8_t> first_uplink) {
    if (!first_uplink.empty()) {
      std::error_code ec =
          co_await server_.write_all(asio::buffer(first_uplink.data(), first_uplink.size()));
      if (ec) {
        fail(ec, "uplink error");
        co_return result_;
      }
      result_.uplink += first_uplink.size();
      traffic_.add(true, first_uplink.size());
      relay_counters().copied_bytes += first_uplink.size();
    }
    co_await ((pump(client_, server_, true) && pump(server_, client_, false)) || watchdog());
    co_return result_;
  }

 private:
  void touch() { last_activity_ = Clock::now(); }

  void fail(std::error_code ec, std::string_view why) {
    if (!result_.error) {
      result_.error = ec;
      result_.ended_by = why;
    }
    client_.close();
    server_.close();
  }

  // One direction finished cleanly: pass the half-close on and shorten the idle limit
  // for the other direction (uplinkOnly / downlinkOnly).
  awaitable<void> finish(Stream& to, bool uplink) {
    co_await to.shutdown_send();
    if (--open_directions_ == 0) {
      if (result_.ended_by.empty()) result_.ended_by = "eof";
      timer_.cancel();
      co_return;
    }
    timeout_ = uplink ? policy_.downlink_only : policy_.uplink_only;
    touch();
    timer_.cancel();  // re-arm the watchdog with the new limit
  }

  awaitable<void> pump(Stream& from, Stream& to, bool uplink) {
    int in_fd = from.splice_fd();
    int out_fd = to.splice_fd();
    if (in_fd >= 0 && out_fd >= 0) {
      Pipe pipe;
      if (pipe.ok()) {
        co_await splice_pump(from, to, in_fd, out_fd, pipe, uplink);
        co_return;
      }
    }
    co_await copy_pump(from, to, uplink);
  }

  awaitable<void> copy_pump(Stream& from, Stream& to, bool uplink) {
    std::uint64_t& counter = uplink ? result_.uplink : result_.downlink;
    BufferPool& pool = BufferPool::local();
    bool more_pending = false;
    while (true) {
      if (!more_pending) {
        // Wait without a buffer, so an idle connection holds none.
        std::error_code ec = co_await from.wait_readable();
        if (ec) {
          fail(ec, uplink ? "uplink error" : "downlink error");
          co_return;
        }
      }
      Buffer buffer = pool.acquire();
      auto [ec, n] = co_await from.read_some(asio::buffer(buffer.data(), buffer.capacity()));
      if (ec) {
        if (is_eof(ec)) {
          co_await finish(to, uplink);
        } else {
          fail(ec, uplink ? "uplink error" : "downlink error");
        }
        co_return;
      }
      touch();
      counter += n;
      traffic_.add(uplink, n);
      relay_counters().copied_bytes += n;
      more_pending = n == buffer.capacity();
      std::error_code wec = co_await to.write_all(asio::buffer(buffer.data(), n));
      if (wec) {
        fail(wec, uplink ? "uplink error" : "downlink error");
        co_return;
      }
      touch();
      // A stream that was framing its first bytes (a client header, a prefetched
      // prefix) may have become plain TCP: splice the rest.
      const int in_fd = from.splice_fd();
      const int out_fd = to.splice_fd();
      if (in_fd >= 0 && out_fd >= 0) {
        Pipe pipe;
        if (pipe.ok()) {
          co_await splice_pump(from, to, in_fd, out_fd, pipe, uplink);
          co_return;
        }
      }
    }
  }

  awaitable<void> splice_pump(Stream& from, Stream& to, int in_fd, int out_fd, Pipe& pipe,
                              bool uplink) {
    std::uint64_t& counter = uplink ? result_.uplink : result_.downlink;
    const char* why = uplink ? "uplink error" : "downlink error";
    result_.spliced = true;
    ++relay_counters().spliced_directions;
    while (true) {
      ssize_t n = ::splice(in_fd, nullptr, pipe.write_fd, nullptr, kSpliceChunk,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n == 0) {
        co_await finish(to, uplink);
        co_return;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
          fail(std::error_code(errno, std::system_category()), why);
          co_return;
        }
        std::error_code ec = co_await from.wait_readable();
        if (ec) {
          fail(ec, why);
          co_return;
        }
        continue;
      }
      touch();
      std::size_t in_pipe = static_cast<std::size_t>(n);
      while (in_pipe > 0) {
        ssize_t m = ::splice(pipe.read_fd, nullptr, out_fd, nullptr, in_pipe,
                             SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (m > 0) {
          in_pipe -= static_cast<std::size_t>(m);
          counter += static_cast<std::uint64_t>(m);
          traffic_.add(uplink, static_cast<std::uint64_t>(m));
          relay_counters().spliced_bytes += static_cast<std::uint64_t>(m);
          touch();
          continue;
        }
        if (m < 0 && errno == EINTR) continue;
        if (m < 0 && errno == EAGAIN) {
          std::error_code ec = co_await to.wait_writable();
          if (ec) {
            fail(ec, why);
            co_return;
          }
          continue;
        }
        fail(m == 0 ? make_error_code(asio::error::eof)
                    : std::error_code(errno, std::system_category()),
             why);
        co_return;
      }
    }
  }

  awaitable<void> watchdog() {
    while (open_directions_ > 0) {
      auto deadline = last_activity_ + timeout_;
      if (Clock::now() >= deadline) {
        fail(make_error_code(asio::error::timed_out),
             open_directions_ == 2 ? "idle timeout" : "half-closed timeout");
        co_return;
      }
      timer_.expires_at(deadline);
      co_await timer_.async_wait(kTuple);  // cancelled when the limit changes or all ends
    }
  }

  Stream& client_;
  Stream& server_;
  const Policy& policy_;
  TrafficCells traffic_;
  asio::steady_timer timer_;
  Clock::duration timeout_;
  Clock::time_point last_activity_;
  int open_directions_ = 2;
  RelayResult result_;
};

}  // namespace

RelayCounters& relay_counters() {
  static thread_local RelayCounters counters;
  return counters;
}

awaitable<RelayResult> relay(Stream& client, Stream& server,
                             std::span<const std::uint8_t> first_uplink, const Policy& policy,
                             TrafficCells traffic) {
  Relay r(client, server, policy, traffic);
  co_return co_await r.run(first_uplink);
}

}  // namespace xsup::worker::core
