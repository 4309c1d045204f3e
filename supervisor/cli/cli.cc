#include "supervisor/cli/cli.h"

#include <fmt/format.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/log.h"
#include "shared/config/loader.h"
#include "shared/crypto/uuid.h"
#include "shared/ipc/jsonrpc.h"
#include "supervisor/config_check.h"
#include "supervisor/control/control_server.h"
#include "supervisor/supervisor.h"
#include "worker/lockdown/lockdown.h"
#include "worker/runtime/worker_main.h"

namespace xsup::supervisor::cli {

extern const std::string_view kQuickstartConfig;

namespace {

using nlohmann::json;

// Where the control socket is when neither --control nor the config says (DESIGN.md §3).
constexpr const char* kDefaultControl = "/run/xsup/control.sock";
// A reload waits for the new generation; a stop for the drain.
constexpr std::chrono::seconds kControlTimeout{120};

constexpr const char* kUsage =
    "usage: xsup <command> [flags]\n"
    "\n"
    "commands:\n"
    "  run      serve a configuration: the supervisor and its workers, in the foreground\n"
    "  test     check a configuration without starting anything\n"
    "  status   show the running supervisor's generation, workers and listeners\n"
    "  reload   switch the running supervisor to a new configuration, dropping nothing\n"
    "  stop     drain the workers and stop the running supervisor\n"
    "  version  print the version\n"
    "  uuid     print a random UUID for a user id\n"
    "  user     add, change, list and remove the store's users; share links\n"
    "  stats    traffic per user, inbound and outbound: totals, rates, history\n"
    "  tls      make a self-signed certificate; hash a certificate chain for pinning\n"
    "\n"
    "`xsup <command> --help` describes each.\n";

constexpr const char* kRunUsage =
    "usage: xsup run [-c FILE]... [-confdir DIR] [--control PATH] [--sandbox=kill|trap|off]\n"
    "\n"
    "Serves an Xray JSON configuration (comments allowed) in the foreground: the supervisor\n"
    "binds the listeners and starts xsup.workers sandboxed workers (default: one per CPU).\n"
    "Several -c files merge the Xray way; -confdir adds every *.json and *.jsonc in DIR in\n"
    "name order. Without -c or -confdir it serves the bundled quick-start config: SOCKS5 on\n"
    "127.0.0.1:10808 and HTTP on 127.0.0.1:10809.\n"
    "SIGHUP reloads; SIGINT and SIGTERM drain the workers and stop.\n"
    "--sandbox: kill (default) ends a worker making a forbidden system call; trap logs the\n"
    "call and ends it; off installs no filter (for sanitizer builds). Env XSUP_SANDBOX too.\n";

constexpr const char* kTestUsage =
    "usage: xsup test -c FILE [-c FILE]... [-confdir DIR]\n"
    "\n"
    "Checks a configuration without starting anything: prints each error and warning on one\n"
    "line as `json.path: message` and exits 0 when it would run, 1 when it would not.\n";

constexpr const char* kControlUsage =
    "usage: xsup %s [--control PATH | -c FILE...]%s\n"
    "\n"
    "Talks to the running supervisor over its control socket: --control PATH, else the\n"
    "xsup.controlSocket of the config given with -c, else /run/xsup/control.sock.\n";

struct Args {
  std::vector<std::string> files;
  std::string confdir;
  std::string control;
  std::string sandbox;
  bool help = false;
  bool json = false;
  bool test_triggers = false;
  std::string error;
};

Args parse_args(int argc, char** argv) {
  Args out;
  for (int i = 0; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      if (i + 1 >= argc) {
        out.error = std::string(name) + " needs a value";
        return nullptr;
      }
      return argv[++i];
    };
    auto after_equals = [&] { return std::string(a.substr(a.find('=') + 1)); };
    if (a == "-h" || a == "--help" || a == "-help") {
      out.help = true;
    } else if (a == "-c" || a == "-config" || a == "--config") {
      if (const char* v = value(a)) out.files.emplace_back(v);
    } else if (a.starts_with("-c=") || a.starts_with("-config=") || a.starts_with("--config=")) {
      out.files.push_back(after_equals());
    } else if (a == "-confdir" || a == "--confdir") {
      if (const char* v = value(a)) out.confdir = v;
    } else if (a == "--control") {
      if (const char* v = value(a)) out.control = v;
    } else if (a.starts_with("--control=")) {
      out.control = after_equals();
    } else if (a == "--sandbox") {
      if (const char* v = value(a)) out.sandbox = v;
    } else if (a.starts_with("--sandbox=")) {
      out.sandbox = after_equals();
    } else if (a == "--json") {
      out.json = true;
    } else if (a == "--test-triggers") {
      out.test_triggers = true;  // hidden: tests only
    } else {
      out.error = "unknown argument: " + std::string(a);
    }
    if (!out.error.empty()) break;
  }
  return out;
}

config::LoadResult load(const Args& args) {
  if (args.files.empty() && args.confdir.empty()) {
    return config::load_text(kQuickstartConfig, "quick-start config");
  }
  return config::load_files(args.files, args.confdir);
}

int cmd_test(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  if (args.help) {
    std::fputs(kTestUsage, stdout);
    return 0;
  }
  if (!args.error.empty() || (args.files.empty() && args.confdir.empty())) {
    std::fprintf(stderr, "xsup test: %s\n",
                 args.error.empty() ? "give the config with -c FILE" : args.error.c_str());
    return 1;
  }
  config::LoadResult result = load(args);
  for (const auto& d : result.diagnostics) {
    std::fprintf(stderr, "%s: %s\n", d.warning ? "warning" : "error", d.to_string().c_str());
  }
  if (!result.ok()) return 1;
  auto errors = check_runtime(result.config);
  for (const auto& e : errors) std::fprintf(stderr, "error: %s\n", e.c_str());
  if (!errors.empty()) return 1;
  std::fputs("configuration OK\n", stdout);
  return 0;
}

int cmd_run(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  if (args.help) {
    std::fputs(kRunUsage, stdout);
    return 0;
  }
  if (args.sandbox.empty()) {
    const char* env = std::getenv("XSUP_SANDBOX");
    args.sandbox = env != nullptr ? env : "kill";
  }
  auto sandbox = worker::lockdown::parse_sandbox_mode(args.sandbox);
  if (!sandbox) args.error = "--sandbox takes kill, trap or off, not " + args.sandbox;
  if (!args.error.empty()) {
    std::fprintf(stderr, "xsup run: %s\n", args.error.c_str());
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);

  SupervisorOptions options;
  options.files = args.files;
  options.confdir = args.confdir;
  options.control_path = args.control;
  options.sandbox = *sandbox;
  options.test_triggers = args.test_triggers;

  asio::io_context io(1);
  Supervisor supervisor(io, options);
  control::ControlServer control(io, supervisor);
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  int exit_code = 0;
  bool failed = false;

  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const std::error_code& ec, int signal) {
      if (ec) return;
      if (signal == SIGHUP) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
              auto outcome = co_await supervisor.reload(std::nullopt);
              if (!outcome) log::error(0, "SIGHUP reload refused: {}", outcome.error().message);
            },
            asio::detached);
        wait_signal();
        return;
      }
      log::write(log::Level::kWarning, 0,
                 fmt::format("{} received, draining", signal == SIGINT ? "SIGINT" : "SIGTERM"));
      asio::co_spawn(io, supervisor.stop(), asio::detached);
    });
  };
  wait_signal();

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto refused = co_await supervisor.start([&] {
          if (auto why = control.open(supervisor.control_path())) {
            log::warning(0, "control socket off: {}", *why);
          }
        });
        if (refused && !supervisor.stopping()) {  // a stop during start-up is no failure
          std::fprintf(stderr, "xsup run: %s\n", refused->message.c_str());
          exit_code = 1;
          failed = true;
        }
      },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::fprintf(stderr, "xsup run: %s\n", ex.what());
        }
        exit_code = 1;
        failed = true;
      });
  while (!failed && !supervisor.stopped() && io.run_one() > 0) {
  }
  // Let every pending coroutine see its channel or timer closed and unwind before the
  // objects they point to go away.
  control.close();
  std::error_code ec;
  signals.cancel(ec);
  supervisor.close_all();
  io.restart();
  io.run_for(std::chrono::seconds(2));
  if (!io.stopped()) {
    log::warning(0, "stopped with work still pending");
    std::fflush(nullptr);
    std::_Exit(exit_code);
  }
  return exit_code;
}

