#pragma once
// The fallbacks of a VLESS or Trojan inbound (spec/vless.md §9.2, spec/trojan.md §4): where
// a connection that is not the protocol goes, chosen by SNI, ALPN and the HTTP/1 request
// path in its first bytes. Pure: built once from the config, then only read.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/model.h"

namespace xsup::worker::proxy::fallback {

class FallbackTable {
 public:
  explicit FallbackTable(const std::vector<config::Fallback>& fallbacks);
  FallbackTable(const FallbackTable&) = delete;  // the maps point into entries_
  FallbackTable& operator=(const FallbackTable&) = delete;

  bool empty() const { return by_name_.empty(); }
  // The entry for a connection, or nullptr when some level has no entry (the connection
  // is then dropped). `sni` and `alpn` come from the outer TLS session ("" without one);
  // `first` is the first buffer read from the client.
  const config::Fallback* pick(std::string_view sni, std::string_view alpn,
                               std::span<const std::uint8_t> first) const;

 private:
  using ByPath = std::map<std::string, const config::Fallback*, std::less<>>;
  using ByAlpn = std::map<std::string, ByPath, std::less<>>;
  std::map<std::string, ByAlpn, std::less<>> by_name_;
  std::vector<config::Fallback> entries_;
};

// spec/vless.md §9.2 step 3: the path of an HTTP/1 request line in the first bytes, or ""
// (too short, an h2c preface, no request line, or no end within 64 bytes).
std::string_view request_path(std::span<const std::uint8_t> first);

}  // namespace xsup::worker::proxy::fallback
