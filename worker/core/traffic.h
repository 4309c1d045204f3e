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
class UserConnections {
 public:
  struct Entry {
    std::string user;
    std::string inbound_tag;
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

  Enrollment enroll(std::string user, std::string inbound_tag, std::function<void()> close);
  // Closes every connection for which `lost(user, inbound_tag)` holds; returns how many.
  std::size_t close_if(const std::function<bool(const std::string&, const std::string&)>& lost);
  std::size_t size() const { return entries_.size(); }

 private:
  std::list<Entry> entries_;
};

UserConnections& user_connections();

}  // namespace xsup::worker::core