int control_call(const char* command, const Args& args, const std::string& method,
                 const json& params, json& result) {
  return control_request(command, ControlTarget{args.control, args.files, args.confdir}, method,
                         params, result);
}

int cmd_status(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  if (args.help) {
    std::printf(kControlUsage, "status", " [--json]");
    return 0;
  }
  if (!args.error.empty()) {
    std::fprintf(stderr, "xsup status: %s\n", args.error.c_str());
    return 1;
  }
  json status;
  if (int rc = control_call("status", args, "status", json::object(), status)) return rc;
  if (args.json) {
    std::puts(status.dump(2).c_str());
    return 0;
  }
  std::printf("generation %llu, up %lld s\n",
              static_cast<unsigned long long>(status.value("generation", 0ull)),
              static_cast<long long>(status.value("uptime", 0ll)));
  std::printf("%-8s %-5s %-10s %-9s %-11s %-8s %s\n", "pid", "slot", "generation", "uptime",
              "connections", "restarts", "state");
  for (const auto& w : status["workers"]) {
    std::printf("%-8d %-5u %-10llu %-9lld %-11llu %-8u %s\n", w.value("pid", 0),
                w.value("slot", 0u), static_cast<unsigned long long>(w.value("generation", 0ull)),
                static_cast<long long>(w.value("uptime", 0ll)),
                static_cast<unsigned long long>(w.value("connections", 0ull)),
                w.value("restarts", 0u), w.value("state", std::string()).c_str());
  }
  for (const auto& l : status["listeners"]) {
    std::printf("listening on %s\n", l.get<std::string>().c_str());
  }
  return 0;
}

