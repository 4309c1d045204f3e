#pragma once
// What a stub resolver needs from the system: nameservers and options from resolv.conf(5)
// and the static table of hosts(5). The supervisor reads the files before it starts the
// workers (DESIGN.md §1: workers never open files) and hands them this struct as JSON.
// The parsers are pure; only load_system_resolver_config touches the file system.

#include <asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/error.h"

namespace xsup::dns {

// resolv.conf(5) defaults and limits, as glibc applies them.
constexpr std::chrono::milliseconds kDefaultTimeout{5000};
constexpr int kDefaultAttempts = 2;
constexpr int kMaxAttempts = 5;         // RES_MAXRETRY
constexpr int kMaxTimeoutSeconds = 30;  // RES_MAXRETRANS
constexpr int kMaxNdots = 15;
constexpr std::size_t kMaxNameservers = 3;  // MAXNS: later lines are ignored

struct ResolverConfig {
  std::vector<asio::ip::address> nameservers;           // 127.0.0.1 when resolv.conf names none
  std::chrono::milliseconds timeout = kDefaultTimeout;  // per query to one server
  int attempts = kDefaultAttempts;                      // rounds over the server list
  std::multimap<std::string, asio::ip::address> hosts;  // lower-case name -> address
  // Kept as data: the resolver treats every name as fully qualified.
  int ndots = 1;
  std::vector<std::string> search;
  // RFC 1035 §4.2: servers listen on 53; tests point this at a fake server.
  std::uint16_t port = 53;
};

// Applies the lines of a resolv.conf to `config`; unknown lines and options are ignored, as
// the C library does. Adds the 127.0.0.1 default when no nameserver line is valid.
ResolverConfig parse_resolv_conf(std::string_view text);

// "address name [aliases...]" lines; '#' starts a comment; lines with a bad address are
// skipped. Names are stored lower case, without a final dot.
std::multimap<std::string, asio::ip::address> parse_hosts(std::string_view text);

// Reads /etc/resolv.conf and /etc/hosts (missing files give the defaults). Blocking file
// I/O: for the supervisor before it starts workers, never for an event loop.
ResolverConfig load_system_resolver_config(const std::string& resolv_conf_path = "/etc/resolv.conf",
                                           const std::string& hosts_path = "/etc/hosts");

nlohmann::json to_json(const ResolverConfig& config);
// The inverse of to_json; kProtocol when a field is missing, of the wrong type or out of range.
base::Expected<ResolverConfig> resolver_config_from_json(const nlohmann::json& json);

}  // namespace xsup::dns
