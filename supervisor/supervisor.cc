#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/use_awaitable.hpp>
#include <cstring>
#include <limits>
#include <thread>

#include "shared/base/log.h"
#include "shared/dns/system_files.h"
#include "shared/ipc/frame.h"
#include "shared/users/user_set.h"
#include "supervisor/config_check.h"
#include "supervisor/systemd/notify.h"
#include "worker/runtime/worker_protocol.h"

namespace xsup::supervisor {

namespace cli {
extern const std::string_view kQuickstartConfig;
}

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace rt = worker::runtime;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// A new generation must report ready within this, or the reload is refused.
constexpr std::chrono::seconds kReadyLimit{10};
// Respawn backoff per slot (DESIGN.md §1): doubles from the first to the last; a worker
// that lived longer than kStableAfter resets it.
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{10000};
constexpr std::chrono::seconds kStableAfter{10};
// After the drain limit, stragglers get this long before SIGKILL.
constexpr std::chrono::seconds kKillGrace{5};

// `task` is an awaitable, or a callable returning one. Pass lambdas UNCALLED: asio keeps
// the closure alive in the coroutine, whereas `[w]() -> awaitable<void> {...}()` would leave
// the coroutine reading captures of a destroyed temporary.
template <class Task>
void spawn_detached(asio::io_context& io, Task task, const char* what) {
  asio::co_spawn(io, std::move(task), [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error(0, "supervisor: {} ended by an exception: {}", what, ex.what());
    }
  });
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return fmt::format("killed by signal {} (SIG{})", sig, name != nullptr ? name : "?");
  }
  return "ended";
}

log::Options log_options(const config::LogConfig& c) {
  log::Options o;
  o.level = c.level;
  o.error_path = c.error;
  o.access_path = c.access;
  o.access_enabled = c.present;
  o.dns_log = c.dns_log;
  o.mask_address = c.mask_address;
  return o;
}

// Applies the log section; a log file that cannot be opened refuses the configuration.
std::optional<std::string> configure_log(const config::LogConfig& c) {
  try {
    log::configure(log_options(c));
  } catch (const std::exception& e) {
    return std::string("log: ") + e.what();
  }
  return std::nullopt;
}

}  // namespace

struct Supervisor::Loaded {
  config::LoadResult result;
  unsigned workers = 1;
  std::chrono::milliseconds drain{60000};
  std::vector<std::string> files;
  dns::ResolverConfig resolver;  // read here: workers never open files
};

struct Supervisor::Worker {
  pid_t pid = -1;
  unsigned slot = 0;
  std::uint64_t generation = 0;
  unsigned restarts = 0;
  std::unique_ptr<ipc::Channel> channel;
  bool ready = false;
  bool draining = false;
  bool exited = false;
  Clock::time_point started = Clock::now();
  Clock::time_point last_heartbeat = Clock::now();
  std::uint64_t connections = 0;
};

struct Supervisor::Generation {
  std::uint64_t id = 0;
  std::shared_ptr<Loaded> loaded;
  std::shared_ptr<listeners::ListenerSet> listeners;
  std::vector<std::shared_ptr<Worker>> workers;  // every worker ever started in it
  bool draining = false;

  std::shared_ptr<Worker> live_in_slot(unsigned slot) const {
    for (const auto& w : workers) {
      if (w->slot == slot && !w->exited) return w;
    }
    return nullptr;
  }
  bool all_exited() const {
    return std::all_of(workers.begin(), workers.end(), [](const auto& w) { return w->exited; });
  }
};

Supervisor::Supervisor(asio::io_context& io, SupervisorOptions options)
    : io_(io),
      options_(std::move(options)),
      children_(io, SIGCHLD),
      watchdog_(io),
      stats_timer_(io),
      started_at_(Clock::now()) {}

Supervisor::~Supervisor() = default;

