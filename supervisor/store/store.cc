#include "supervisor/store/store.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <mutex>

namespace xsup::supervisor::store {
namespace {

using namespace Poco::Data::Keywords;
using Poco::Int64;

// Each migration takes the schema from version i to i + 1; applied in one transaction
// with the version bump. Append only: a released migration never changes.
constexpr std::array<std::string_view, 2> kMigrations = {
    R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  uuid TEXT NOT NULL DEFAULT '',
  password TEXT NOT NULL DEFAULT '',
  flow TEXT NOT NULL DEFAULT '',
  level INTEGER NOT NULL DEFAULT 0,
  disabled TEXT NOT NULL DEFAULT '',
  quota_bytes INTEGER NOT NULL DEFAULT 0,
  expire_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE user_inbounds (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  inbound_tag TEXT NOT NULL,
  PRIMARY KEY (user_id, inbound_tag)
);
CREATE TABLE traffic_totals (
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  uplink INTEGER NOT NULL DEFAULT 0,
  downlink INTEGER NOT NULL DEFAULT 0,
  connections INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, name)
);
CREATE TABLE traffic_minute (
  kind TEXT NOT NULL, name TEXT NOT NULL, start INTEGER NOT NULL,
  uplink INTEGER NOT NULL, downlink INTEGER NOT NULL, connections INTEGER NOT NULL,
  PRIMARY KEY (kind, name, start)
);
CREATE TABLE traffic_hour (
  kind TEXT NOT NULL, name TEXT NOT NULL, start INTEGER NOT NULL,
  uplink INTEGER NOT NULL, downlink INTEGER NOT NULL, connections INTEGER NOT NULL,
  PRIMARY KEY (kind, name, start)
);
CREATE TABLE traffic_day (
  kind TEXT NOT NULL, name TEXT NOT NULL, start INTEGER NOT NULL,
  uplink INTEGER NOT NULL, downlink INTEGER NOT NULL, connections INTEGER NOT NULL,
  PRIMARY KEY (kind, name, start)
);
)sql",
    R"sql(
ALTER TABLE users ADD COLUMN ip_limit INTEGER NOT NULL DEFAULT 0;
)sql",
};

constexpr std::int64_t kMinuteRowsKeep = 48 * 3600;
constexpr std::int64_t kHourRowsKeep = 90 * 86400;

template <class F>
auto guarded(std::string_view what, F&& f) {
  try {
    return f();
  } catch (const Poco::Exception& e) {
    throw StoreError(fmt::format("store: {}: {}", what, e.displayText()));
  }
}

// Splits a script into statements at ';' line ends (the migrations hold no ';' elsewhere).
std::vector<std::string> statements(std::string_view script) {
  std::vector<std::string> out;
  std::string current;
  for (char c : script) {
    current += c;
    if (c == ';') {
      out.push_back(current);
      current.clear();
    }
  }
  return out;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string_view reason_name(DisabledReason reason) {
  switch (reason) {
    case DisabledReason::kNone:
      return "";
    case DisabledReason::kOperator:
      return "disabled";
    case DisabledReason::kQuota:
      return "quota";
    case DisabledReason::kExpired:
      return "expired";
  }
  return "";
}

DisabledReason reason_from_name(std::string_view name) {
  if (name.empty()) return DisabledReason::kNone;
  if (name == "quota") return DisabledReason::kQuota;
  if (name == "expired") return DisabledReason::kExpired;
  return DisabledReason::kOperator;
}

Store::Store(std::string path) : path_(std::move(path)) {}
Store::~Store() = default;

std::unique_ptr<Store> Store::open(const std::string& path) {
  static std::once_flag registered;
  std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
    if (ec)
      throw StoreError(fmt::format("store: cannot create {}: {}", dir.string(), ec.message()));
  }
  std::unique_ptr<Store> store(new Store(path));
  guarded("open " + path, [&] {
    store->session_ = std::make_unique<Poco::Data::Session>("SQLite", path);
    auto& s = *store->session_;
    std::string mode;
    s << "PRAGMA journal_mode = WAL", into(mode), now;
    if (mode != "wal") throw StoreError("store: " + path + ": WAL journal refused (" + mode + ")");
    // NORMAL in WAL: a commit survives the process dying at any moment (only power loss
    // can take the last transactions back).
    s << "PRAGMA synchronous = NORMAL", now;
    s << "PRAGMA foreign_keys = ON", now;
    int timeout = 0;
    s << "PRAGMA busy_timeout = 5000", into(timeout), now;
  });
  store->migrate();
  return store;
}

