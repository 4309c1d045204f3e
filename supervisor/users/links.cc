// TEMPORARY until the links branch merges.
#include "supervisor/users/links.h"

namespace xsup::supervisor::users {
base::Expected<std::string> share_link(const nlohmann::json&, const LinkUser&, const std::string&) {
  return base::Error(base::Errc::kUnsupported, "share links");
}
}  // namespace xsup::supervisor::users
