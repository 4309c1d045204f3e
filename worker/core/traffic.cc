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
  if (owner_ != nullptr) {
    owner_->forget_ip(*handle_);
    owner_->entries_.erase(handle_);
  }
  owner_ = nullptr;
}

bool UserConnections::admits(const std::string& user, const std::string& ip,
                             std::uint32_t ip_limit) const {
  if (ip_limit == 0) return true;
  if (auto allowed = allowed_.find(user); allowed != allowed_.end()) {
    return allowed->second.count(ip) != 0;
  }
  auto it = ips_.find(user);
  if (it == ips_.end()) return true;
  return it->second.count(ip) != 0 || it->second.size() < ip_limit;
}

UserConnections::Enrollment UserConnections::enroll(std::string user, std::string inbound_tag,
                                                    std::string ip, std::function<void()> close) {
  if (!ip.empty() && ++ips_[user][ip] == 1) changed_.insert(user);
  entries_.push_back(
      Entry{std::move(user), std::move(inbound_tag), std::move(ip), std::move(close)});
  return Enrollment(this, std::prev(entries_.end()));
}

void UserConnections::forget_ip(const Entry& entry) {
  if (entry.ip.empty()) return;
  auto user = ips_.find(entry.user);
  if (user == ips_.end()) return;
  auto ip = user->second.find(entry.ip);
  if (ip == user->second.end() || --ip->second != 0) return;
  user->second.erase(ip);
  changed_.insert(entry.user);
  if (user->second.empty()) ips_.erase(user);
}

std::size_t UserConnections::set_allowed_ips(const nlohmann::json& users) {
  allowed_.clear();
  if (users.is_object()) {
    for (const auto& [user, ips] : users.items()) {
      auto& set = allowed_[user];
      if (!ips.is_array()) continue;
      for (const auto& ip : ips) {
        if (ip.is_string()) set.insert(ip.get<std::string>());
      }
    }
  }
  if (allowed_.empty()) return 0;
  return close_if_entry([this](const Entry& entry) {
    if (entry.ip.empty()) return false;
    auto it = allowed_.find(entry.user);
    return it != allowed_.end() && it->second.count(entry.ip) == 0;
  });
}

nlohmann::json UserConnections::take_ip_report() {
  if (changed_.empty()) return nullptr;
  nlohmann::json out = nlohmann::json::object();
  for (const auto& user : changed_) {
    nlohmann::json list = nlohmann::json::array();
    if (auto it = ips_.find(user); it != ips_.end()) {
      for (const auto& [ip, count] : it->second) list.push_back(ip);
    }
    out[user] = std::move(list);
  }
  changed_.clear();
  return out;
}

std::size_t UserConnections::close_if(
    const std::function<bool(const std::string&, const std::string&)>& lost) {
  return close_if_entry(
      [&lost](const Entry& entry) { return lost(entry.user, entry.inbound_tag); });
}

std::size_t UserConnections::close_if_entry(const std::function<bool(const Entry&)>& lost) {
  std::size_t closed = 0;
  for (auto& entry : entries_) {
    if (entry.close == nullptr || !lost(entry)) continue;
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