void Store::migrate() {
  guarded("migrate", [&] {
    auto& s = *session_;
    s << "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", now;
    int rows = 0;
    s << "SELECT count(*) FROM schema_version", into(rows), now;
    if (rows == 0) s << "INSERT INTO schema_version VALUES (0)", now;
    s << "SELECT version FROM schema_version", into(version_), now;
    if (version_ > static_cast<int>(kMigrations.size())) {
      throw StoreError(fmt::format("store: {} has schema version {}, newer than this xsup ({})",
                                   path_, version_, kMigrations.size()));
    }
    while (version_ < static_cast<int>(kMigrations.size())) {
      s.begin();
      try {
        for (auto& sql : statements(kMigrations[static_cast<std::size_t>(version_)])) {
          s << sql, now;
        }
        int next = version_ + 1;
        s << "UPDATE schema_version SET version = ?", use(next), now;
        s.commit();
        version_ = next;
      } catch (...) {
        s.rollback();
        throw;
      }
    }
  });
}

int Store::schema_version() const { return version_; }

std::vector<UserRecord> Store::load_users() {
  return guarded("load users", [&] {
    auto& s = *session_;
    std::vector<Int64> id, level, quota, expire, created, updated, ip_limit;
    std::vector<std::string> email, uuid, password, flow, disabled;
    s << "SELECT id, email, uuid, password, flow, level, disabled, quota_bytes, expire_at, "
         "created_at, updated_at, ip_limit FROM users ORDER BY id",
        into(id), into(email), into(uuid), into(password), into(flow), into(level), into(disabled),
        into(quota), into(expire), into(created), into(updated), into(ip_limit), now;
    std::vector<UserRecord> users(id.size());
    std::map<Int64, std::size_t> by_id;
    for (std::size_t i = 0; i < id.size(); ++i) {
      auto& u = users[i];
      u.id = id[i];
      u.email = std::move(email[i]);
      u.uuid = std::move(uuid[i]);
      u.password = std::move(password[i]);
      u.flow = std::move(flow[i]);
      u.level = static_cast<std::uint32_t>(level[i]);
      u.disabled = reason_from_name(disabled[i]);
      u.quota = static_cast<std::uint64_t>(quota[i]);
      u.expire_at = expire[i];
      u.created_at = created[i];
      u.updated_at = updated[i];
      u.ip_limit = static_cast<std::uint32_t>(ip_limit[i]);
      by_id[u.id] = i;
    }
    std::vector<Int64> owner;
    std::vector<std::string> tag;
    s << "SELECT user_id, inbound_tag FROM user_inbounds ORDER BY user_id, rowid", into(owner),
        into(tag), now;
    for (std::size_t i = 0; i < owner.size(); ++i) {
      auto it = by_id.find(owner[i]);
      if (it != by_id.end()) users[it->second].inbounds.push_back(std::move(tag[i]));
    }
    return users;
  });
}

namespace {

void write_inbounds(Poco::Data::Session& s, Int64 id, const std::vector<std::string>& tags) {
  s << "DELETE FROM user_inbounds WHERE user_id = ?", use(id), now;
  for (std::string tag : tags) {
    s << "INSERT OR IGNORE INTO user_inbounds (user_id, inbound_tag) VALUES (?, ?)", use(id),
        use(tag), now;
  }
}

}  // namespace