int cmd_reload(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  if (args.help) {
    std::printf(kControlUsage, "reload", "\n\nWith -c, the files given become the new config.");
    return 0;
  }
  if (!args.error.empty()) {
    std::fprintf(stderr, "xsup reload: %s\n", args.error.c_str());
    return 1;
  }
  json params = json::object();
  if (!args.files.empty()) {
    json files = json::array();
    for (const auto& f : args.files) files.push_back(std::filesystem::absolute(f).string());
    params["files"] = files;
  }
  json summary;
  if (int rc = control_call("reload", args, "reload", params, summary)) return rc;
  std::printf("reloaded: generation %llu, %u workers, in %lld ms\n",
              static_cast<unsigned long long>(summary.value("generation", 0ull)),
              summary.value("workers", 0u),
              static_cast<long long>(summary.value("milliseconds", 0ll)));
  return 0;
}

int cmd_stop(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  if (args.help) {
    std::printf(kControlUsage, "stop", "");
    return 0;
  }
  if (!args.error.empty()) {
    std::fprintf(stderr, "xsup stop: %s\n", args.error.c_str());
    return 1;
  }
  json result;
  if (int rc = control_call("stop", args, "stop", json::object(), result)) return rc;
  std::puts("stopping: the workers drain, then the supervisor exits");
  return 0;
}

int cmd_version(int argc, char** argv) {
  if (argc > 0 && (std::strcmp(argv[0], "--help") == 0 || std::strcmp(argv[0], "-h") == 0)) {
    std::puts("usage: xsup version\n\nPrints the version of xsup.");
    return 0;
  }
  std::puts("xsup " XSUP_VERSION " (C++20, Xray-compatible configuration)");
  return 0;
}

int cmd_uuid(int argc, char** argv) {
  if (argc > 0 && (std::strcmp(argv[0], "--help") == 0 || std::strcmp(argv[0], "-h") == 0)) {
    std::puts("usage: xsup uuid\n\nPrints a random UUID (version 4) to use as a user id.");
    return 0;
  }
  std::puts(crypto::to_string(crypto::random_uuid()).c_str());
  return 0;
}

}  // namespace

int control_request(const char* command, const ControlTarget& target, const std::string& method,
                    const json& params, json& result) {
  std::string path = target.control;
  if (path.empty() && (!target.files.empty() || !target.confdir.empty())) {
    config::LoadResult loaded = config::load_files(target.files, target.confdir);
    path = loaded.config.xsup.control_socket;
  }
  if (path.empty()) path = kDefaultControl;
  auto answer = ipc::jsonrpc::call(path, method, params, kControlTimeout);
  if (!answer) {
    std::fprintf(stderr, "xsup %s: %s\n", command, answer.error().message.c_str());
    return 1;
  }
  result = *answer;
  return 0;
}

int run(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 1;
  }
  std::string_view command = argv[1];
  int rest_argc = argc - 2;
  char** rest = argv + 2;
  if (command == "run") return cmd_run(rest_argc, rest);
  if (command == "worker") return worker::runtime::worker_main(rest_argc, rest);
  if (command == "test") return cmd_test(rest_argc, rest);
  if (command == "status") return cmd_status(rest_argc, rest);
  if (command == "reload") return cmd_reload(rest_argc, rest);
  if (command == "stop") return cmd_stop(rest_argc, rest);
  if (command == "version" || command == "-version" || command == "--version") {
    return cmd_version(rest_argc, rest);
  }
  if (command == "uuid") return cmd_uuid(rest_argc, rest);
  if (command == "user") return cmd_user(rest_argc, rest);
  if (command == "stats") return cmd_stats(rest_argc, rest);
  if (command == "tls") return cmd_tls(rest_argc, rest);
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "xsup: unknown command \"%.*s\"\n%s", static_cast<int>(command.size()),
               command.data(), kUsage);
  return 1;
}

}  // namespace xsup::supervisor::cli
