#include "worker/core/traffic.h"

namespace xsup::worker::core {
namespace {

nlohmann::json take(std::unordered_map<std::string, TrafficCell>& cells) {
  nlohmann::json out = nlohmann::json::object();
  for (auto& [name, cell] : cells) {
    if (cell.empty()) continue;
    out[name] = nlohmann::json::array({cell.uplink, cell.downlink, cell.connections});
    cell = TrafficCell{};
  }
  return out;
}

}  // namespace

nlohmann::json TrafficTable::take_deltas() {
  nlohmann::json out = nlohmann::json::object();
  if (auto u = take(users_); !u.empty()) out["users"] = std::move(u);
  if (auto i = take(inbounds_); !i.empty()) out["inbounds"] = std::move(i);
  if (auto o = take(outbounds_); !o.empty()) out["outbounds"] = std::move(o);
  return out;
}

TrafficTable& traffic_table() {
  static TrafficTable table;
  return table;
}

UserConnections::Enrollment& UserConnections::Enrollment::operator=(Enrollment&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = other.owner_;
    handle_ = other.handle_;
    other.owner_ = nullptr;
  }
  return *this;
}

void UserConnections::Enrollment::reset() {
  if (owner_ != nullptr) owner_->entries_.erase(handle_);
  owner_ = nullptr;
}

UserConnections::Enrollment UserConnections::enroll(std::string user, std::string inbound_tag,
                                                    std::function<void()> close) {
  entries_.push_back(Entry{std::move(user), std::move(inbound_tag), std::move(close)});
  return Enrollment(this, std::prev(entries_.end()));
}

std::size_t UserConnections::close_if(
    const std::function<bool(const std::string&, const std::string&)>& lost) {
  std::size_t closed = 0;
  for (auto& entry : entries_) {
    if (entry.close == nullptr || !lost(entry.user, entry.inbound_tag)) continue;
    auto close = std::move(entry.close);
    entry.close = nullptr;  // marks it revoked; the entry leaves with its connection
    close();
    ++closed;
  }
  return closed;
}

UserConnections& user_connections() {
  static UserConnections registry;
  return registry;
}

}  // namespace xsup::worker::core
