#pragma once
// The `xsup` command line: subcommands, their flags and exit codes.

namespace xsup::supervisor::cli {

// Runs the command line; returns the process exit code (0 success, 1 failure).
int run(int argc, char** argv);

}  // namespace xsup::supervisor::cli