base::Expected<std::unique_ptr<Supervisor::Loaded>, Refusal> Supervisor::load(
    const std::vector<std::string>& files, const std::string& confdir) const {
  auto loaded = std::make_unique<Loaded>();
  loaded->files = files;
  if (files.empty() && confdir.empty()) {
    loaded->result = config::load_text(cli::kQuickstartConfig, "quick-start config");
  } else {
    loaded->result = config::load_files(files, confdir);
  }
  for (const auto& d : loaded->result.diagnostics) {
    if (d.warning) log::warning(0, "config: {}", d.to_string());
  }
  std::vector<std::string> errors;
  for (const auto& d : loaded->result.errors()) errors.push_back(d.to_string());
  if (errors.empty()) errors = check_runtime(loaded->result.config);
  if (!errors.empty()) {
    Refusal refusal;
    for (const auto& e : errors) refusal.message += (refusal.message.empty() ? "" : "\n") + e;
    return refusal;
  }
  loaded->resolver = dns::load_system_resolver_config();
  const auto& x = loaded->result.config.xsup;
  loaded->workers = x.workers != 0 ? x.workers : std::max(1u, std::thread::hardware_concurrency());
  loaded->drain = std::chrono::duration_cast<std::chrono::milliseconds>(x.drain_timeout);
  return loaded;
}

std::optional<Refusal> Supervisor::spawn(Generation& generation, unsigned slot, unsigned restarts) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return Refusal{std::string("socketpair: ") + std::strerror(errno)};
  }
  // The workers' environment: the supervisor's, less NOTIFY_SOCKET (only the main process
  // talks to systemd; NotifyAccess=main). Built before fork: the child may only exec.
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) env.push_back(*e);
  }
  env.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pair[0]);
    ::close(pair[1]);
    return Refusal{std::string("fork: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec (OpenSSH's fork-and-exec: fresh
    // address space, none of the supervisor's memory).
    if (pair[1] == 3) {
      ::fcntl(3, F_SETFD, 0);
    } else {
      ::dup2(pair[1], 3);
    }
    char arg0[] = "xsup";
    char arg1[] = "worker";
    char arg2[] = "--channel-fd";
    char arg3[] = "3";
    char* argv[] = {arg0, arg1, arg2, arg3, nullptr};
    ::execve("/proc/self/exe", argv, env.data());
    ::_exit(127);
  }
  ::close(pair[1]);
  auto w = std::make_shared<Worker>();
  w->pid = pid;
  w->slot = slot;
  w->generation = generation.id;
  w->restarts = restarts;
  asio::local::stream_protocol::socket socket(io_);
  std::error_code ec;
  socket.assign(asio::local::stream_protocol(), pair[0], ec);
  w->channel = std::make_unique<ipc::Channel>(std::move(socket));
  generation.workers.push_back(w);

  rt::Bootstrap boot;
  boot.generation = generation.id;
  boot.slot = slot;
  boot.config = generation.loaded->result.document;
  boot.listener_refs = generation.listeners->for_slot(slot);
  boot.log = log::options();
  boot.user = generation.loaded->result.config.xsup.user;
  if (boot.user.empty()) {
    // The user systemd-sysusers creates for xsup, else nobody (DESIGN.md §5).
    boot.user = ::getpwnam("xsup") != nullptr ? "xsup" : "nobody";
  }
  boot.resolver = generation.loaded->resolver;
  if (users_) boot.users = users_->snapshot();
  boot.stats = generation.loaded->result.config.xsup.stats;
  boot.sandbox = options_.sandbox;
  boot.test_triggers = options_.test_triggers;
  boot.drain_timeout = generation.loaded->drain;
  for (const auto& ob : generation.loaded->result.config.outbounds) {
    if (ob.stream.sockopt.mark != 0 || ob.stream.sockopt.tproxy != config::Tproxy::kOff) {
      boot.keep_net_admin = true;
    }
  }
  for (const auto& ib : generation.loaded->result.config.inbounds) {
    if (ib.stream.sockopt.tproxy != config::Tproxy::kOff &&
        !std::holds_alternative<config::DokodemoInbound>(ib.settings)) {
      boot.keep_net_admin = true;
    }
  }
  auto fds = std::make_shared<std::vector<int>>();
  auto body = std::make_shared<json>(rt::bootstrap_body(boot, *fds));
  // The listener set lives as long as its generation, so the fds stay valid until sent.
  spawn_detached(
      io_,
      [this, w, body, fds]() -> asio::awaitable<void> {
        auto sent = co_await w->channel->send(*body, *fds);
        if (!sent) {
          log::error(0, "worker slot {} pid {}: bootstrap not sent: {}", w->slot, w->pid,
                     sent.error().message());
          ::kill(w->pid, SIGKILL);
          co_return;
        }
        co_await read_worker(w);
      },
      "worker channel");
  log::info(0, "worker slot {} generation {} started, pid {}", slot, generation.id, pid);
  return std::nullopt;
}

