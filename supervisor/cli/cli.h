#pragma once
// The `xsup` command line: subcommands, their flags and exit codes.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace xsup::supervisor::cli {

// Runs the command line; returns the process exit code (0 success, 1 failure).
int run(int argc, char** argv);

// Where a control command finds the supervisor: --control, else the xsup.controlSocket of
// the -c files, else /run/xsup/control.sock.
struct ControlTarget {
  std::string control;
  std::vector<std::string> files;
  std::string confdir;
};

// One JSON-RPC call to the running supervisor; prints "xsup COMMAND: why" and returns 1 on
// failure, else fills `result` and returns 0.
int control_request(const char* command, const ControlTarget& target, const std::string& method,
                    const nlohmann::json& params, nlohmann::json& result);

// `xsup user …` and `xsup stats …` (supervisor/cli/user_commands.cc).
int cmd_user(int argc, char** argv);
int cmd_stats(int argc, char** argv);
// `xsup tls cert` and `xsup tls certChainHash` (supervisor/cli/tls_commands.cc).
int cmd_tls(int argc, char** argv);

}  // namespace xsup::supervisor::cli
