#pragma once
// The store's users as the supervisor holds them (DESIGN.md §4): the single owner of the
// user set. Every change is checked against the running configuration, written to the
// store, then pushed whole to every worker (a new UserSet version). A user may connect when
// enabled, not expired and under quota; the supervisor disables the others with the reason.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "shared/config/model.h"
#include "shared/users/user_set.h"
#include "supervisor/store/store.h"

namespace xsup::supervisor::users {

// A refused change, worded for the operator ("--inbound: no inbound is tagged \"x\"").
struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses "10GB", "1.5 GiB", "500MB", "123" (bytes), "0"/"none" (no quota). Decimal units
// are powers of 1000, binary units (KiB…) powers of 1024.
std::optional<std::uint64_t> parse_bytes(std::string_view text);
// Parses "2026-12-31" (the end of that day, UTC), "2026-12-31T18:30:00Z", a unix time in
// seconds, or "never"/"none" (0).
std::optional<std::int64_t> parse_expiry(std::string_view text);
std::string format_time(std::int64_t unix_seconds);  // "2026-12-31T23:59:59Z"
std::string format_bytes(std::uint64_t bytes);       // "1.50 GB"

// The fields of `xsup user add|set`, each optional (absent = keep, or generate on add).
struct UserChange {
  std::string email;
  std::optional<std::vector<std::string>> inbounds;
  std::optional<std::string> uuid;
  std::optional<std::string> password;
  std::optional<std::string> flow;
  std::optional<std::uint32_t> level;
  std::optional<std::string> quota;   // as given: "10GB"
  std::optional<std::string> expire;  // as given: "2026-12-31"
  std::optional<std::string> ip_limit;

  static UserChange from_json(const nlohmann::json& params);  // throws UserError
};

class UserBook {
 public:
  explicit UserBook(store::Store& store);

  // Reads the users from the store.
  void load();
  // The configuration the users are checked against (inbound tags, protocols, the
  // config's own accounts, xsup.publicAddress).
  void set_config(const config::Config& config, const nlohmann::json& document);

  // Each change throws UserError when refused; on success the store has it and version()
  // grew (the caller pushes snapshot() to the workers).
  nlohmann::json add(const UserChange& change);
  nlohmann::json set(const UserChange& change);
  nlohmann::json enable(const std::string& email);
  nlohmann::json disable(const std::string& email);
  void remove(const std::string& email);
  const store::UserRecord& get(const std::string& email) const;  // throws UserError
  // The share links of a user, one per inbound: [{inbound, link} or {inbound, error}].
  nlohmann::json links(const std::string& email) const;

  // Disables users past their expiry (now in unix seconds) or over quota (`used` gives a
  // user's bytes up + down); returns the emails disabled.
  std::vector<std::string> enforce(std::int64_t now,
                                   const std::function<std::uint64_t(const std::string&)>& used);
  // A user under quota again (after reset-traffic or a larger quota) or no longer expired
  // is enabled again if the limit was why it was off.
  bool lift_if_allowed(store::UserRecord& user, std::int64_t now,
                       const std::function<std::uint64_t(const std::string&)>& used);

  // The users allowed to connect now, as pushed to the workers.
  xsup::users::UserSet snapshot() const;
  std::uint64_t version() const { return version_; }
  const std::map<std::string, store::UserRecord>& all() const { return users_; }
  std::size_t size() const { return users_.size(); }

 private:
  struct InboundInfo {
    std::string protocol;
    bool takes_users = false;               // false: dokodemo-door, socks without password auth
    std::vector<std::string> config_names;  // the config's own user names/emails
    std::size_t psk_size = 0;  // Shadowsocks 2022: the password is a base64 key of this size
    std::string refusal;       // why it takes no users, when takes_users is false
  };
  void check_inbounds(const std::vector<std::string>& tags, const std::string& email) const;
  void fill_credentials(store::UserRecord& user, bool generate) const;
  void check_unique(const store::UserRecord& user) const;
  // Applies the fields `change` gives (absent ones keep the record's) and checks the result.
  void apply(store::UserRecord& user, const UserChange& change) const;
  void changed() { ++version_; }

  store::Store& store_;
  std::map<std::string, store::UserRecord> users_;  // by email
  std::map<std::string, InboundInfo> inbounds_;     // by tag
  nlohmann::json document_;
  std::string public_address_;
  std::uint64_t version_ = 1;
};

// A user as the control API shows it; `traffic` adds its totals.
nlohmann::json user_json(const store::UserRecord& user, const store::Traffic& traffic);

}  // namespace xsup::supervisor::users
