#include "shared/net/port_list.h"

#include <charconv>

namespace xsup::net {
namespace {

std::optional<std::uint16_t> parse_port(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<PortList> PortList::parse(std::string_view text) {
  PortList out;
  while (true) {
    std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    std::size_t dash = item.find('-');
    PortRange range;
    if (dash == std::string_view::npos) {
      auto p = parse_port(item);
      if (!p) return std::nullopt;
      range = {*p, *p};
    } else {
      auto a = parse_port(item.substr(0, dash));
      auto b = parse_port(item.substr(dash + 1));
      if (!a || !b || *a > *b) return std::nullopt;
      range = {*a, *b};
    }
    out.ranges_.push_back(range);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

bool PortList::contains(std::uint16_t port) const {
  for (const auto& r : ranges_) {
    if (port >= r.from && port <= r.to) return true;
  }
  return false;
}

}  // namespace xsup::net
