// `xsup user …` and `xsup stats …`: thin clients of the control API's user.* and stats
// methods (supervisor/supervisor.cc, Supervisor::manage).

#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/cli/cli.h"
#include "supervisor/users/users.h"

namespace xsup::supervisor::cli {
namespace {

using nlohmann::json;

constexpr const char* kUserUsage =
    "usage: xsup user <action> [flags] [--control PATH | -c FILE...]\n"
    "\n"
    "actions:\n"
    "  add --email E --inbound TAG [--inbound TAG]... [--id UUID] [--password P]\n"
    "      [--flow F] [--level N] [--quota 10GB] [--expire 2026-12-31] [--ip-limit N]\n"
    "                      a new user; a missing UUID (VLESS/VMess) or password\n"
    "                      (Trojan/Shadowsocks/SOCKS/HTTP, whose user name is the email)\n"
    "                      is generated\n"
    "  set --email E [the flags of add]   change a user (--inbound replaces the list;\n"
    "                      --quota 0, --expire never and --ip-limit 0 remove the limit)\n"
    "  list [--json]       every user with traffic and state\n"
    "  show --email E      one user, and why it is disabled\n"
    "  disable|enable --email E\n"
    "  del --email E       remove a user, its totals and history\n"
    "  reset-traffic --email E\n"
    "  link --email E      share links for the user's inbounds (host: xsup.publicAddress)\n"
    "\n"
    "Changes reach every worker at once, without a restart; a removed, disabled, expired or\n"
    "over-quota user's open connections are closed. Quotas count bytes up + down.\n"
    "--ip-limit N: at most N client IPs connected at once; another IP is refused.\n";

constexpr const char* kStatsUsage =
    "usage: xsup stats [--user E] [--json] [--control PATH | -c FILE...]\n"
    "       xsup stats --user E|--inbound TAG|--outbound TAG --since T [--until T] [--json]\n"
    "\n"
    "Traffic totals and live rates per user, inbound and outbound. --json prints Xray's\n"
    "counter names (user>>>E>>>traffic>>>uplink, …) with byte values. With --since it reads\n"
    "the history instead: per minute for the last 48 hours, per hour for 90 days, per day\n"
    "before that. Times are YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or unix seconds.\n";

struct Flags {
  ControlTarget target;
  std::map<std::string, std::string> values;  // --email, --id, …
  std::vector<std::string> inbounds;
  bool json = false;
  bool help = false;
  std::string error;
};

Flags parse(int argc, char** argv, std::initializer_list<std::string_view> known) {
  Flags f;
  for (int i = 0; i < argc && f.error.empty(); ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 >= argc) {
        f.error = arg + " needs a value";
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    if (arg == "-h" || arg == "--help") {
      f.help = true;
    } else if (arg == "--json") {
      f.json = true;
    } else if (arg == "--control") {
      if (auto v = value()) f.target.control = *v;
    } else if (arg == "-c" || arg == "-config" || arg == "--config") {
      if (auto v = value()) f.target.files.push_back(*v);
    } else if (arg == "-confdir" || arg == "--confdir") {
      if (auto v = value()) f.target.confdir = *v;
    } else if (arg == "--inbound" &&
               std::find(known.begin(), known.end(), "inbound") != known.end()) {
      if (auto v = value()) f.inbounds.push_back(*v);
    } else if (arg.starts_with("--") &&
               std::find(known.begin(), known.end(), arg.substr(2)) != known.end()) {
      if (auto v = value()) f.values[arg.substr(2)] = *v;
    } else {
      f.error = "unknown argument: " + arg;
    }
  }
  return f;
}

std::string text_or(const json& j, const char* key, const char* fallback = "-") {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

std::string join(const json& list) {
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : ",") + item.get<std::string>();
  return out;
}

void print_user(const json& u) {
  std::printf("email        %s\n", text_or(u, "email").c_str());
  std::printf("state        %s\n", u.value("enabled", false)
                                       ? "enabled"
                                       : ("disabled: " + text_or(u, "disabled_reason")).c_str());
  std::printf("inbounds     %s\n", join(u.value("inbounds", json::array())).c_str());
  if (u.contains("id")) std::printf("id           %s\n", text_or(u, "id").c_str());
  if (u.contains("password")) std::printf("password     %s\n", text_or(u, "password").c_str());
  if (u.contains("flow")) std::printf("flow         %s\n", text_or(u, "flow").c_str());
  std::uint64_t up = u.value("uplink", 0ull), down = u.value("downlink", 0ull);
  std::uint64_t quota = u.value("quota", 0ull);
  std::printf("traffic      up %s, down %s", users::format_bytes(up).c_str(),
              users::format_bytes(down).c_str());
  if (quota != 0) {
    std::printf(" (%.1f %% of %s)",
                100.0 * static_cast<double>(up + down) / static_cast<double>(quota),
                users::format_bytes(quota).c_str());
  }
  std::printf("\nexpires      %s\n", text_or(u, "expire", "never").c_str());
  if (const std::uint64_t ips = u.value("ip_limit", 0ull); ips != 0) {
    std::printf("ip limit     %llu client IPs at once\n", static_cast<unsigned long long>(ips));
  }
  std::printf("created      %s\n", text_or(u, "created").c_str());
}

json user_params(const Flags& f) {
  json p = json::object();
  for (const auto& [key, value] : f.values) {
    p[key == "ip-limit" ? "ip_limit" : key] = value;
  }
  if (!f.inbounds.empty()) p["inbounds"] = f.inbounds;
  return p;
}

}  // namespace

int cmd_user(int argc, char** argv) {
  if (argc < 1 || std::strcmp(argv[0], "--help") == 0 || std::strcmp(argv[0], "-h") == 0) {
    std::fputs(kUserUsage, argc < 1 ? stderr : stdout);
    return argc < 1 ? 1 : 0;
  }
  std::string action = argv[0];
  static const std::map<std::string, std::string> kMethods = {
      {"add", "user.add"},   {"set", "user.set"},         {"list", "user.list"},
      {"show", "user.show"}, {"disable", "user.disable"}, {"enable", "user.enable"},
      {"del", "user.del"},   {"delete", "user.del"},      {"reset-traffic", "user.reset_traffic"},
      {"link", "user.link"}};
  auto method = kMethods.find(action);
  if (method == kMethods.end()) {
    std::fprintf(stderr, "xsup user: unknown action \"%s\"\n%s", action.c_str(), kUserUsage);
    return 1;
  }
  Flags f = (action == "add" || action == "set")
                ? parse(argc - 1, argv + 1,
                        {"email", "inbound", "id", "password", "flow", "level", "quota", "expire",
                         "ip-limit"})
                : parse(argc - 1, argv + 1, {"email"});
  if (f.help) {
    std::fputs(kUserUsage, stdout);
    return 0;
  }
  if (!f.error.empty()) {
    std::fprintf(stderr, "xsup user %s: %s\n", action.c_str(), f.error.c_str());
    return 1;
  }
  if (action != "list" && !f.values.count("email")) {
    std::fprintf(stderr, "xsup user %s: --email is required\n", action.c_str());
    return 1;
  }
  json result;
  std::string command = "user " + action;
  if (int rc = control_request(command.c_str(), f.target, method->second, user_params(f), result)) {
    return rc;
  }
  if (f.json) {
    std::puts(result.dump(2).c_str());
    return 0;
  }
  if (action == "list") {
    std::printf("%-32s %-9s %-24s %12s %12s %10s %s\n", "email", "state", "inbounds", "up", "down",
                "quota", "expires");
    for (const auto& u : result) {
      std::uint64_t quota = u.value("quota", 0ull);
      std::printf("%-32s %-9s %-24s %12s %12s %10s %s\n", text_or(u, "email").c_str(),
                  u.value("enabled", false) ? "enabled" : "disabled",
                  join(u.value("inbounds", json::array())).c_str(),
                  users::format_bytes(u.value("uplink", 0ull)).c_str(),
                  users::format_bytes(u.value("downlink", 0ull)).c_str(),
                  quota == 0 ? "-" : users::format_bytes(quota).c_str(),
                  text_or(u, "expire", "never").c_str());
    }
  } else if (action == "link") {
    for (const auto& entry : result) {
      if (entry.contains("link")) {
        std::puts(text_or(entry, "link").c_str());
      } else {
        std::fprintf(stderr, "%s: %s\n", text_or(entry, "inbound").c_str(),
                     text_or(entry, "error").c_str());
      }
    }
  } else if (action == "del" || action == "delete") {
    std::printf("deleted %s\n", f.values.at("email").c_str());
  } else {
    print_user(result);
  }
  return 0;
}

int cmd_stats(int argc, char** argv) {
  Flags f = parse(argc, argv, {"user", "inbound", "outbound", "since", "until"});
  if (f.help) {
    std::fputs(kStatsUsage, stdout);
    return 0;
  }
  if (!f.error.empty()) {
    std::fprintf(stderr, "xsup stats: %s\n", f.error.c_str());
    return 1;
  }
  if (f.values.count("since")) {
    json p = {{"since", f.values["since"]}};
    if (f.values.count("until")) p["until"] = f.values["until"];
    int named = 0;
    for (const char* kind : {"user", "inbound", "outbound"}) {
      if (f.values.count(kind)) {
        p["kind"] = kind;
        p["name"] = f.values[kind];
        ++named;
      }
    }
    if (named != 1) {
      std::fputs("xsup stats: --since needs exactly one of --user, --inbound, --outbound\n",
                 stderr);
      return 1;
    }
    json rows;
    if (int rc = control_request("stats", f.target, "stats.history", p, rows)) return rc;
    if (f.json) {
      std::puts(rows.dump(2).c_str());
      return 0;
    }
    std::printf("%-22s %-7s %12s %12s %11s\n", "start", "period", "up", "down", "connections");
    for (const auto& r : rows) {
      std::int64_t s = r.value("seconds", 0ll);
      std::printf("%-22s %-7s %12s %12s %11llu\n", text_or(r, "start").c_str(),
                  s == 60 ? "minute" : (s == 3600 ? "hour" : "day"),
                  users::format_bytes(r.value("uplink", 0ull)).c_str(),
                  users::format_bytes(r.value("downlink", 0ull)).c_str(),
                  static_cast<unsigned long long>(r.value("connections", 0ull)));
    }
    return 0;
  }
  json p = json::object();
  if (f.values.count("user")) p["user"] = f.values["user"];
  json result;
  if (int rc = control_request("stats", f.target, "stats", p, result)) return rc;
  if (f.json) {
    std::puts(result["counters"].dump(2).c_str());
    return 0;
  }
  for (const char* section : {"users", "inbounds", "outbounds"}) {
    const auto& entries = result["report"][section];
    if (entries.empty()) continue;
    std::printf("%-10s %-30s %12s %12s %12s %12s %8s\n", section, "", "up", "down", "up/s",
                "down/s", "conns");
    for (const auto& [name, t] : entries.items()) {
      std::printf("%-10s %-30s %12s %12s %12s %12s %8llu\n", "", name.c_str(),
                  users::format_bytes(t.value("uplink", 0ull)).c_str(),
                  users::format_bytes(t.value("downlink", 0ull)).c_str(),
                  users::format_bytes(t.value("uplink_rate", 0ull)).c_str(),
                  users::format_bytes(t.value("downlink_rate", 0ull)).c_str(),
                  static_cast<unsigned long long>(t.value("connections", 0ull)));
    }
  }
  return 0;
}

}  // namespace xsup::supervisor::cli