asio::awaitable<void> Supervisor::read_worker(std::shared_ptr<Worker> w) {
  while (true) {
    auto message = co_await w->channel->receive();
    if (!message) co_return;  // the reaper handles the exit
    if (auto ok = ipc::check_envelope(message->body, rt::kSupervisorAccepts); !ok) {
      // A bad message is fatal for that worker only (OpenSSH's monitor).
      log::error(0, "worker slot {} pid {}: bad message ({}), killing it", w->slot, w->pid,
                 ok.error().message());
      ::kill(w->pid, SIGKILL);
      co_return;
    }
    std::string type = message->body.at("type");
    w->last_heartbeat = Clock::now();
    if (type == rt::kReady) {
      w->ready = true;
      // A new worker learns which users are at their IP limit.
      json allowed = ip_limits_.allowed_json();
      if (!allowed.empty()) {
        auto body = std::make_shared<json>(ipc::make_message(rt::kAllowedIps));
        (*body)["users"] = std::move(allowed);
        send_allowed_ips(w, std::move(body));
      }
    } else if (type == rt::kHeartbeat) {
      w->connections = message->body.value("connections", std::uint64_t{0});
    } else if (type == rt::kStats) {
      on_stats(message->body);
    } else if (type == rt::kIps) {
      ip_limits_.report(w->pid, message->body.value("users", json::object()), Clock::now());
      update_ip_limits();
    }
  }
}

asio::awaitable<bool> Supervisor::wait_ready(std::uint64_t id, std::chrono::milliseconds limit) {
  asio::steady_timer poll(io_);
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline && !stopping_) {
    // Looked up each time: a stop may end the generation while it starts.
    auto it = generations_.find(id);
    if (it == generations_.end() || it->second->draining) co_return false;
    const Generation& generation = *it->second;
    bool all = true;
    for (unsigned slot = 0; slot < generation.loaded->workers; ++slot) {
      auto w = generation.live_in_slot(slot);
      if (!w || !w->ready) all = false;
    }
    if (all) co_return true;
    poll.expires_after(std::chrono::milliseconds(5));
    co_await poll.async_wait(kTuple);
  }
  co_return false;
}

void Supervisor::drain_generation(Generation& generation) {
  generation.draining = true;
  auto limit = generation.loaded->drain;
  for (const auto& w : generation.workers) {
    if (w->exited || w->draining) continue;
    w->draining = true;
    spawn_detached(
        io_,
        [w, limit]() -> asio::awaitable<void> {
          json drain = ipc::make_message(rt::kDrain);
          drain["timeout_ms"] = limit.count();
          co_await w->channel->send(drain);
        },
        "drain");
  }
  // Stragglers past the limit are killed.
  auto timer = std::make_shared<asio::steady_timer>(io_, limit + kKillGrace);
  std::erase_if(timers_, [](const auto& weak) { return weak.expired(); });
  timers_.push_back(timer);
  std::uint64_t id = generation.id;
  timer->async_wait([this, timer, id](const std::error_code& ec) {
    if (ec) return;
    auto it = generations_.find(id);
    if (it == generations_.end()) return;
    for (const auto& w : it->second->workers) {
      if (!w->exited) {
        log::warning(0, "worker slot {} pid {} did not drain in time, killing it", w->slot, w->pid);
        ::kill(w->pid, SIGKILL);
      }
    }
  });
}

void Supervisor::kill_generation(std::uint64_t id) {
  auto it = generations_.find(id);
  if (it == generations_.end()) return;
  it->second->draining = true;
  for (const auto& w : it->second->workers) {
    if (!w->exited) ::kill(w->pid, SIGKILL);
  }
}

