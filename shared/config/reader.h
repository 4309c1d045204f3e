#pragma once
// A JSON walker for config building: it carries the JSON path of every value, looks keys
// up the way Go's encoding/json does (exact match first, then case-insensitive;
// spec/config.md §2), remembers which keys were read so the rest become "unknown field"
// warnings, and turns wrong types and ranges into diagnostics instead of exceptions.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "shared/net/port_list.h"

namespace xsup::config {

struct Diagnostic {
  std::string path;  // "inbounds[1].streamSettings.sockopt.mark"; a file name for parse errors
  std::string message;
  bool warning = false;

  // "path: message"
  std::string to_string() const;
};

// Every diagnostic of one load, in the order found; nothing stops at the first error.
class Diagnostics {
 public:
  void error(std::string path, std::string message);
  void warning(std::string path, std::string message);
  bool has_errors() const { return errors_ > 0; }
  std::size_t error_count() const { return errors_; }
  const std::vector<Diagnostic>& list() const { return list_; }
  std::vector<Diagnostic> take() { return std::move(list_); }

 private:
  std::vector<Diagnostic> list_;
  std::size_t errors_ = 0;
};

// "a.b" from "a" and "b"; just "b" at the top level.
std::string join_path(std::string_view parent, std::string_view key);
// A JSON value as it would appear in a message, shortened when long.
std::string show(const nlohmann::json& value);

// One JSON value and where it sits. Absent (a missing key or JSON null) is a normal state:
// typed getters return nullopt for it without a diagnostic.
class Value {
 public:
  Value(const nlohmann::json* json, std::string path, Diagnostics* diags)
      : json_(json), path_(std::move(path)), diags_(diags) {}

  bool absent() const { return json_ == nullptr || json_->is_null(); }
  bool present() const { return !absent(); }
  const nlohmann::json& json() const { return *json_; }
  const std::string& path() const { return path_; }
  Diagnostics& diags() const { return *diags_; }

  void error(std::string message) const;
  void warning(std::string message) const;
  // "<path>: not supported yet"
  void not_supported() const;

  // Typed getters: nullopt when absent or wrong (the latter with an error).
  std::optional<bool> as_bool() const;
  std::optional<std::int64_t> as_int(std::int64_t min, std::int64_t max) const;
  std::optional<std::uint32_t> as_uint32() const;
  std::optional<std::string> as_string() const;
  // An array of strings, or (where Xray takes a StringList) one comma-separated string.
  std::optional<std::vector<std::string>> as_string_list(bool comma_string = true) const;
  // A port list: a number, "a-b", "a,b,c-d" or "env:VAR". Ports must be >= min_port.
  std::optional<net::PortList> as_ports(std::uint16_t min_port = 1) const;
  // A single port given as a number or a numeric string.
  std::optional<std::uint16_t> as_port(std::uint16_t min_port = 1) const;

  bool is_object() const { return present() && json_->is_object(); }
  bool is_array() const { return present() && json_->is_array(); }
  // True for absent, {} and []: a section that says nothing.
  bool empty() const;
  // The elements of an array (an error and nothing when not an array).
  std::vector<Value> elements() const;

 private:
  const nlohmann::json* json_;
  std::string path_;
  Diagnostics* diags_;
};

// The members of a JSON object. Destroying it warns about every key nobody asked for.
class Object {
 public:
  // A value that is present but not an object gets an error; the Object then reads empty.
  explicit Object(const Value& value);
  ~Object();
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  bool valid() const { return json_ != nullptr; }
  const std::string& path() const { return path_; }
  Diagnostics& diags() const { return *diags_; }

  // The member named key (case-insensitively, exact spelling preferred), marked as read.
  Value get(std::string_view key);
  bool has(std::string_view key) { return get(key).present(); }
  // Marks everything as read: for objects passed through or rejected as a whole.
  void ignore_rest() { ignore_rest_ = true; }
  // All members in document order, marked as read (for map-shaped objects).
  std::vector<std::pair<std::string, Value>> items();

  // Shorthands that assign out only when the key is present and valid.
  bool read(std::string_view key, bool& out);
  bool read(std::string_view key, std::string& out);
  bool read(std::string_view key, std::uint32_t& out);
  bool read_int(std::string_view key, int& out, std::int64_t min, std::int64_t max);

 private:
  const nlohmann::json* json_ = nullptr;
  std::string path_;
  Diagnostics* diags_;
  std::set<std::string> read_;
  bool ignore_rest_ = false;
};

// Case-insensitive ASCII equality.
bool iequals(std::string_view a, std::string_view b);

}  // namespace xsup::config
