#pragma once
// Users' IP limits across workers (`xsup user --ip-limit N`: at most N client IPs connected
// at once). Each worker reports the client IPs of its limited users as they change; this
// joins the reports and, for every user at or over their limit, picks the IPs allowed to
// stay: the N that connected first. The supervisor sends that list to every worker, which
// closes the user's connections from other IPs and refuses new ones
// (worker/core/traffic.h, UserConnections).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

namespace xsup::supervisor::users {

class IpLimits {
 public:
  using Clock = std::chrono::steady_clock;
  // A user's limit, 0 for none (the user may be gone).
  using LimitOf = std::function<std::uint32_t(const std::string& email)>;

  // Worker `pid`'s report {email: [ip, ...]}: those users' IPs in that worker now.
  void report(pid_t pid, const nlohmann::json& users, Clock::time_point now);
  // A worker ended: its connections are gone.
  void forget(pid_t pid);
  // Recomputes the allowed lists; true when they changed since the last call.
  bool recompute(const LimitOf& limit_of);
  // {email: [ip, ...]} for every user at or over their limit.
  nlohmann::json allowed_json() const;

 private:
  std::map<pid_t, std::map<std::string, std::set<std::string>>> by_worker_;
  std::map<std::pair<std::string, std::string>, Clock::time_point> first_seen_;
  std::map<std::string, std::set<std::string>> allowed_;
};

}  // namespace xsup::supervisor::users