void Store::insert_user(UserRecord& user) {
  guarded("add user " + user.email, [&] {
    auto& s = *session_;
    user.created_at = user.updated_at = unix_now();
    std::string email = user.email, uuid = user.uuid, password = user.password, flow = user.flow,
                disabled(reason_name(user.disabled));
    Int64 level = user.level, quota = static_cast<Int64>(user.quota), expire = user.expire_at,
          created = user.created_at, updated = user.updated_at, ip_limit = user.ip_limit;
    s.begin();
    try {
      s << "INSERT INTO users (email, uuid, password, flow, level, disabled, quota_bytes, "
           "expire_at, created_at, updated_at, ip_limit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          use(email), use(uuid), use(password), use(flow), use(level), use(disabled), use(quota),
          use(expire), use(created), use(updated), use(ip_limit), now;
      Int64 id = 0;
      s << "SELECT last_insert_rowid()", into(id), now;
      user.id = id;
      write_inbounds(s, id, user.inbounds);
      s.commit();
    } catch (...) {
      s.rollback();
      throw;
    }
  });
}

void Store::update_user(const UserRecord& user) {
  guarded("update user " + user.email, [&] {
    auto& s = *session_;
    std::string email = user.email, uuid = user.uuid, password = user.password, flow = user.flow,
                disabled(reason_name(user.disabled));
    Int64 id = user.id, level = user.level, quota = static_cast<Int64>(user.quota),
          expire = user.expire_at, updated = unix_now(), ip_limit = user.ip_limit;
    s.begin();
    try {
      s << "UPDATE users SET email = ?, uuid = ?, password = ?, flow = ?, level = ?, "
           "disabled = ?, quota_bytes = ?, expire_at = ?, updated_at = ?, ip_limit = ? "
           "WHERE id = ?",
          use(email), use(uuid), use(password), use(flow), use(level), use(disabled), use(quota),
          use(expire), use(updated), use(ip_limit), use(id), now;
      write_inbounds(s, id, user.inbounds);
      s.commit();
    } catch (...) {
      s.rollback();
      throw;
    }
  });
}

void Store::delete_user(const UserRecord& user) {
  guarded("delete user " + user.email, [&] {
    auto& s = *session_;
    Int64 id = user.id;
    std::string email = user.email;
    s.begin();
    try {
      s << "DELETE FROM users WHERE id = ?", use(id), now;
      for (const char* table :
           {"traffic_totals", "traffic_minute", "traffic_hour", "traffic_day"}) {
        s << fmt::format("DELETE FROM {} WHERE kind = 'user' AND name = ?", table), use(email), now;
      }
      s.commit();
    } catch (...) {
      s.rollback();
      throw;
    }
  });
}

std::map<CounterKey, Traffic> Store::load_totals() {
  return guarded("load totals", [&] {
    std::vector<std::string> kind, name;
    std::vector<Int64> up, down, conns;
    *session_ << "SELECT kind, name, uplink, downlink, connections FROM traffic_totals", into(kind),
        into(name), into(up), into(down), into(conns), now;
    std::map<CounterKey, Traffic> out;
    for (std::size_t i = 0; i < kind.size(); ++i) {
      out[{kind[i], name[i]}] =
          Traffic{static_cast<std::uint64_t>(up[i]), static_cast<std::uint64_t>(down[i]),
                  static_cast<std::uint64_t>(conns[i])};
    }
    return out;
  });
}

void Store::flush(const std::map<CounterKey, Traffic>& deltas, std::int64_t minute) {
  if (deltas.empty()) return;
  guarded("flush", [&] {
    std::vector<std::string> kind, name;
    std::vector<Int64> up, down, conns;
    for (const auto& [key, t] : deltas) {
      kind.push_back(key.first);
      name.push_back(key.second);
      up.push_back(static_cast<Int64>(t.uplink));
      down.push_back(static_cast<Int64>(t.downlink));
      conns.push_back(static_cast<Int64>(t.connections));
    }
    Int64 start = minute;
    auto& s = *session_;
    s.begin();
    try {
      s << "INSERT INTO traffic_totals (kind, name, uplink, downlink, connections) "
           "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, name) DO UPDATE SET "
           "uplink = uplink + excluded.uplink, downlink = downlink + excluded.downlink, "
           "connections = connections + excluded.connections",
          use(kind), use(name), use(up), use(down), use(conns), now;
      std::vector<Int64> starts(kind.size(), start);
      s << "INSERT INTO traffic_minute (kind, name, start, uplink, downlink, connections) "
           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, name, start) DO UPDATE SET "
           "uplink = uplink + excluded.uplink, downlink = downlink + excluded.downlink, "
           "connections = connections + excluded.connections",
          use(kind), use(name), use(starts), use(up), use(down), use(conns), now;
      s.commit();
    } catch (...) {
      s.rollback();
      throw;
    }
  });
}

