#include "shared/config/reader.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace xsup::config {

std::string Diagnostic::to_string() const {
  if (path.empty()) return message;
  return path + ": " + message;
}

void Diagnostics::error(std::string path, std::string message) {
  list_.push_back({std::move(path), std::move(message), false});
  ++errors_;
}

void Diagnostics::warning(std::string path, std::string message) {
  list_.push_back({std::move(path), std::move(message), true});
}

std::string join_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

std::string show(const nlohmann::json& value) {
  constexpr std::size_t kMaxShown = 60;
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxShown) text = text.substr(0, kMaxShown) + "...";
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

void Value::error(std::string message) const { diags_->error(path_, std::move(message)); }
void Value::warning(std::string message) const { diags_->warning(path_, std::move(message)); }
void Value::not_supported() const { error("not supported yet"); }

std::optional<bool> Value::as_bool() const {
  if (absent()) return std::nullopt;
  if (!json_->is_boolean()) {
    error(fmt::format("{} is not a boolean", show(*json_)));
    return std::nullopt;
  }
  return json_->get<bool>();
}

std::optional<std::int64_t> Value::as_int(std::int64_t min, std::int64_t max) const {
  if (absent()) return std::nullopt;
  std::int64_t value = 0;
  if (json_->is_number_integer()) {
    if (json_->is_number_unsigned() &&
        json_->get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      error(fmt::format("{} is out of range {}..{}", show(*json_), min, max));
      return std::nullopt;
    }
    value = json_->get<std::int64_t>();
  } else if (json_->is_number_float()) {
    // Go's decoder rejects fractions for integer fields but takes 5.0-style spellings.
    double d = json_->get<double>();
    if (std::trunc(d) != d || std::fabs(d) > 9e18) {
      error(fmt::format("{} is not an integer", show(*json_)));
      return std::nullopt;
    }
    value = static_cast<std::int64_t>(d);
  } else {
    error(fmt::format("{} is not an integer", show(*json_)));
    return std::nullopt;
  }
  if (value < min || value > max) {
    error(fmt::format("{} is out of range {}..{}", show(*json_), min, max));
    return std::nullopt;
  }
  return value;
}

std::optional<std::uint32_t> Value::as_uint32() const {
  auto v = as_int(0, std::numeric_limits<std::uint32_t>::max());
  if (!v) return std::nullopt;
  return static_cast<std::uint32_t>(*v);
}

std::optional<std::string> Value::as_string() const {
  if (absent()) return std::nullopt;
  if (!json_->is_string()) {
    error(fmt::format("{} is not a string", show(*json_)));
    return std::nullopt;
  }
  return json_->get<std::string>();
}

std::optional<std::vector<std::string>> Value::as_string_list(bool comma_string) const {
  if (absent()) return std::nullopt;
  std::vector<std::string> out;
  if (json_->is_string() && comma_string) {
    // Xray's StringList splits on commas without trimming (spec/config.md §2).
    std::string_view text = json_->get_ref<const std::string&>();
    if (text.empty()) return out;
    while (true) {
      std::size_t comma = text.find(',');
      out.emplace_back(text.substr(0, comma));
      if (comma == std::string_view::npos) break;
      text.remove_prefix(comma + 1);
    }
    return out;
  }
  if (!json_->is_array()) {
    error(fmt::format("{} is not a list of strings", show(*json_)));
    return std::nullopt;
  }
  bool ok = true;
  for (std::size_t i = 0; i < json_->size(); ++i) {
    const auto& item = (*json_)[i];
    if (!item.is_string()) {
      diags_->error(fmt::format("{}[{}]", path_, i), fmt::format("{} is not a string", show(item)));
      ok = false;
      continue;
    }
    out.push_back(item.get<std::string>());
  }
  if (!ok) return std::nullopt;
  return out;
}

namespace {

// "env:VAR" -> the variable's value; nullopt (with an error) when unset.
std::optional<std::string> expand_env(const Value& v, std::string text) {
  constexpr std::string_view kEnvPrefix = "env:";
  if (text.compare(0, kEnvPrefix.size(), kEnvPrefix) != 0) return text;
  std::string name = text.substr(kEnvPrefix.size());
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    v.error(fmt::format("environment variable {} is not set", name));
    return std::nullopt;
  }
  return std::string(value);
}

}  // namespace