void Supervisor::respawn_later(std::uint64_t id, unsigned slot, unsigned restarts) {
  if (backoff_.size() <= slot) backoff_.resize(slot + 1, kFirstBackoff);
  auto delay = backoff_[slot];
  backoff_[slot] = std::min(backoff_[slot] * 2, kMaxBackoff);
  if (restarts >= 3 && restarts % 3 == 0) {
    log::error(0, "worker slot {} keeps crashing ({} restarts); next try in {} ms", slot, restarts,
               delay.count());
  }
  auto timer = std::make_shared<asio::steady_timer>(io_, delay);
  std::erase_if(timers_, [](const auto& weak) { return weak.expired(); });
  timers_.push_back(timer);
  timer->async_wait([this, timer, slot, restarts, id](const std::error_code& ec) {
    if (ec || stopping_) return;
    auto it = generations_.find(id);
    if (it == generations_.end() || it->second->draining || it->second->live_in_slot(slot)) {
      return;
    }
    if (auto refused = spawn(*it->second, slot, restarts)) {
      log::error(0, "worker slot {}: respawn failed: {}", slot, refused->message);
      respawn_later(id, slot, restarts + 1);
    }
  });
}

void Supervisor::on_child_exit(pid_t pid, int status) {
  for (auto it = generations_.begin(); it != generations_.end(); ++it) {
    Generation& gen = *it->second;
    for (const auto& w : gen.workers) {
      if (w->pid != pid || w->exited) continue;
      w->exited = true;
      ip_limits_.forget(pid);
      update_ip_limits();
      std::error_code ec;
      w->channel->socket().close(ec);
      bool expected = w->draining || gen.draining || stopping_;
      if (expected) {
        log::info(0, "worker slot {} pid {} generation {} {}", w->slot, pid, gen.id,
                  describe_exit(status));
      } else {
        log::error(0, "worker slot {} pid {} generation {} {}; restarting it", w->slot, pid, gen.id,
                   describe_exit(status));
        if (Clock::now() - w->started > kStableAfter && w->slot < backoff_.size()) {
          backoff_[w->slot] = kFirstBackoff;
        }
        respawn_later(gen.id, w->slot, w->restarts + 1);
      }
      if (gen.draining && gen.all_exited()) {
        log::info(0, "generation {} has drained", gen.id);
        generations_.erase(it);
      }
      return;
    }
  }
}

asio::awaitable<void> Supervisor::reap_loop() {
  while (!stopped_) {
    auto [ec, sig] = co_await children_.async_wait(kTuple);
    if (ec) co_return;
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) on_child_exit(pid, status);
  }
}

asio::awaitable<void> Supervisor::watchdog_loop() {
  while (!stopped_) {
    watchdog_.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await watchdog_.async_wait(kTuple);
    if (ec) co_return;
    auto now = Clock::now();
    for (const auto& [id, gen] : generations_) {
      for (const auto& w : gen->workers) {
        if (w->exited || w->draining) continue;
        if (now - w->last_heartbeat > rt::kHeartbeatTimeout) {
          log::error(0, "worker slot {} pid {} silent for {} s, replacing it", w->slot, w->pid,
                     rt::kHeartbeatTimeout.count());
          ::kill(w->pid, SIGKILL);
        }
      }
    }
  }
}

asio::awaitable<base::Expected<std::uint64_t, Refusal>> Supervisor::start_generation(
    std::shared_ptr<Loaded> loaded, std::shared_ptr<listeners::ListenerSet> listeners) {
  auto gen = std::make_unique<Generation>();
  const std::uint64_t id = gen->id = ++generation_;
  gen->loaded = loaded;
  gen->listeners = std::move(listeners);
  Generation& g = *gen;
  generations_.emplace(id, std::move(gen));
  for (unsigned slot = 0; slot < loaded->workers; ++slot) {
    if (auto refused = spawn(g, slot, 0)) {
      kill_generation(id);
      co_return *refused;
    }
  }
  if (!co_await wait_ready(id, kReadyLimit)) {
    kill_generation(id);
    co_return Refusal{stopping_ ? "stopping" : "the workers did not become ready"};
  }
  co_return id;
}