void Store::reset_total(const CounterKey& key) {
  guarded("reset " + key.second, [&] {
    std::string kind = key.first, name = key.second;
    *session_ << "UPDATE traffic_totals SET uplink = 0, downlink = 0, connections = 0 "
                 "WHERE kind = ? AND name = ?",
        use(kind), use(name), now;
  });
}

void Store::roll_up(std::int64_t now_seconds) {
  guarded("roll up history", [&] {
    auto& s = *session_;
    auto fold = [&](const char* from, const char* to, std::int64_t period, std::int64_t keep) {
      Int64 cutoff = now_seconds - keep;
      cutoff -= cutoff % period;  // whole periods only
      Int64 width = period;
      s << fmt::format(
          "INSERT INTO {1} (kind, name, start, uplink, downlink, connections) "
          "SELECT kind, name, start - start % ?, sum(uplink), sum(downlink), "
          "sum(connections) FROM {0} WHERE start < ? GROUP BY 1, 2, 3 "
          "ON CONFLICT (kind, name, start) DO UPDATE SET "
          "uplink = uplink + excluded.uplink, downlink = downlink + excluded.downlink, "
          "connections = connections + excluded.connections",
          from, to),
          use(width), use(cutoff), now;
      s << fmt::format("DELETE FROM {} WHERE start < ?", from), use(cutoff), now;
    };
    s.begin();
    try {
      fold("traffic_minute", "traffic_hour", 3600, kMinuteRowsKeep);
      fold("traffic_hour", "traffic_day", 86400, kHourRowsKeep);
      s.commit();
    } catch (...) {
      s.rollback();
      throw;
    }
  });
}

std::vector<HistoryRow> Store::history(const CounterKey& key, std::int64_t since,
                                       std::int64_t until) {
  return guarded("history", [&] {
    std::vector<HistoryRow> out;
    for (auto [table, seconds] : {std::pair{"traffic_day", 86400}, std::pair{"traffic_hour", 3600},
                                  std::pair{"traffic_minute", 60}}) {
      std::string kind = key.first, name = key.second;
      Int64 from = since, to = until;
      std::vector<Int64> start, up, down, conns;
      *session_ << fmt::format(
          "SELECT start, uplink, downlink, connections FROM {} WHERE kind = ? AND "
          "name = ? AND start >= ? AND start < ? ORDER BY start",
          table),
          use(kind), use(name), use(from), use(to), into(start), into(up), into(down), into(conns),
          now;
      for (std::size_t i = 0; i < start.size(); ++i) {
        out.push_back(HistoryRow{
            start[i], seconds,
            Traffic{static_cast<std::uint64_t>(up[i]), static_cast<std::uint64_t>(down[i]),
                    static_cast<std::uint64_t>(conns[i])}});
      }
    }
    std::sort(out.begin(), out.end(),
              [](const HistoryRow& a, const HistoryRow& b) { return a.start < b.start; });
    return out;
  });
}

std::string Store::integrity_check() {
  return guarded("integrity check", [&] {
    std::vector<std::string> rows;
    *session_ << "PRAGMA integrity_check", into(rows), now;
    std::string out;
    for (const auto& r : rows) out += (out.empty() ? "" : "; ") + r;
    return out;
  });
}

}  // namespace xsup::supervisor::store
