#pragma once
// Port lists as Xray writes them: 443, "443", "1000-2000", "53,443,1000-2000".

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace xsup::net {

struct PortRange {
  std::uint16_t from = 0;
  std::uint16_t to = 0;
};

class PortList {
 public:
  // nullopt when malformed (empty item, non-number, > 65535, from > to).
  static std::optional<PortList> parse(std::string_view text);
  void add(PortRange range) { ranges_.push_back(range); }
  bool contains(std::uint16_t port) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<PortRange>& ranges() const { return ranges_; }

 private:
  std::vector<PortRange> ranges_;
};

}  // namespace xsup::net