std::optional<net::PortList> Value::as_ports(std::uint16_t min_port) const {
  if (absent()) return std::nullopt;
  std::optional<net::PortList> list;
  if (json_->is_number()) {
    auto n = as_int(min_port, 65535);
    if (!n) return std::nullopt;
    list.emplace();
    list->add({static_cast<std::uint16_t>(*n), static_cast<std::uint16_t>(*n)});
    return list;
  }
  if (!json_->is_string()) {
    error(fmt::format("{} is not a port number", show(*json_)));
    return std::nullopt;
  }
  auto text = expand_env(*this, json_->get<std::string>());
  if (!text) return std::nullopt;
  list = net::PortList::parse(*text);
  if (!list || list->empty()) {
    error(fmt::format("{} is not a port number", show(nlohmann::json(*text))));
    return std::nullopt;
  }
  for (const auto& range : list->ranges()) {
    if (range.from < min_port) {
      error(fmt::format("{} is out of range {}..65535", show(*json_), min_port));
      return std::nullopt;
    }
  }
  return list;
}

std::optional<std::uint16_t> Value::as_port(std::uint16_t min_port) const {
  if (absent()) return std::nullopt;
  if (json_->is_string()) {
    auto text = expand_env(*this, json_->get<std::string>());
    if (!text) return std::nullopt;
    auto list = net::PortList::parse(*text);
    if (!list || list->ranges().size() != 1 || list->ranges()[0].from != list->ranges()[0].to) {
      error(fmt::format("{} is not a port number", show(*json_)));
      return std::nullopt;
    }
    if (list->ranges()[0].from < min_port) {
      error(fmt::format("{} is out of range {}..65535", show(*json_), min_port));
      return std::nullopt;
    }
    return list->ranges()[0].from;
  }
  if (!json_->is_number()) {
    error(fmt::format("{} is not a port number", show(*json_)));
    return std::nullopt;
  }
  auto n = as_int(min_port, 65535);
  if (!n) return std::nullopt;
  return static_cast<std::uint16_t>(*n);
}

bool Value::empty() const {
  if (absent()) return true;
  if (json_->is_object() || json_->is_array()) return json_->empty();
  return false;
}

std::vector<Value> Value::elements() const {
  std::vector<Value> out;
  if (absent()) return out;
  if (!json_->is_array()) {
    error(fmt::format("{} is not a list", show(*json_)));
    return out;
  }
  for (std::size_t i = 0; i < json_->size(); ++i) {
    out.emplace_back(&(*json_)[i], fmt::format("{}[{}]", path_, i), diags_);
  }
  return out;
}

Object::Object(const Value& value) : path_(value.path()), diags_(&value.diags()) {
  if (value.absent()) return;
  if (!value.json().is_object()) {
    value.error(fmt::format("{} is not an object", show(value.json())));
    return;
  }
  json_ = &value.json();
}

Object::~Object() {
  if (json_ == nullptr || ignore_rest_) return;
  try {
    for (const auto& [key, item] : json_->items()) {
      if (read_.count(key) == 0) diags_->warning(join_path(path_, key), "unknown field, ignored");
    }
  } catch (...) {
    // Out of memory while composing a warning: losing the warning beats std::terminate.
  }
}

Value Object::get(std::string_view key) {
  std::string path = join_path(path_, key);
  if (json_ == nullptr) return {nullptr, std::move(path), diags_};
  auto exact = json_->find(key);
  const nlohmann::json* found = exact != json_->end() ? &*exact : nullptr;
  // Every spelling counts as read: Go assigns each of them to the same field.
  for (const auto& [name, item] : json_->items()) {
    if (iequals(name, key)) {
      read_.insert(name);
      if (found == nullptr) found = &item;
    }
  }
  return {found, std::move(path), diags_};
}

std::vector<std::pair<std::string, Value>> Object::items() {
  std::vector<std::pair<std::string, Value>> out;
  if (json_ == nullptr) return out;
  for (const auto& [name, item] : json_->items()) {
    read_.insert(name);
    out.emplace_back(name, Value(&item, join_path(path_, name), diags_));
  }
  return out;
}

bool Object::read(std::string_view key, bool& out) {
  auto v = get(key).as_bool();
  if (v) out = *v;
  return v.has_value();
}

bool Object::read(std::string_view key, std::string& out) {
  auto v = get(key).as_string();
  if (v) out = *v;
  return v.has_value();
}

bool Object::read(std::string_view key, std::uint32_t& out) {
  auto v = get(key).as_uint32();
  if (v) out = *v;
  return v.has_value();
}

bool Object::read_int(std::string_view key, int& out, std::int64_t min, std::int64_t max) {
  auto v = get(key).as_int(min, max);
  if (v) out = static_cast<int>(*v);
  return v.has_value();
}

}  // namespace xsup::config
