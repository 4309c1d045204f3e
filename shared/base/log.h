#pragma once
// Logging in the shape of Xray's `log` object: an error log with levels and an access
// log, each to stderr, a file, or nowhere. Every line names the connection it is about.

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace xsup::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kNone = 4 };

struct Options {
  Level level = Level::kWarning;
  std::string error_path;   // "" = stderr, "none" = off
  std::string access_path;  // "" = stderr, "none" = off
  bool access_enabled = false;
  bool dns_log = false;
  std::string mask_address;  // "", "quarter", "half", "full"
};

// Applies options; opens log files. Throws std::runtime_error when a file cannot be opened.
void configure(const Options& options);
const Options& options();

bool enabled(Level level);
// One line to the error log. conn = 0 for lines not about a connection.
void write(Level level, std::uint64_t conn, std::string_view text);
// One line to the access log (timestamp added here).
void access(std::string_view text);
bool access_enabled();
// The descriptors of the log files opened by configure(), which a sandboxed process keeps.
std::vector<int> open_fds();
// An IP address as maskAddress wants it shown.
std::string mask(std::string_view address);

template <class... Args>
void debug(std::uint64_t conn, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kDebug))
    write(Level::kDebug, conn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(std::uint64_t conn, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, conn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warning(std::uint64_t conn, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kWarning)) {
    write(Level::kWarning, conn, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <class... Args>
void error(std::uint64_t conn, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kError))
    write(Level::kError, conn, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace xsup::log
