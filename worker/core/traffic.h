#pragma once
// Traffic accounting inside one worker (DESIGN.md §3 "stats batcher"): per user, inbound
// and outbound, payload bytes up and down and connections. The relay adds to a session's
// cells as bytes move (three additions, no lookup, no allocation); once a second the
// worker takes the non-zero cells as deltas and sends them to the supervisor.
//
// Counted bytes are payload: what the client sent past its protocol header (uplink) and
// what went back to it (downlink), before any framing or encryption of the outbound.

#include <cstdint>
#include <functional>
#include <list>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace xsup::worker::core {

class Stream;

struct TrafficCell {
  std::uint64_t uplink = 0;
  std::uint64_t downlink = 0;
  std::uint64_t connections = 0;
  bool empty() const { return uplink == 0 && downlink == 0 && connections == 0; }
};

// The cells one session adds to; a null cell is not counted.
struct TrafficCells {
  TrafficCell* user = nullptr;
  TrafficCell* inbound = nullptr;
  TrafficCell* outbound = nullptr;

  void add(bool uplink, std::uint64_t n) {
    for (TrafficCell* cell : {user, inbound, outbound}) {
      if (cell != nullptr) (uplink ? cell->uplink : cell->downlink) += n;
    }
  }
};

class TrafficTable {
 public:
  // The cell for a name (created once; cells never move or disappear).
  TrafficCell& user(const std::string& email) { return users_[email]; }
  TrafficCell& inbound(const std::string& tag) { return inbounds_[tag]; }
  TrafficCell& outbound(const std::string& tag) { return outbounds_[tag]; }

  // The deltas since the last call, as {"users":{name:[up,down,conns]},"inbounds":…,
  // "outbounds":…} with only non-zero cells; the cells restart from zero. Empty object when
  // nothing moved.
  nlohmann::json take_deltas();

  bool enabled = true;  // xsup.stats; off = sessions get no cells

 private:
  std::unordered_map<std::string, TrafficCell> users_;
  std::unordered_map<std::string, TrafficCell> inbounds_;
  std::unordered_map<std::string, TrafficCell> outbounds_;
};

// The worker's table (one event loop per worker).
TrafficTable& traffic_table();

// The live connections of authenticated users, so that a user who is removed, disabled or
// over quota loses them at once. A connection enrolls while it relays; `close` ends it.
//
// It also keeps users to their IP limit (`xsup user --ip-limit N`: at most N client IPs
// connected at once). Each worker knows only its own connections, so the supervisor joins
// the workers' reports and sends back, for every user at their limit, the IPs allowed to
// stay (the N that connected first); connections from other IPs are then closed and new
// ones refused. Until a worker hears of such a list it admits a new IP while its own count
// of the user's IPs is under the limit, so two workers taking a new IP at the same moment
// can go over by one for up to a report interval (one second).
class UserConnections {
 public:
  struct Entry {
    std::string user;
    std::string inbound_tag;
    std::string ip;  // the client's, for users with an IP limit; "" otherwise
    std::function<void()> close;
  };
  using Handle = std::list<Entry>::iterator;

  // RAII enrollment: leaves the registry when the connection ends.
  class Enrollment {
   public:
    Enrollment() = default;
    Enrollment(UserConnections* owner, Handle handle) : owner_(owner), handle_(handle) {}
    Enrollment(Enrollment&& other) noexcept : owner_(other.owner_), handle_(other.handle_) {
      other.owner_ = nullptr;
    }
    Enrollment& operator=(Enrollment&& other) noexcept;
    Enrollment(const Enrollment&) = delete;
    Enrollment& operator=(const Enrollment&) = delete;
    ~Enrollment() { reset(); }
    void reset();
    // Whether the connection was closed by close_if (its user lost access).
    bool revoked() const { return owner_ != nullptr && handle_->close == nullptr; }

   private:
    UserConnections* owner_ = nullptr;
    Handle handle_{};
  };

  // Whether a new connection of `user` from `ip` stays within `ip_limit` (0 = no limit).
  bool admits(const std::string& user, const std::string& ip, std::uint32_t ip_limit) const;
  // `ip` is tracked for the IP limit when not empty.
  Enrollment enroll(std::string user, std::string inbound_tag, std::string ip,
                    std::function<void()> close);
  // Closes every connection for which `lost(user, inbound_tag)` holds; returns how many.
  std::size_t close_if(const std::function<bool(const std::string&, const std::string&)>& lost);
  std::size_t size() const { return entries_.size(); }

  // The supervisor's lists {user: [ip, ...]} of users at their IP limit; replaces the last
  // ones and closes the connections they do not allow. Returns how many were closed.
  std::size_t set_allowed_ips(const nlohmann::json& users);
  // The tracked users' client IPs, {user: [ip, ...]}, when they changed since the last
  // call (a user whose last connection ended is sent once with []); null otherwise.
  nlohmann::json take_ip_report();

 private:
  void forget_ip(const Entry& entry);
  std::size_t close_if_entry(const std::function<bool(const Entry&)>& lost);

  std::list<Entry> entries_;
  // user -> client IP -> live connections, for users with an IP limit.
  std::unordered_map<std::string, std::unordered_map<std::string, std::uint32_t>> ips_;
  std::unordered_map<std::string, std::unordered_set<std::string>> allowed_;
  std::unordered_set<std::string> changed_;  // users whose IPs changed since the last report
};

UserConnections& user_connections();

}  // namespace xsup::worker::core