asio::awaitable<std::optional<Refusal>> Supervisor::start(std::function<void()> on_bound) {
  auto loaded = load(options_.files, options_.confdir);
  if (!loaded) co_return loaded.error();
  std::shared_ptr<Loaded> first = std::move(*loaded);
  if (auto why = configure_log(first->result.config.log)) co_return Refusal{*why};
  control_path_ = options_.control_path.empty() ? first->result.config.xsup.control_socket
                                                : options_.control_path;
  if (auto refused = open_store(*first)) co_return *refused;
  auto set = listeners::ListenerSet::build(first->result.config, first->workers, {});
  if (!set) co_return Refusal{set.error()};
  auto listeners = std::make_shared<listeners::ListenerSet>(std::move(*set));
  // Bound now: clients may already queue up while the workers start.
  for (const auto& line : listeners->describe()) {
    log::write(log::Level::kWarning, 0, "listening on " + line);
  }
  if (on_bound) on_bound();
  spawn_detached(io_, reap_loop(), "reaper");
  spawn_detached(io_, watchdog_loop(), "watchdog");
  spawn_detached(io_, stats_loop(), "stats");
  auto started = co_await start_generation(first, listeners);
  if (!started) co_return started.error();
  const std::uint64_t id = *started;
  listeners_ = listeners;
  current_ = first;
  current_generation_ = id;
  systemd::notify_ready(fmt::format("generation {}, {} workers", id, first->workers));
  co_return std::nullopt;
}

asio::awaitable<base::Expected<json, Refusal>> Supervisor::reload(
    std::optional<std::vector<std::string>> files) {
  if (stopping_) co_return Refusal{"stopping"};
  if (reloading_) co_return Refusal{"a reload is in progress"};
  {
    // A reload asked for during start-up waits for the first generation.
    asio::steady_timer poll(io_);
    auto deadline = Clock::now() + kReadyLimit;
    while (!current_ && Clock::now() < deadline) {
      poll.expires_after(std::chrono::milliseconds(10));
      co_await poll.async_wait(kTuple);
    }
    if (!current_) co_return Refusal{"the supervisor is still starting"};
  }
  reloading_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{reloading_};
  auto began = Clock::now();
  systemd::notify_reloading();
  auto fail = [&](Refusal r) {
    log::error(0, "reload refused: {}", r.message);
    systemd::notify_ready("reload refused; the running configuration goes on");
    return r;
  };
  std::vector<std::string> use = files ? *files : current_->files;
  std::string confdir = files ? std::string() : options_.confdir;
  auto loaded = load(use, confdir);
  if (!loaded) co_return fail(loaded.error());
  std::shared_ptr<Loaded> next = std::move(*loaded);
  if (next->result.config.xsup.store != current_->result.config.xsup.store) {
    co_return fail(Refusal{fmt::format(
        "xsup.store: \"{}\" differs from the running store \"{}\"; the store changes only "
        "with a restart",
        next->result.config.xsup.store, current_->result.config.xsup.store)});
  }
  if (auto why = configure_log(next->result.config.log)) co_return fail(Refusal{*why});
  // Sockets come from the running set first, then from generations still draining.
  std::vector<const listeners::ListenerSet*> previous = {listeners_.get()};
  for (auto it = generations_.rbegin(); it != generations_.rend(); ++it) {
    previous.push_back(it->second->listeners.get());
  }
  auto set = listeners::ListenerSet::build(next->result.config, next->workers, previous);
  if (!set) co_return fail(Refusal{set.error()});

  auto new_listeners = std::make_shared<listeners::ListenerSet>(std::move(*set));
  auto started = co_await start_generation(next, new_listeners);
  if (!started) co_return fail(started.error());
  const std::uint64_t id = *started;
  std::vector<std::uint64_t> old;
  for (auto& [other_id, other] : generations_) {
    if (other_id != id && !other->draining) {
      drain_generation(*other);
      old.push_back(other_id);
    }
  }
  listeners_ = new_listeners;
  current_ = next;
  current_generation_ = id;
  backoff_.assign(next->workers, kFirstBackoff);
  users_->set_config(next->result.config, next->result.document);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began);
  log::warning(0, "reloaded: generation {} with {} workers in {} ms", id, next->workers,
               took.count());
  systemd::notify_ready(fmt::format("generation {}, {} workers", id, next->workers));
  json summary = {{"generation", id},
                  {"workers", next->workers},
                  {"draining_generations", old},
                  {"listeners", new_listeners->describe()},
                  {"milliseconds", took.count()}};
  co_return summary;
}

