#pragma once
// The users the supervisor's store adds to the config's `clients` (DESIGN.md §4), as the
// supervisor pushes them to every worker: only users allowed to connect now (enabled, not
// expired, under quota), each with the inbound tags it may use. A push replaces the whole
// set; `version` grows with every change.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shared/base/error.h"

namespace xsup::users {

struct UserEntry {
  std::string email;     // unique; the SOCKS/HTTP user name
  std::string uuid;      // VLESS/VMess id, canonical text form; "" when none
  std::string password;  // Trojan/Shadowsocks/SOCKS/HTTP secret; "" when none
  std::string flow;      // VLESS flow; "" = none
  std::uint32_t level = 0;
  std::vector<std::string> inbounds;  // tags
  std::uint32_t ip_limit = 0;         // distinct client IPs at once; 0 = any number
};

struct UserSet {
  std::uint64_t version = 0;
  std::vector<UserEntry> users;
};

// Compact wire form:
// {"version":N,"users":[[email,uuid,password,flow,level,[tags...],ip_limit],...]}
// (arrays, not objects: a push of 10,000 users stays small and quick to parse).
nlohmann::json to_json(const UserSet& set);
base::Expected<UserSet> user_set_from_json(const nlohmann::json& body);

}  // namespace xsup::users
