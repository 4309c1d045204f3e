#include "shared/config/model.h"

namespace xsup::config {

PolicyLevel PolicyConfig::level(std::uint32_t n) const {
  if (auto it = levels.find(n); it != levels.end()) return it->second;
  PolicyLevel defaults;
  // Xray's built-in manager, used only when the config has no `policy` section, gives
  // level 1 a longer idle timeout (spec/config.md §4).
  if (!present && n == 1) defaults.conn_idle = std::chrono::seconds(600);
  return defaults;
}

}  // namespace xsup::config