asio::awaitable<void> Supervisor::stop() {
  if (stopping_) co_return;
  stopping_ = true;
  systemd::notify_stopping();
  std::chrono::milliseconds limit{0};
  for (auto& [id, gen] : generations_) {
    limit = std::max(limit, gen->loaded->drain);
    drain_generation(*gen);
  }
  asio::steady_timer poll(io_);
  auto deadline = Clock::now() + limit + kKillGrace + std::chrono::seconds(1);
  while (!generations_.empty() && Clock::now() < deadline) {
    poll.expires_after(std::chrono::milliseconds(10));
    co_await poll.async_wait(kTuple);
  }
  // The drained workers sent their last traffic: it reaches the store before the exit.
  flush_stats();
  stopped_ = true;
  children_.cancel();
  watchdog_.cancel();
  stats_timer_.cancel();
}

void Supervisor::close_all() {
  std::error_code ec;
  children_.cancel(ec);
  watchdog_.cancel();
  stats_timer_.cancel();
  for (auto& weak : timers_) {
    if (auto timer = weak.lock()) timer->cancel();
  }
  timers_.clear();
  for (auto& [id, gen] : generations_) {
    for (auto& w : gen->workers) w->channel->socket().close(ec);
  }
}

json Supervisor::status() const {
  json workers = json::array();
  auto now = Clock::now();
  for (const auto& [id, gen] : generations_) {
    for (const auto& w : gen->workers) {
      if (w->exited) continue;
      workers.push_back(
          {{"pid", w->pid},
           {"slot", w->slot},
           {"generation", w->generation},
           {"uptime", std::chrono::duration_cast<std::chrono::seconds>(now - w->started).count()},
           {"connections", w->connections},
           {"restarts", w->restarts},
           {"state", w->draining ? "draining" : (w->ready ? "ready" : "starting")}});
    }
  }
  return {{"generation", current_generation_},
          {"uptime", std::chrono::duration_cast<std::chrono::seconds>(now - started_at_).count()},
          {"workers", workers},
          {"listeners", listeners_ ? listeners_->describe() : std::vector<std::string>{}}};
}

std::optional<Refusal> Supervisor::trigger_execve(unsigned slot) {
  auto it = generations_.find(current_generation_);
  if (it == generations_.end()) return Refusal{"no generation"};
  auto w = it->second->live_in_slot(slot);
  if (!w) return Refusal{"no worker in that slot"};
  spawn_detached(
      io_,
      [w]() -> asio::awaitable<void> {
        co_await w->channel->send(ipc::make_message(rt::kTestExecve));
      },
      "test trigger");
  return std::nullopt;
}

// ---- users and stats (DESIGN.md §4) ---------------------------------------------------

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// How often history rows fold (minute -> hour -> day).
constexpr std::chrono::minutes kRollUpEvery{10};

}  // namespace

std::optional<Refusal> Supervisor::open_store(const Loaded& loaded) {
  const auto& path = loaded.result.config.xsup.store;
  try {
    store_ = store::Store::open(path);
    users_ = std::make_unique<users::UserBook>(*store_);
    stats_ = std::make_unique<stats::Stats>(*store_);
    users_->load();
    stats_->load();
    store_->roll_up(unix_now());
  } catch (const std::exception& e) {
    users_.reset();
    stats_.reset();
    store_.reset();
    return Refusal{std::string("xsup.store: ") + e.what()};
  }
  users_->set_config(loaded.result.config, loaded.result.document);
  log::info(0, "store {}: {} users", path, users_->size());
  enforce_limits();
  next_flush_ = Clock::now() + loaded.result.config.xsup.stats_flush_interval;
  next_rollup_ = Clock::now() + kRollUpEvery;
  return std::nullopt;
}

