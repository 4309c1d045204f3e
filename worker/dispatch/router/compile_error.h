#pragma once
// How the router's compilers report a bad configuration entry: which entry, at which index of
// its list, and what is wrong. The caller owns the JSON path and prefixes it (DESIGN.md §6:
// "routing.rules[2].domain[1]: invalid regular expression: \"(\"").

#include <cstddef>
#include <string>
#include <utility>
#include <variant>

namespace xsup::worker::dispatch::router {

struct CompileError {
  std::string path;       // JSON path of the entry, "" until a caller fills it in
  std::size_t index = 0;  // position of the entry in the list given to the compiler
  std::string entry;      // the entry as written
  std::string message;    // static-ish reason, may carry detail ("code not found: CN")

  // "path: message: "entry"" (parts that are empty are left out).
  std::string to_string() const;
};

// A compiled value or the first CompileError.
template <class T>
class [[nodiscard]] Compiled {
 public:
  Compiled(T value) : state_(std::in_place_index<0>, std::move(value)) {}             // NOLINT
  Compiled(CompileError error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const CompileError& error() const { return std::get<1>(state_); }
  CompileError& error() { return std::get<1>(state_); }

 private:
  std::variant<T, CompileError> state_;
};

}  // namespace xsup::worker::dispatch::router
