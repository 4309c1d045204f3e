#include "shared/dns/system_files.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>

#include "shared/dns/message.h"

namespace xsup::dns {
namespace {

using base::Errc;
using base::Expected;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Splits one line into whitespace-separated words, dropping a comment that starts with
// '#' or ';' (resolv.conf(5) allows both; hosts(5) only '#', and ';' never appears in it).
std::vector<std::string_view> words(std::string_view line) {
  const auto comment = line.find_first_of("#;");
  if (comment != std::string_view::npos) line = line.substr(0, comment);
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <class F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    f(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// An address as written in these files; a "%scope" suffix is dropped, since the worker
// cannot look interface names up and the stub talks to global or loopback servers.
std::optional<asio::ip::address> parse_ip(std::string_view text) {
  const auto scope = text.find('%');
  if (scope != std::string_view::npos) text = text.substr(0, scope);
  std::error_code ec;
  auto ip = asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return ip;
}

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

ResolverConfig parse_resolv_conf(std::string_view text) {
  ResolverConfig config;
  for_each_line(text, [&config](std::string_view line) {
    const auto w = words(line);
    if (w.size() < 2) return;
    if (w[0] == "nameserver") {
      auto ip = parse_ip(w[1]);
      if (ip && config.nameservers.size() < kMaxNameservers) config.nameservers.push_back(*ip);
    } else if (w[0] == "domain") {
      // "domain" and "search" are exclusive; the last one in the file wins.
      config.search = {normalize_name(w[1])};
    } else if (w[0] == "search") {
      config.search.clear();
      for (std::size_t i = 1; i < w.size(); ++i) config.search.push_back(normalize_name(w[i]));
    } else if (w[0] == "options") {
      for (std::size_t i = 1; i < w.size(); ++i) {
        const auto colon = w[i].find(':');
        if (colon == std::string_view::npos) continue;
        const auto key = w[i].substr(0, colon);
        const auto value = parse_int(w[i].substr(colon + 1));
        if (!value || *value < 0) continue;
        if (key == "timeout") {
          config.timeout = std::chrono::seconds(std::clamp(*value, 1, kMaxTimeoutSeconds));
        } else if (key == "attempts") {
          config.attempts = std::clamp(*value, 1, kMaxAttempts);
        } else if (key == "ndots") {
          config.ndots = std::min(*value, kMaxNdots);
        }
      }
    }
  });
  if (config.nameservers.empty()) {
    // resolv.conf(5): with no nameserver line, the name server on the local machine is used.
    config.nameservers.push_back(asio::ip::address_v4::loopback());
  }
  return config;
}

std::multimap<std::string, asio::ip::address> parse_hosts(std::string_view text) {
  std::multimap<std::string, asio::ip::address> hosts;
  for_each_line(text, [&hosts](std::string_view line) {
    const auto hash = line.find('#');
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    const auto w = words(line);
    if (w.size() < 2) return;
    auto ip = parse_ip(w[0]);
    if (!ip) return;
    for (std::size_t i = 1; i < w.size(); ++i) {
      auto name = normalize_name(w[i]);
      if (name.empty() || name.size() > kMaxNameText) continue;
      // The same pair twice (common with "127.0.0.1 localhost" repeated) answers once.
      auto [first, last] = hosts.equal_range(name);
      if (std::none_of(first, last, [&ip](const auto& e) { return e.second == *ip; })) {
        hosts.emplace(std::move(name), *ip);
      }
    }
  });
  return hosts;
}

ResolverConfig load_system_resolver_config(const std::string& resolv_conf_path,
                                           const std::string& hosts_path) {
  ResolverConfig config = parse_resolv_conf(read_file(resolv_conf_path));
  config.hosts = parse_hosts(read_file(hosts_path));
  return config;
}

nlohmann::json to_json(const ResolverConfig& config) {
  nlohmann::json nameservers = nlohmann::json::array();
  for (const auto& ip : config.nameservers) nameservers.emplace_back(ip.to_string());
  nlohmann::json hosts = nlohmann::json::array();
  for (const auto& [name, ip] : config.hosts)
    hosts.push_back(nlohmann::json::array({name, ip.to_string()}));
  return {
      {"nameservers", std::move(nameservers)},
      {"timeoutMs", config.timeout.count()},
      {"attempts", config.attempts},
      {"ndots", config.ndots},
      {"search", config.search},
      {"port", config.port},
      {"hosts", std::move(hosts)},
  };
}

Expected<ResolverConfig> resolver_config_from_json(const nlohmann::json& json) {
  auto bad = [](std::string_view why) { return base::Error(Errc::kProtocol, why); };
  if (!json.is_object()) return bad("resolver config: not an object");
  auto integer = [&json](const char* key, std::int64_t lo,
                         std::int64_t hi) -> std::optional<std::int64_t> {
    auto it = json.find(key);
    if (it == json.end() || !it->is_number_integer()) return std::nullopt;
    const auto v = it->get<std::int64_t>();
    if (v < lo || v > hi) return std::nullopt;
    return v;
  };
  ResolverConfig config;
  const auto timeout = integer("timeoutMs", 1, std::int64_t{kMaxTimeoutSeconds} * 1000);
  const auto attempts = integer("attempts", 1, kMaxAttempts);
  const auto ndots = integer("ndots", 0, kMaxNdots);
  const auto port = integer("port", 1, 65535);
  if (!timeout || !attempts || !ndots || !port) return bad("resolver config: bad number");
  config.timeout = std::chrono::milliseconds(*timeout);
  config.attempts = static_cast<int>(*attempts);
  config.ndots = static_cast<int>(*ndots);
  config.port = static_cast<std::uint16_t>(*port);

  auto nameservers = json.find("nameservers");
  if (nameservers == json.end() || !nameservers->is_array() || nameservers->empty() ||
      nameservers->size() > kMaxNameservers) {
    return bad("resolver config: bad nameservers");
  }
  for (const auto& item : *nameservers) {
    auto ip = item.is_string() ? parse_ip(item.get_ref<const std::string&>()) : std::nullopt;
    if (!ip) return bad("resolver config: bad nameserver");
    config.nameservers.push_back(*ip);
  }
  auto search = json.find("search");
  if (search == json.end() || !search->is_array()) return bad("resolver config: bad search");
  for (const auto& item : *search) {
    if (!item.is_string()) return bad("resolver config: bad search");
    config.search.push_back(item.get<std::string>());
  }
  auto hosts = json.find("hosts");
  if (hosts == json.end() || !hosts->is_array()) return bad("resolver config: bad hosts");
  for (const auto& item : *hosts) {
    if (!item.is_array() || item.size() != 2 || !item[0].is_string() || !item[1].is_string()) {
      return bad("resolver config: bad hosts entry");
    }
    auto ip = parse_ip(item[1].get_ref<const std::string&>());
    if (!ip) return bad("resolver config: bad hosts address");
    config.hosts.emplace(normalize_name(item[0].get_ref<const std::string&>()), *ip);
  }
  return config;
}

}  // namespace xsup::dns
