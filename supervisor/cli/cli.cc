#include "supervisor/cli/cli.h"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/log.h"
#include "shared/config/loader.h"
#include "shared/crypto/uuid.h"
#include "worker/dispatch/router_adapter.h"
#include "worker/dispatch/sniff_exclusions.h"
#include "worker/proxy/inbound.h"
#include "worker/proxy/outbound.h"
#include "worker/proxy/registry.h"
#include "worker/runtime/server.h"

namespace xsup::supervisor::cli {

extern const std::string_view kQuickstartConfig;

namespace {

// How long a stop waits for live connections to unwind.
constexpr std::chrono::seconds kStopLimit{3};

constexpr const char* kUsage =
    "usage: xsup <command> [flags]\n"
    "\n"
    "commands:\n"
    "  run      serve a configuration in the foreground\n"
    "  test     check a configuration without starting anything\n"
    "  version  print the version\n"
    "  uuid     print a random UUID for a user id\n"
    "\n"
    "`xsup <command> --help` describes each.\n";

constexpr const char* kRunUsage =
    "usage: xsup run [-c FILE]... [-confdir DIR]\n"
    "\n"
    "Serves an Xray JSON configuration (comments allowed) in the foreground until SIGINT or\n"
    "SIGTERM. Several -c files merge the Xray way; -confdir adds every *.json and *.jsonc in\n"
    "DIR in name order. Without -c or -confdir it serves the bundled quick-start config:\n"
    "SOCKS5 on 127.0.0.1:10808 and HTTP on 127.0.0.1:10809.\n";

constexpr const char* kTestUsage =
    "usage: xsup test -c FILE [-c FILE]... [-confdir DIR]\n"
    "\n"
    "Checks a configuration without starting anything: prints each error and warning on one\n"
    "line as `json.path: message` and exits 0 when it would run, 1 when it would not.\n";

struct ConfigArgs {
  std::vector<std::string> files;
  std::string confdir;
  bool help = false;
  std::string error;
};

ConfigArgs parse_config_args(int argc, char** argv) {
  ConfigArgs out;
  for (int i = 0; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      if (i + 1 >= argc) {
        out.error = std::string(name) + " needs a value";
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "-h" || a == "--help" || a == "-help") {
      out.help = true;
    } else if (a == "-c" || a == "-config" || a == "--config") {
      if (const char* v = value(a)) out.files.emplace_back(v);
    } else if (a.starts_with("-c=") || a.starts_with("-config=") || a.starts_with("--config=")) {
      out.files.emplace_back(a.substr(a.find('=') + 1));
    } else if (a == "-confdir" || a == "--confdir") {
      if (const char* v = value(a)) out.confdir = v;
    } else {
      out.error = "unknown argument: " + std::string(a);
    }
    if (!out.error.empty()) break;
  }
  return out;
}

config::LoadResult load(const ConfigArgs& args) {
  if (args.files.empty() && args.confdir.empty()) {
    return config::load_text(kQuickstartConfig, "quick-start config");
  }
  return config::load_files(args.files, args.confdir);
}

void print_diagnostics(const config::LoadResult& result) {
  for (const auto& d : result.diagnostics) {
    std::fprintf(stderr, "%s: %s\n", d.warning ? "warning" : "error", d.to_string().c_str());
  }
}

// Checks what the loader cannot see alone: that every protocol has an implementation
// and that the routing rules compile.
std::vector<std::string> check_runtime(const config::Config& cfg) {
  std::vector<std::string> errors;
  for (const auto& ib : cfg.inbounds) {
    if (!worker::proxy::knows_inbound(ib.protocol)) {
      errors.push_back(ib.path + ".protocol: \"" + ib.protocol + "\" not supported yet");
    }
  }
  for (const auto& ob : cfg.outbounds) {
    if (!worker::proxy::knows_outbound(ob.protocol)) {
      errors.push_back(ob.path + ".protocol: \"" + ob.protocol + "\" not supported yet");
    }
  }
  try {
    (void)worker::dispatch::make_router(cfg);
    (void)worker::dispatch::compile_sniff_exclusions(cfg);
  } catch (const std::exception& e) {
    errors.emplace_back(e.what());
  }
  return errors;
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

int cmd_test(int argc, char** argv) {
  ConfigArgs args = parse_config_args(argc, argv);
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
  print_diagnostics(result);
  if (!result.ok()) return 1;
  auto errors = check_runtime(result.config);
  for (const auto& e : errors) std::fprintf(stderr, "error: %s\n", e.c_str());
  if (!errors.empty()) return 1;
  std::fputs("configuration OK\n", stdout);
  return 0;
}

int cmd_run(int argc, char** argv) {
  ConfigArgs args = parse_config_args(argc, argv);
  if (args.help) {
    std::fputs(kRunUsage, stdout);
    return 0;
  }
  if (!args.error.empty()) {
    std::fprintf(stderr, "xsup run: %s\n", args.error.c_str());
    return 1;
  }
  config::LoadResult result = load(args);
  print_diagnostics(result);
  if (!result.ok()) return 1;
  const config::Config& cfg = result.config;
  try {
    log::configure(log_options(cfg.log));
    std::signal(SIGPIPE, SIG_IGN);
    asio::io_context io(1);
    worker::runtime::Server server(io, cfg, worker::runtime::bind_all(cfg));
    asio::signal_set signals(io, SIGINT, SIGTERM);
    bool stopping = false;
    signals.async_wait([&](const std::error_code& ec, int signal) {
      if (ec) return;
      log::write(log::Level::kWarning, 0,
                 fmt::format("{} received, stopping", signal == SIGINT ? "SIGINT" : "SIGTERM"));
      stopping = true;
      server.stop();
    });
    log::write(log::Level::kWarning, 0, "xsup " XSUP_VERSION " started");
    server.start(/*announce=*/true);
    while (!stopping && io.run_one() > 0) {
    }
    // Connections unwind at once; an outbound still resolving or dialing may take a
    // moment. The loop returns as soon as it has no work left, or at the limit.
    io.run_for(kStopLimit);
    if (server.live_connections() > 0) {
      // Frames still pending point into the server: skip destructors rather than risk them.
      log::write(log::Level::kWarning, 0, "stopped with connections still unwinding");
      std::fflush(nullptr);
      std::_Exit(0);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xsup run: %s\n", e.what());
    return 1;
  }
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

int run(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 1;
  }
  std::string_view command = argv[1];
  int rest_argc = argc - 2;
  char** rest = argv + 2;
  if (command == "run") return cmd_run(rest_argc, rest);
  if (command == "test") return cmd_test(rest_argc, rest);
  if (command == "version" || command == "-version" || command == "--version") {
    return cmd_version(rest_argc, rest);
  }
  if (command == "uuid") return cmd_uuid(rest_argc, rest);
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "xsup: unknown command \"%.*s\"\n%s", static_cast<int>(command.size()),
               command.data(), kUsage);
  return 1;
}

}  // namespace xsup::supervisor::cli