void Supervisor::push_users() {
  if (!users_) return;
  auto body = std::make_shared<json>(ipc::make_message(rt::kUsers));
  json set = xsup::users::to_json(users_->snapshot());
  (*body)["version"] = std::move(set["version"]);
  (*body)["users"] = std::move(set["users"]);
  for (const auto& [id, gen] : generations_) {
    for (const auto& w : gen->workers) {
      if (w->exited) continue;
      spawn_detached(
          io_, [w, body]() -> asio::awaitable<void> { co_await w->channel->send(*body); },
          "user push");
    }
  }
  // A user's IP limit may have changed, or the user gone.
  update_ip_limits();
}

void Supervisor::update_ip_limits() {
  const bool changed = ip_limits_.recompute([this](const std::string& email) -> std::uint32_t {
    if (!users_) return 0;
    auto it = users_->all().find(email);
    if (it == users_->all().end() || it->second.disabled != store::DisabledReason::kNone) return 0;
    return it->second.ip_limit;
  });
  if (!changed) return;
  auto body = std::make_shared<json>(ipc::make_message(rt::kAllowedIps));
  (*body)["users"] = ip_limits_.allowed_json();
  for (const auto& [id, gen] : generations_) {
    for (const auto& w : gen->workers) send_allowed_ips(w, body);
  }
}

void Supervisor::send_allowed_ips(const std::shared_ptr<Worker>& w,
                                  std::shared_ptr<const json> body) {
  if (w->exited) return;
  spawn_detached(
      io_, [w, body]() -> asio::awaitable<void> { co_await w->channel->send(*body); },
      "allowed IPs");
}

void Supervisor::on_stats(const json& message) {
  if (!stats_) return;
  auto moved = stats_->add(message);
  // Quotas are checked as soon as traffic arrives: a user is cut off within a second of
  // going over.
  bool quota_user = false;
  for (const auto& email : moved) {
    auto it = users_->all().find(email);
    if (it != users_->all().end() && it->second.quota != 0) quota_user = true;
  }
  if (quota_user) enforce_limits();
}

void Supervisor::enforce_limits() {
  if (!users_) return;
  std::vector<std::string> off;
  try {
    off = users_->enforce(unix_now(),
                          [this](const std::string& email) { return stats_->used(email); });
  } catch (const std::exception& e) {
    log::error(0, "users: {}", e.what());
    return;
  }
  if (off.empty()) return;
  for (const auto& email : off) {
    const auto& user = users_->get(email);
    log::warning(0, "user {} disabled: {}", email,
                 users::user_json(user, stats_->total({"user", email}))
                     .value("disabled_reason", std::string()));
  }
  push_users();
}

void Supervisor::flush_stats() {
  if (!stats_) return;
  try {
    stats_->flush(unix_now());
  } catch (const std::exception& e) {
    log::error(0, "stats: flush failed, kept for the next one: {}", e.what());
  }
}

asio::awaitable<void> Supervisor::stats_loop() {
  while (!stopped_) {
    stats_timer_.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await stats_timer_.async_wait(kTuple);
    if (ec || stopped_) co_return;
    if (!stats_) continue;
    stats_->tick();
    enforce_limits();
    auto now = Clock::now();
    if (now >= next_flush_) {
      flush_stats();
      auto interval =
          current_ ? current_->result.config.xsup.stats_flush_interval : std::chrono::seconds(5);
      next_flush_ = now + interval;
    }
    if (now >= next_rollup_) {
      try {
        store_->roll_up(unix_now());
      } catch (const std::exception& e) {
        log::error(0, "stats: {}", e.what());
      }
      next_rollup_ = now + kRollUpEvery;
    }
  }
}

json Supervisor::user_with_traffic(const std::string& email) const {
  return users::user_json(users_->get(email), stats_->total({"user", email}));
}

