#include "shared/config/loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "shared/config/builders.h"
#include "shared/config/comments.h"

namespace xsup::config {
namespace {

using nlohmann::json;

// Top-level sections in their canonical spelling (spec/config.md §1); Go matches them
// case-insensitively, so every file's keys are folded to these before merging.
constexpr std::array<std::string_view, 18> kSections{
    "log",       "api",     "dns",     "routing",     "policy",           "inbounds",
    "outbounds", "stats",   "fakedns", "observatory", "burstObservatory", "metrics",
    "version",   "geodata", "env",     "transport",   "reverse",          "xsup"};

// Sections xsup does not implement: present and non-empty is an error.
constexpr std::array<std::string_view, 10> kUnsupportedSections{
    "api",     "dns",     "stats",     "fakedns", "observatory", "burstObservatory",
    "metrics", "reverse", "transport", "geodata"};

json canonical_top(const json& document) {
  json out = json::object();
  for (const auto& [key, value] : document.items()) {
    std::string name = key;
    for (auto section : kSections) {
      if (iequals(key, section)) name = std::string(section);
    }
    out[name] = value;
  }
  return out;
}

// The `tag` of an inbound/outbound object ("" when missing: an empty tag is a tag too).
std::optional<std::string> tag_of(const json& entry) {
  if (!entry.is_object()) return std::nullopt;
  const json* found = nullptr;
  for (const auto& [key, value] : entry.items()) {
    if (key == "tag") {
      found = &value;
      break;
    }
    if (iequals(key, "tag")) found = &value;
  }
  if (found == nullptr || found->is_null()) return std::string();
  if (!found->is_string()) return std::nullopt;
  return found->get<std::string>();
}

// A member of a JSON object by case-insensitive name, without marking anything as read.
const json* find_ci(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  for (const auto& [name, value] : object.items()) {
    if (iequals(name, key)) return &value;
  }
  return nullptr;
}

std::ptrdiff_t find_tag(const json& list, const std::optional<std::string>& tag) {
  if (!tag) return -1;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (tag_of(list[i]) == tag) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

bool contains_tail(std::string_view name) {
  std::string lower(std::filesystem::path(std::string(name)).filename().string());
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("tail") != std::string::npos;
}

void apply_env(const json& document) {
  auto it = document.find("env");
  if (it == document.end() || !it->is_object()) return;
  for (const auto& [key, value] : it->items()) {
    if (value.is_string() && !key.empty() && key.find('=') == std::string::npos) {
      ::setenv(key.c_str(), value.get<std::string>().c_str(), 1);
    }
  }
}

void build_log(const Value& value, Config& config) {
  if (value.absent()) return;
  Object log(value);
  config.log.present = true;
  Value level = log.get("loglevel");
  if (auto l = level.as_string()) {
    if (iequals(*l, "debug")) {
      config.log.level = log::Level::kDebug;
    } else if (iequals(*l, "info")) {
      config.log.level = log::Level::kInfo;
    } else if (iequals(*l, "warning") || l->empty()) {
      config.log.level = log::Level::kWarning;
    } else if (iequals(*l, "error")) {
      config.log.level = log::Level::kError;
    } else if (iequals(*l, "none")) {
      config.log.level = log::Level::kNone;
    } else {
      // Xray falls back to warning for a level it does not know.
      level.warning(
          fmt::format("{} is not a log level (debug, info, warning, error, none); "
                      "using \"warning\"",
                      show(level.json())));
      config.log.level = log::Level::kWarning;
    }
  }
  log.read("access", config.log.access);
  log.read("error", config.log.error);
  log.read("dnsLog", config.log.dns_log);
  Value mask = log.get("maskAddress");
  if (auto m = mask.as_string()) {
    if (m->empty() || *m == "quarter" || *m == "half" || *m == "full") {
      config.log.mask_address = *m;
    } else {
      mask.error(fmt::format("{} is not a mask (quarter, half, full)", show(mask.json())));
    }
  }
}

void read_seconds(Object& object, std::string_view key, std::chrono::seconds& out) {
  if (auto v = object.get(key).as_uint32()) out = std::chrono::seconds(*v);
}

void build_policy(const Value& value, Config& config) {
  if (value.absent()) return;
  Object policy(value);
  config.policy.present = true;
  Object levels(policy.get("levels"));
  for (auto& [key, item] : levels.items()) {
    std::uint32_t number = 0;
    bool numeric = !key.empty() && key.size() <= 10 &&
                   key.find_first_not_of("0123456789") == std::string::npos &&
                   std::stoull(key) <= std::numeric_limits<std::uint32_t>::max();
    if (!numeric) {
      item.error(fmt::format("{} is not a level number", show(key)));
      Object(item).ignore_rest();
      continue;
    }
    number = static_cast<std::uint32_t>(std::stoull(key));
    Object level(item);
    PolicyLevel p;
    read_seconds(level, "handshake", p.handshake);
    read_seconds(level, "connIdle", p.conn_idle);
    read_seconds(level, "uplinkOnly", p.uplink_only);
    read_seconds(level, "downlinkOnly", p.downlink_only);
    level.read("statsUserUplink", p.stats_user_uplink);
    level.read("statsUserDownlink", p.stats_user_downlink);
    level.read("statsUserOnline", p.stats_user_online);
    if (auto b = level.get("bufferSize")
                     .as_int(std::numeric_limits<std::int32_t>::min(),
                             std::numeric_limits<std::int32_t>::max())) {
      p.buffer_size_kib = static_cast<std::int32_t>(*b);
    }
    config.policy.levels[number] = p;
  }
  Object system(policy.get("system"));
  system.read("statsInboundUplink", config.policy.stats_inbound_uplink);
  system.read("statsInboundDownlink", config.policy.stats_inbound_downlink);
  system.read("statsOutboundUplink", config.policy.stats_outbound_uplink);
  system.read("statsOutboundDownlink", config.policy.stats_outbound_downlink);
}

void build_xsup(const Value& value, Config& config) {
  Object xsup(value);
  if (auto w = xsup.get("workers").as_int(0, 1024)) config.xsup.workers = static_cast<unsigned>(*w);
  xsup.read("user", config.xsup.user);
  {
    Value store = xsup.get("store");
    if (auto path = store.as_string()) {
      if (path->empty()) {
        store.error("the store path is empty");
      } else {
        config.xsup.store = *path;
      }
    }
  }
  xsup.read("publicAddress", config.xsup.public_address);
  xsup.read("stats", config.xsup.stats);
  read_seconds(xsup, "statsFlushInterval", config.xsup.stats_flush_interval);
  if (config.xsup.stats_flush_interval.count() < 1) {
    xsup.get("statsFlushInterval").error("must be at least 1 second");
  }
  xsup.read("controlSocket", config.xsup.control_socket);
  Object web(xsup.get("web"));
  web.read("listen", config.xsup.web_listen);
  read_seconds(xsup, "drainTimeout", config.xsup.drain_timeout);
}

void build_version(const Value& value) {
  Object version(value);
  for (std::string_view key : {"min", "max"}) {
    Value v = version.get(key);
    auto text = v.as_string();
    if (!text || text->empty()) continue;
    // "x.y.z": dot-separated numbers.
    bool ok = text->front() != '.' && text->back() != '.' &&
              text->find("..") == std::string::npos &&
              text->find_first_not_of("0123456789.") == std::string::npos;
    if (!ok) v.error(fmt::format("{} is not a version (x.y.z)", show(v.json())));
  }
}

void build_env(const Value& value, Config& config) {
  Object env(value);
  for (auto& [key, item] : env.items()) {
    if (auto text = item.as_string()) config.env[key] = *text;
  }
}

std::optional<std::string> read_file(const std::string& path, Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error(path, fmt::format("cannot read: {}", std::strerror(errno)));
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Parses one file's text into a canonical top-level object, or reports why not.
std::optional<json> parse_document(std::string_view text, std::string_view name,
                                   Diagnostics& diags) {
  ParsedJson parsed = parse_json(text);
  if (!parsed.value) {
    diags.error(std::string(name), parsed.error);
    return std::nullopt;
  }
  if (!parsed.value->is_object()) {
    diags.error(std::string(name), "the configuration must be a JSON object");
    return std::nullopt;
  }
  return canonical_top(*parsed.value);
}

LoadResult finish(const json& merged, Diagnostics& diags) {
  apply_env(merged);
  LoadResult built = build(merged);
  built.document = merged;
  std::vector<Diagnostic> all = diags.take();
  all.insert(all.end(), built.diagnostics.begin(), built.diagnostics.end());
  built.diagnostics = std::move(all);
  return built;
}

}  // namespace

bool LoadResult::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(),
                      [](const Diagnostic& d) { return !d.warning; });
}

std::vector<Diagnostic> LoadResult::errors() const {
  std::vector<Diagnostic> out;
  for (const auto& d : diagnostics) {
    if (!d.warning) out.push_back(d);
  }
  return out;
}

std::vector<Diagnostic> LoadResult::warnings() const {
  std::vector<Diagnostic> out;
  for (const auto& d : diagnostics) {
    if (d.warning) out.push_back(d);
  }
  return out;
}

void merge_into(json& base, const json& overlay, std::string_view overlay_name) {
  json top = canonical_top(overlay);
  for (const auto& [key, value] : top.items()) {
    auto existing = base.find(key);
    if (existing == base.end() || existing->is_null() || value.is_null()) {
      base[key] = value;
      continue;
    }
    if (key == "env" && existing->is_object() && value.is_object()) {
      for (const auto& [name, v] : value.items()) (*existing)[name] = v;
    } else if (key == "inbounds" && existing->is_array() && value.is_array()) {
      for (const auto& entry : value) {
        std::ptrdiff_t at = find_tag(*existing, tag_of(entry));
        if (at >= 0) {
          (*existing)[static_cast<std::size_t>(at)] = entry;
        } else {
          existing->push_back(entry);
        }
      }
    } else if (key == "outbounds" && existing->is_array() && value.is_array()) {
      bool tail = contains_tail(overlay_name);
      json fresh = json::array();
      for (const auto& entry : value) {
        std::ptrdiff_t at = find_tag(*existing, tag_of(entry));
        if (at >= 0) {
          (*existing)[static_cast<std::size_t>(at)] = entry;
        } else if (tail) {
          existing->push_back(entry);
        } else {
          fresh.push_back(entry);
        }
      }
      // The first outbound is the default route, so a later file's new outbounds take
      // that place unless the file says it is a "tail" (spec/config.md §3).
      if (!fresh.empty()) {
        for (auto& entry : *existing) fresh.push_back(std::move(entry));
        *existing = std::move(fresh);
      }
    } else {
      base[key] = value;
    }
  }
}

LoadResult build(const json& document) {
  Diagnostics diags;
  LoadResult result;
  Config& config = result.config;
  try {
    Value root(&document, "", &diags);
    Object top(root);

    build_log(top.get("log"), config);
    build_policy(top.get("policy"), config);
    build_inbounds(top.get("inbounds"), config);
    build_outbounds(top.get("outbounds"), config);
    std::set<std::string> outbound_tags;
    if (Value outbounds = top.get("outbounds"); outbounds.is_array()) {
      for (const auto& entry : outbounds.json()) {
        if (auto tag = tag_of(entry)) outbound_tags.insert(*tag);
      }
    }
    // The api and reverse portals also own tags a rule may name.
    if (const auto* api = find_ci(document, "api"); api != nullptr && api->is_object()) {
      if (auto tag = tag_of(*api)) outbound_tags.insert(*tag);
    }
    if (const auto* reverse = find_ci(document, "reverse"); reverse != nullptr) {
      if (const auto* portals = find_ci(*reverse, "portals"); portals && portals->is_array()) {
        for (const auto& portal : *portals) {
          if (auto tag = tag_of(portal)) outbound_tags.insert(*tag);
        }
      }
    }
    build_routing(top.get("routing"), config, outbound_tags);
    build_xsup(top.get("xsup"), config);
    build_version(top.get("version"));
    build_env(top.get("env"), config);
    for (auto section : kUnsupportedSections) {
      Value v = top.get(section);
      if (!v.empty()) v.not_supported();
      if (v.is_object()) Object(v).ignore_rest();
    }
  } catch (const std::exception& e) {
    // A bug in a builder must not take the process down while checking a config.
    diags.error("config", fmt::format("internal error while loading: {}", e.what()));
  }
  result.diagnostics = diags.take();
  return result;
}

LoadResult load_text(std::string_view text, std::string_view name) {
  Diagnostics diags;
  auto document = parse_document(text, name, diags);
  if (!document) return LoadResult{Config{}, diags.take(), nlohmann::json()};
  return finish(*document, diags);
}

LoadResult load_files(const std::vector<std::string>& files, const std::string& confdir) {
  Diagnostics diags;
  std::vector<std::string> paths = files;
  if (!confdir.empty()) {
    std::error_code ec;
    std::vector<std::filesystem::path> found;
    for (const auto& entry : std::filesystem::directory_iterator(confdir, ec)) {
      auto ext = entry.path().extension().string();
      std::error_code type_ec;
      if ((ext == ".json" || ext == ".jsonc") && !entry.is_directory(type_ec)) {
        found.push_back(entry.path());
      }
    }
    if (ec) diags.error(confdir, fmt::format("cannot read directory: {}", ec.message()));
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
      return a.filename().string() < b.filename().string();
    });
    for (const auto& p : found) paths.push_back(p.string());
  }
  if (paths.empty()) diags.error("config", "no configuration files given");

  json merged = json::object();
  bool first = true;
  for (const auto& path : paths) {
    auto ext = std::filesystem::path(path).extension().string();
    if (ext == ".yaml" || ext == ".yml" || ext == ".toml" || ext == ".pb") {
      diags.error(path, fmt::format("{} configuration files not supported yet", ext));
      continue;
    }
    auto text = read_file(path, diags);
    if (!text) continue;
    auto document = parse_document(*text, path, diags);
    if (!document) continue;
    if (first) {
      merged = std::move(*document);
      first = false;
    } else {
      merge_into(merged, *document, path);
    }
  }
  if (diags.has_errors()) return LoadResult{Config{}, diags.take(), nlohmann::json()};
  return finish(merged, diags);
}

}  // namespace xsup::config
