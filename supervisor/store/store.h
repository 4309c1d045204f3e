#pragma once
// The store (DESIGN.md §4): SQLite through POCO Data, written only by the supervisor. WAL
// journal, foreign keys, a busy timeout, versioned migrations. It keeps the users, the
// traffic totals per counter (user, inbound, outbound) and their history per minute, hour
// and day. Every call runs on the supervisor's event loop; a flush is one transaction.
// The store is control plane: a failure throws StoreError with what SQLite said.

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace Poco::Data {
class Session;
}

namespace xsup::supervisor::store {

struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Why a user may not connect; kNone = enabled.
enum class DisabledReason { kNone, kOperator, kQuota, kExpired };
std::string_view reason_name(DisabledReason reason);  // "", "disabled", "quota", "expired"
DisabledReason reason_from_name(std::string_view name);

struct UserRecord {
  std::int64_t id = 0;
  std::string email;
  std::string uuid;
  std::string password;
  std::string flow;
  std::uint32_t level = 0;
  std::vector<std::string> inbounds;
  DisabledReason disabled = DisabledReason::kNone;
  std::uint64_t quota = 0;     // bytes up + down; 0 = none
  std::int64_t expire_at = 0;  // unix seconds; 0 = never
  std::uint32_t ip_limit = 0;  // distinct client IPs connected at once; 0 = any number
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// A traffic counter: kind "user", "inbound" or "outbound", and its name.
using CounterKey = std::pair<std::string, std::string>;

struct Traffic {
  std::uint64_t uplink = 0;
  std::uint64_t downlink = 0;
  std::uint64_t connections = 0;
  Traffic& operator+=(const Traffic& o) {
    uplink += o.uplink;
    downlink += o.downlink;
    connections += o.connections;
    return *this;
  }
};

// One row of history: the period's start (unix seconds), its length in seconds (60, 3600 or
// 86400) and the traffic in it.
struct HistoryRow {
  std::int64_t start = 0;
  std::int64_t seconds = 0;
  Traffic traffic;
};

class Store {
 public:
  // Opens (creating the file and its directory when missing) and migrates.
  static std::unique_ptr<Store> open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  int schema_version() const;

  std::vector<UserRecord> load_users();
  // Inserts `user` (its id is set); fails on a duplicate email.
  void insert_user(UserRecord& user);
  // Rewrites every field of the user with user.id.
  void update_user(const UserRecord& user);
  // Deletes the user, its inbound tags, totals and history.
  void delete_user(const UserRecord& user);

  std::map<CounterKey, Traffic> load_totals();
  // One transaction: adds each delta to its total and to the minute row of `minute`
  // (unix seconds, a multiple of 60).
  void flush(const std::map<CounterKey, Traffic>& deltas, std::int64_t minute);
  // Sets a counter's total to zero (its history stays).
  void reset_total(const CounterKey& key);
  // Folds minute rows older than 48 h into hours and hour rows older than 90 days into
  // days, `now` in unix seconds.
  void roll_up(std::int64_t now);
  // The history of one counter in [since, until), oldest first.
  std::vector<HistoryRow> history(const CounterKey& key, std::int64_t since, std::int64_t until);
  // "ok", or what PRAGMA integrity_check found.
  std::string integrity_check();

 private:
  explicit Store(std::string path);
  void migrate();

  std::string path_;
  std::unique_ptr<Poco::Data::Session> session_;
  int version_ = 0;
};

}  // namespace xsup::supervisor::store