base::Expected<json, Refusal> Supervisor::manage(const std::string& method, const json& params) {
  if (!users_) return Refusal{"the store is not open yet"};
  auto email = [&]() -> std::string {
    if (!params.is_object() || !params.contains("email") || !params["email"].is_string()) {
      throw users::UserError("--email: required");
    }
    return params["email"].get<std::string>();
  };
  auto optional_user = [&]() -> std::optional<std::string> {
    if (params.is_object() && params.contains("user") && params["user"].is_string()) {
      return params["user"].get<std::string>();
    }
    return std::nullopt;
  };
  try {
    if (method == "user.add") {
      auto change = users::UserChange::from_json(params);
      users_->add(change);
      stats_->forget({"user", change.email});
      push_users();
      log::warning(0, "user {} added", change.email);
      return user_with_traffic(change.email);
    }
    if (method == "user.set") {
      auto change = users::UserChange::from_json(params);
      users_->set(change);
      auto user = users_->get(change.email);
      users_->lift_if_allowed(user, unix_now(),
                              [this](const std::string& e) { return stats_->used(e); });
      push_users();
      enforce_limits();
      return user_with_traffic(change.email);
    }
    if (method == "user.enable" || method == "user.disable") {
      auto who = email();
      if (method == "user.enable") {
        users_->enable(who);
      } else {
        users_->disable(who);
      }
      push_users();
      enforce_limits();  // enabling a user over quota or expired turns them off again
      log::warning(0, "user {} {}", who, method == "user.enable" ? "enabled" : "disabled");
      return user_with_traffic(who);
    }
    if (method == "user.del") {
      auto who = email();
      users_->remove(who);
      stats_->forget({"user", who});
      push_users();
      log::warning(0, "user {} deleted", who);
      return json{{"deleted", who}};
    }
    if (method == "user.reset_traffic") {
      auto who = email();
      (void)users_->get(who);
      stats_->reset({"user", who});
      auto user = users_->get(who);
      if (users_->lift_if_allowed(user, unix_now(),
                                  [this](const std::string& e) { return stats_->used(e); })) {
        push_users();
      }
      return user_with_traffic(who);
    }
    if (method == "user.show") return user_with_traffic(email());
    if (method == "user.list") {
      json out = json::array();
      for (const auto& [who, user] : users_->all()) {
        out.push_back(users::user_json(user, stats_->total({"user", who})));
      }
      return out;
    }
    if (method == "user.link") return users_->links(email());
    if (method == "stats") {
      auto user = optional_user();
      if (user) (void)users_->get(*user);
      return json{{"counters", stats_->counters(user)}, {"report", stats_->report(user)}};
    }
    if (method == "stats.history") {
      if (!params.is_object()) throw users::UserError("parameters: expected an object");
      std::string kind = params.value("kind", std::string("user"));
      std::string name = params.value("name", std::string());
      if (kind != "user" && kind != "inbound" && kind != "outbound") {
        throw users::UserError("kind: user, inbound or outbound");
      }
      auto since = users::parse_expiry(params.value("since", std::string("0")));
      auto until = users::parse_expiry(params.value("until", std::string("never")));
      if (!since) throw users::UserError("--since: not a date (YYYY-MM-DD or a time)");
      if (!until) throw users::UserError("--until: not a date (YYYY-MM-DD or a time)");
      std::int64_t to = *until == 0 ? std::numeric_limits<std::int64_t>::max() : *until;
      flush_stats();  // history includes what is pending
      json rows = json::array();
      for (const auto& row : store_->history({kind, name}, *since, to)) {
        rows.push_back({{"start", users::format_time(row.start)},
                        {"seconds", row.seconds},
                        {"uplink", row.traffic.uplink},
                        {"downlink", row.traffic.downlink},
                        {"connections", row.traffic.connections}});
      }
      return rows;
    }
    if (method == "store.check") return json{{"integrity", store_->integrity_check()}};
  } catch (const users::UserError& e) {
    return Refusal{e.what()};
  } catch (const store::StoreError& e) {
    return Refusal{e.what()};
  }
  return Refusal{"method not found: " + method};
}

}  // namespace xsup::supervisor
