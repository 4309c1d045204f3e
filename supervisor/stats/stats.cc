#include "supervisor/stats/stats.h"

namespace xsup::supervisor::stats {
namespace {

using nlohmann::json;

// The message's section names and the counter kinds they feed.
constexpr std::pair<const char*, const char*> kSections[] = {
    {"users", "user"}, {"inbounds", "inbound"}, {"outbounds", "outbound"}};

const char* section_of(const std::string& kind) {
  for (auto [section, k] : kSections) {
    if (kind == k) return section;
  }
  return "other";
}

}  // namespace

Stats::Stats(store::Store& store) : store_(store) {}

void Stats::load() { totals_ = store_.load_totals(); }

std::vector<std::string> Stats::add(const json& message) {
  std::vector<std::string> users;
  for (auto [section, kind] : kSections) {
    auto it = message.find(section);
    if (it == message.end() || !it->is_object()) continue;
    for (const auto& [name, cell] : it->items()) {
      if (!cell.is_array() || cell.size() != 3) continue;
      Traffic t;
      try {
        t = Traffic{cell[0].get<std::uint64_t>(), cell[1].get<std::uint64_t>(),
                    cell[2].get<std::uint64_t>()};
      } catch (const json::exception&) {
        continue;
      }
      CounterKey key{kind, name};
      totals_[key] += t;
      pending_[key] += t;
      window_[key] += t;
      if (std::string_view(kind) == "user") users.push_back(name);
    }
  }
  return users;
}

void Stats::tick() {
  rates_ = std::move(window_);
  window_.clear();
}

void Stats::flush(std::int64_t now) {
  if (pending_.empty()) return;
  std::map<CounterKey, Traffic> batch;
  batch.swap(pending_);
  try {
    store_.flush(batch, now - now % 60);
  } catch (...) {
    for (auto& [key, t] : batch) pending_[key] += t;
    throw;
  }
}

Traffic Stats::total(const CounterKey& key) const {
  auto it = totals_.find(key);
  return it == totals_.end() ? Traffic{} : it->second;
}

std::uint64_t Stats::used(const std::string& email) const {
  auto t = total({"user", email});
  return t.uplink + t.downlink;
}

void Stats::reset(const CounterKey& key) {
  store_.reset_total(key);
  totals_[key] = Traffic{};
  pending_.erase(key);
}

void Stats::forget(const CounterKey& key) {
  totals_.erase(key);
  pending_.erase(key);
  window_.erase(key);
  rates_.erase(key);
}

json Stats::counters(const std::optional<std::string>& user) const {
  json out = json::object();
  for (const auto& [key, t] : totals_) {
    if (user && (key.first != "user" || key.second != *user)) continue;
    std::string base = key.first + ">>>" + key.second + ">>>traffic>>>";
    out[base + "uplink"] = t.uplink;
    out[base + "downlink"] = t.downlink;
  }
  return out;
}

json Stats::report(const std::optional<std::string>& user) const {
  json out = {
      {"users", json::object()}, {"inbounds", json::object()}, {"outbounds", json::object()}};
  for (const auto& [key, t] : totals_) {
    if (user && (key.first != "user" || key.second != *user)) continue;
    auto rate = rates_.find(key);
    Traffic r = rate == rates_.end() ? Traffic{} : rate->second;
    out[section_of(key.first)][key.second] = {{"uplink", t.uplink},
                                              {"downlink", t.downlink},
                                              {"connections", t.connections},
                                              {"uplink_rate", r.uplink},
                                              {"downlink_rate", r.downlink}};
  }
  return out;
}

}  // namespace xsup::supervisor::stats
