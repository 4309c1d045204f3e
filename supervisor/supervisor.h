#pragma once
// The supervisor (DESIGN.md §1): owns the configuration, the listening sockets and the
// control socket; forks and execs N sandboxed workers per generation, restarts a crashed
// one in its slot with backoff, and reloads nginx's way: validate fully, keep listeners by
// key, start a new generation, wait until every worker is ready, then drain the old one.

#include <sys/types.h>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "shared/base/error.h"
#include "shared/config/loader.h"
#include "shared/ipc/channel.h"
#include "supervisor/listeners/listener_set.h"
#include "supervisor/stats/stats.h"
#include "supervisor/store/store.h"
#include "supervisor/users/ip_limits.h"
#include "supervisor/users/users.h"
#include "worker/lockdown/lockdown.h"

namespace xsup::supervisor {

struct SupervisorOptions {
  std::vector<std::string> files;  // -c files; empty with no confdir = the quick-start config
  std::string confdir;
  std::string control_path;  // --control; "" = the config's xsup.controlSocket
  worker::lockdown::SandboxMode sandbox = worker::lockdown::SandboxMode::kKill;
  bool test_triggers = false;  // accept debug.* control methods (tests only)
};

// Why an operation was refused: one line per problem, each naming its JSON path.
struct Refusal {
  std::string message;
};

class Supervisor {
 public:
  Supervisor(asio::io_context& io, SupervisorOptions options);
  ~Supervisor();

  // Loads and checks the configuration, binds, starts generation 1 and waits until it is
  // ready. An error says why, and nothing is left running.
  // `on_bound` runs once the listeners are bound, before the workers are ready (the
  // control socket opens there, so `xsup status` works during start-up).
  asio::awaitable<std::optional<Refusal>> start(std::function<void()> on_bound);
  // Reload with `files` (none = the files it was started with). The answer summarises
  // the new generation, or the error while the running one goes on serving.
  asio::awaitable<base::Expected<nlohmann::json, Refusal>> reload(
      std::optional<std::vector<std::string>> files);
  // Drains every worker (up to the drain timeout) and ends run().
  asio::awaitable<void> stop();
  nlohmann::json status() const;
  // After stop(): closes every channel and timer so pending coroutines can unwind.
  void close_all();
  // The users and stats methods of the control API ("user.add", "user.list", "stats", …):
  // the answer, or why the call was refused.
  base::Expected<nlohmann::json, Refusal> manage(const std::string& method,
                                                 const nlohmann::json& params);
  // For tests: makes the worker in `slot` call execve, which the sandbox must kill.
  std::optional<Refusal> trigger_execve(unsigned slot);

  bool stopped() const { return stopped_; }
  bool stopping() const { return stopping_; }
  const std::string& control_path() const { return control_path_; }
  bool test_triggers() const { return options_.test_triggers; }

 private:
  struct Loaded;
  struct Worker;
  struct Generation;

  base::Expected<std::unique_ptr<Loaded>, Refusal> load(const std::vector<std::string>& files,
                                                        const std::string& confdir) const;
  // Creates a generation on `listeners`, starts its workers and waits until all are ready.
  asio::awaitable<base::Expected<std::uint64_t, Refusal>> start_generation(
      std::shared_ptr<Loaded> loaded, std::shared_ptr<listeners::ListenerSet> listeners);
  std::optional<Refusal> spawn(Generation& generation, unsigned slot, unsigned restarts);
  asio::awaitable<void> read_worker(std::shared_ptr<Worker> worker);
  asio::awaitable<bool> wait_ready(std::uint64_t generation, std::chrono::milliseconds limit);
  void drain_generation(Generation& generation);
  void on_child_exit(pid_t pid, int status);
  asio::awaitable<void> reap_loop();
  asio::awaitable<void> watchdog_loop();
  void respawn_later(std::uint64_t generation, unsigned slot, unsigned restarts);
  void kill_generation(std::uint64_t generation);
  // Opens the store and reads users and totals (start-up).
  std::optional<Refusal> open_store(const Loaded& loaded);
  // Sends the current user set to every live worker.
  void push_users();
  // Recomputes the users' allowed IPs and, when they changed, sends them to every worker.
  void update_ip_limits();
  void send_allowed_ips(const std::shared_ptr<Worker>& worker,
                        std::shared_ptr<const nlohmann::json> body);
  void on_stats(const nlohmann::json& message);
  // Disables expired and over-quota users (and pushes) — every second and on new traffic.
  void enforce_limits();
  asio::awaitable<void> stats_loop();
  void flush_stats();
  nlohmann::json user_with_traffic(const std::string& email) const;

  asio::io_context& io_;
  SupervisorOptions options_;
  std::string control_path_;
  std::shared_ptr<Loaded> current_;
  std::shared_ptr<listeners::ListenerSet> listeners_;
  std::map<std::uint64_t, std::unique_ptr<Generation>> generations_;
  std::uint64_t generation_ = 0;                    // the last one started
  std::uint64_t current_generation_ = 0;            // the one serving (ready)
  std::vector<std::chrono::milliseconds> backoff_;  // per slot
  asio::signal_set children_;
  asio::steady_timer watchdog_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<users::UserBook> users_;
  std::unique_ptr<stats::Stats> stats_;
  users::IpLimits ip_limits_;
  asio::steady_timer stats_timer_;
  // Kill and respawn timers, cancelled by close_all so the loop can run dry.
  std::vector<std::weak_ptr<asio::steady_timer>> timers_;
  std::chrono::steady_clock::time_point next_flush_;
  std::chrono::steady_clock::time_point next_rollup_;
  bool reloading_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace xsup::supervisor
