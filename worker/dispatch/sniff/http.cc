// HTTP/1.x Host sniffer, spec/sniffing-routing.md §2.2.
//
// One deliberate difference from Xray: only header lines terminated by '\n' are read, so a
// Host header cut in the middle by a short read yields kNeedMore instead of a truncated name.

#include <array>
#include <cctype>
#include <string>
#include <string_view>

#include "worker/dispatch/sniff/sniffer.h"

namespace xsup::worker::dispatch::sniff {
namespace {

using base::Errc;
using base::Expected;

// Compared in this order; a buffer shorter than the method being compared is "no clue" (§2.2).
constexpr std::array<std::string_view, 7> kMethods = {"get",    "post",    "head",   "put",
                                                      "delete", "options", "connect"};

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

Expected<void> begins_with_method(std::string_view text) {
  for (std::string_view method : kMethods) {
    if (text.size() < method.size()) return {Errc::kNeedMore, "http: short method"};
    if (iequals(text.substr(0, method.size()), method)) return {};
  }
  return {Errc::kProtocol, "http: not a request method"};
}

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "host", "host:port", "[v6]", "[v6]:port" -> host; the port (default 80) is not needed.
Expected<std::string> host_of(std::string_view raw) {
  if (!raw.empty() && raw.front() == '[') {
    std::size_t close = raw.find(']');
    if (close == std::string_view::npos) return {Errc::kProtocol, "http: bad Host"};
    std::string_view after = raw.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || !all_digits(after.substr(1)))) {
      return {Errc::kProtocol, "http: bad Host port"};
    }
    return std::string(raw.substr(1, close - 1));
  }
  std::size_t colon = raw.find(':');
  if (colon == std::string_view::npos) return std::string(raw);
  std::string_view port = raw.substr(colon + 1);
  // A second colon means an unbracketed IPv6 literal, which HTTP does not allow.
  if (port.find(':') != std::string_view::npos || !all_digits(port)) {
    return {Errc::kProtocol, "http: bad Host port"};
  }
  return std::string(raw.substr(0, colon));
}

}  // namespace

Expected<SniffResult> sniff_http(Bytes bytes) {
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (auto method = begins_with_method(text); !method) return method.error();

  std::string host;
  std::size_t start = text.find('\n');  // skip the request line
  while (start != std::string_view::npos) {
    std::size_t end = text.find('\n', start + 1);
    if (end == std::string_view::npos) break;  // an unterminated line may still grow
    std::string_view line = text.substr(start + 1, end - start - 1);
    start = end;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header block
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (!iequals(trim(line.substr(0, colon)), "host")) continue;
    std::string raw(trim(line.substr(colon + 1)));
    for (char& c : raw) c = lower(c);
    auto parsed = host_of(raw);
    if (!parsed) return parsed.error();
    host = std::move(*parsed);  // a later Host header replaces an earlier one, as in Xray
  }
  if (host.empty()) return {Errc::kNeedMore, "http: no Host header yet"};
  return SniffResult{"http1", std::move(host)};
}

}  // namespace xsup::worker::dispatch::sniff
