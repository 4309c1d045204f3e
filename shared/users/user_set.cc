#include "shared/users/user_set.h"

namespace xsup::users {

using nlohmann::json;

json to_json(const UserSet& set) {
  json users = json::array();
  for (const auto& u : set.users) {
    users.push_back(
        json::array({u.email, u.uuid, u.password, u.flow, u.level, u.inbounds, u.ip_limit}));
  }
  return {{"version", set.version}, {"users", std::move(users)}};
}

base::Expected<UserSet> user_set_from_json(const json& body) {
  auto bad = [](const std::string& why) {
    return base::Error(base::Errc::kProtocol, "user set: " + why);
  };
  UserSet set;
  auto version = body.find("version");
  auto users = body.find("users");
  if (version == body.end() || !version->is_number_unsigned()) return bad("no version");
  if (users == body.end() || !users->is_array()) return bad("no users array");
  set.version = version->get<std::uint64_t>();
  set.users.reserve(users->size());
  for (const auto& row : *users) {
    if (!row.is_array() || row.size() != 7 || !row[0].is_string() || !row[1].is_string() ||
        !row[2].is_string() || !row[3].is_string() || !row[4].is_number_unsigned() ||
        !row[5].is_array() || !row[6].is_number_unsigned()) {
      return bad("a row is not [email, uuid, password, flow, level, [tags], ip_limit]");
    }
    UserEntry u;
    u.email = row[0].get<std::string>();
    u.uuid = row[1].get<std::string>();
    u.password = row[2].get<std::string>();
    u.flow = row[3].get<std::string>();
    u.level = row[4].get<std::uint32_t>();
    u.ip_limit = row[6].get<std::uint32_t>();
    for (const auto& tag : row[5]) {
      if (!tag.is_string()) return bad("an inbound tag is not a string");
      u.inbounds.push_back(tag.get<std::string>());
    }
    set.users.push_back(std::move(u));
  }
  return set;
}

}  // namespace xsup::users
