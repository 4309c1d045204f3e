#pragma once
// Errors as values (STYLE.md §3): a code the program can branch on and a static reason
// for the log. Codecs and the data path return these; exceptions stay in start-up and
// the control plane.

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace xsup::base {

enum class Errc {
  kNeedMore = 1,   // a codec saw a valid prefix and needs more bytes
  kProtocol,       // malformed input from a peer
  kAuthFailed,     // credentials did not match
  kUnsupported,    // a valid request for something xsup does not do
  kTooLarge,       // input over a bounded parser's limit
  kTimeout,        // a policy timer fired
  kBlocked,        // routed to blackhole or refused by a rule
  kNoRoute,        // the router named an outbound that does not exist
  kResolveFailed,  // a domain had no usable address
  kClosed,         // the peer went away
};

}  // namespace xsup::base

template <>
struct std::is_error_code_enum<xsup::base::Errc> : std::true_type {};

namespace xsup::base {

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

struct Error {
  std::error_code code;
  std::string_view reason;  // static text; empty means code.message() says it all

  Error() = default;
  Error(std::error_code c, std::string_view r = {}) : code(c), reason(r) {}        // NOLINT
  Error(Errc e, std::string_view r = {}) : code(make_error_code(e)), reason(r) {}  // NOLINT

  bool is(Errc e) const { return code == make_error_code(e); }
  std::string message() const;
};

// A value or an error; the subset of C++23 std::expected that xsup needs (g++ 12 lacks
// it). The error type is Error on the data path; compilers of config pieces use their own.
template <class T, class E = Error>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Expected(E error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  Expected(Errc e, std::string_view reason = {})                           // NOLINT
      requires std::is_same_v<E, Error> : state_(std::in_place_index<1>, Error(e, reason)) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const& { return std::get<1>(state_); }
  E& error() & { return std::get<1>(state_); }

 private:
  std::variant<T, E> state_;
};

// Expected<void>: success or an Error.
template <>
class [[nodiscard]] Expected<void, Error> {
 public:
  Expected() = default;
  Expected(Error error) : error_(std::move(error)), failed_(true) {}                    // NOLINT
  Expected(Errc e, std::string_view reason = {}) : error_(e, reason), failed_(true) {}  // NOLINT

  bool has_value() const { return !failed_; }
  explicit operator bool() const { return !failed_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Expected<void>;

}  // namespace xsup::base
