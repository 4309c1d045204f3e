#include "shared/base/log.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace xsup::log {
namespace {

struct Sink {
  std::FILE* file = stderr;
  bool owned = false;
  bool off = false;

  void open(const std::string& path) {
    close();
    if (path.empty()) return;
    if (path == "none") {
      off = true;
      return;
    }
    file = std::fopen(path.c_str(), "ae");  // O_CLOEXEC: workers are exec()ed
    if (file == nullptr) {
      file = stderr;
      throw std::runtime_error("cannot open log file " + path);
    }
    owned = true;
    std::setvbuf(file, nullptr, _IOLBF, 0);
  }
  void close() {
    if (owned) std::fclose(file);
    file = stderr;
    owned = false;
    off = false;
  }
};

Options g_options;
Sink g_error;
Sink g_access;

// "2006/01/02 15:04:05.000000", as Xray stamps its lines.
void stamp(char (&out)[32]) {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  std::tm tm{};
  localtime_r(&tv.tv_sec, &tm);
  std::size_t n = std::strftime(out, sizeof out, "%Y/%m/%d %H:%M:%S", &tm);
  std::snprintf(out + n, sizeof out - n, ".%06ld", static_cast<long>(tv.tv_usec));
}

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "Debug";
    case Level::kInfo:
      return "Info";
    case Level::kWarning:
      return "Warning";
    case Level::kError:
      return "Error";
    case Level::kNone:
      break;
  }
  return "";
}

}  // namespace

void configure(const Options& options) {
  g_options = options;
  g_error.open(options.level == Level::kNone ? "none" : options.error_path);
  g_access.open(options.level == Level::kNone || !options.access_enabled ? "none"
                                                                         : options.access_path);
}

const Options& options() { return g_options; }

bool enabled(Level level) { return level >= g_options.level && !g_error.off; }

std::vector<int> open_fds() {
  std::vector<int> fds;
  for (const Sink* sink : {&g_error, &g_access}) {
    if (sink->owned) fds.push_back(fileno(sink->file));
  }
  return fds;
}

bool access_enabled() { return !g_access.off && g_options.access_enabled; }

void write(Level level, std::uint64_t conn, std::string_view text) {
  char ts[32];
  stamp(ts);
  if (conn != 0) {
    std::fprintf(g_error.file, "%s [%s] [%llu] %.*s\n", ts, level_name(level),
                 static_cast<unsigned long long>(conn), static_cast<int>(text.size()), text.data());
  } else {
    std::fprintf(g_error.file, "%s [%s] %.*s\n", ts, level_name(level),
                 static_cast<int>(text.size()), text.data());
  }
}

void access(std::string_view text) {
  if (!access_enabled()) return;
  char ts[32];
  stamp(ts);
  std::fprintf(g_access.file, "%s %.*s\n", ts, static_cast<int>(text.size()), text.data());
}

std::string mask(std::string_view address) {
  const std::string& how = g_options.mask_address;
  if (how.empty()) return std::string(address);
  bool v6 = address.find(':') != std::string_view::npos;
  if (how == "full") return v6 ? "[Masked IPv6]" : "[Masked IPv4]";
  std::string out(address);
  if (!v6) {
    // quarter keeps three octets, half keeps two.
    int keep = how == "quarter" ? 3 : 2;
    std::size_t pos = 0;
    for (int i = 0; i < keep && pos != std::string::npos; ++i) {
      pos = out.find('.', pos);
      if (pos != std::string::npos) ++pos;
    }
    if (pos == std::string::npos) return out;
    out.resize(pos);
    out += keep == 3 ? "*" : "*.*";
    return out;
  }
  // IPv6: quarter keeps the first two groups, half the first one... as a prefix mask.
  int keep = how == "quarter" ? 4 : 2;
  std::size_t pos = 0;
  for (int i = 0; i < keep && pos != std::string::npos; ++i) {
    pos = out.find(':', pos);
    if (pos != std::string::npos) ++pos;
  }
  if (pos == std::string::npos) return out;
  out.resize(pos);
  out += "*";
  return out;
}

}  // namespace xsup::log
