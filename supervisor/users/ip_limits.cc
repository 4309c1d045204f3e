#include "supervisor/users/ip_limits.h"

#include <algorithm>
#include <vector>

namespace xsup::supervisor::users {

void IpLimits::report(pid_t pid, const nlohmann::json& users, Clock::time_point now) {
  if (!users.is_object()) return;
  auto& worker = by_worker_[pid];
  for (const auto& [email, ips] : users.items()) {
    std::set<std::string> set;
    if (ips.is_array()) {
      for (const auto& ip : ips) {
        if (!ip.is_string()) continue;
        set.insert(ip.get<std::string>());
        first_seen_.try_emplace({email, ip.get<std::string>()}, now);
      }
    }
    if (set.empty()) {
      worker.erase(email);
    } else {
      worker[email] = std::move(set);
    }
  }
}

void IpLimits::forget(pid_t pid) { by_worker_.erase(pid); }

bool IpLimits::recompute(const LimitOf& limit_of) {
  // Every user's IPs over all workers.
  std::map<std::string, std::set<std::string>> live;
  for (const auto& [pid, users] : by_worker_) {
    for (const auto& [email, ips] : users) live[email].insert(ips.begin(), ips.end());
  }
  // An IP that no worker holds any more starts afresh when it comes back.
  for (auto it = first_seen_.begin(); it != first_seen_.end();) {
    auto user = live.find(it->first.first);
    const bool held = user != live.end() && user->second.count(it->first.second) != 0;
    it = held ? std::next(it) : first_seen_.erase(it);
  }
  std::map<std::string, std::set<std::string>> allowed;
  for (const auto& [email, ips] : live) {
    const std::uint32_t limit = limit_of(email);
    if (limit == 0 || ips.size() < limit) continue;
    std::vector<std::pair<Clock::time_point, std::string>> order;
    for (const auto& ip : ips) order.emplace_back(first_seen_.at({email, ip}), ip);
    std::sort(order.begin(), order.end());
    auto& keep = allowed[email];
    for (std::size_t i = 0; i < limit; ++i) keep.insert(order[i].second);
  }
  if (allowed == allowed_) return false;
  allowed_ = std::move(allowed);
  return true;
}

nlohmann::json IpLimits::allowed_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [email, ips] : allowed_) out[email] = ips;
  return out;
}

}  // namespace xsup::supervisor::users
