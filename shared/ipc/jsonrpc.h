#pragma once
// The control API's wire format (DESIGN.md §3): JSON-RPC 2.0 over a Unix stream socket,
// one JSON text per line. Pure builders and parsers, a bounded line splitter, and the
// blocking one-shot client the CLI uses.

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "shared/base/error.h"

namespace xsup::ipc::jsonrpc {

// Error codes of JSON-RPC 2.0 §5.1, and the one server-defined code xsup uses.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kOperationFailed = -32000;  // a valid request the server refused

// `config.apply` carries a whole config; 16 MiB bounds what a client makes us buffer.
inline constexpr std::size_t kMaxLine = std::size_t{16} << 20;

nlohmann::json make_request(const nlohmann::json& id, std::string_view method,
                            const nlohmann::json& params);
nlohmann::json make_result(const nlohmann::json& id, const nlohmann::json& result);
// `data` is left out when null.
nlohmann::json make_error(const nlohmann::json& id, int code, std::string_view message,
                          const nlohmann::json& data = nullptr);
// Compact JSON and '\n'. JSON text never holds a raw newline, so the line is the message.
std::string encode_line(const nlohmann::json& message);

struct Request {
  nlohmann::json id;  // null for a notification, which gets no response
  bool notification = false;
  std::string method;
  nlohmann::json params;  // object, array, or null when absent
};

// A request, or the error response to send back for it (parse error, invalid request) with
// the request's id when it had a usable one.
base::Expected<Request, nlohmann::json> parse_request(std::string_view line);

struct ErrorObject {
  int code = 0;
  std::string message;
  nlohmann::json data;
};

struct Response {
  nlohmann::json id;
  nlohmann::json result;  // null when error is set
  std::optional<ErrorObject> error;
};

// kProtocol when `line` is not a JSON-RPC 2.0 response.
base::Expected<Response> parse_response(std::string_view line);

// Splits a byte stream at '\n'. next() returns a line without its newline, nullopt until
// one is complete, or kTooLarge (final) once a line grows past `max_line` bytes.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line = kMaxLine) : max_line_(max_line) {}

  void feed(std::string_view bytes);
  base::Expected<std::optional<std::string>> next();

 private:
  std::string buffer_;
  std::size_t scanned_ = 0;  // bytes of buffer_ known to hold no newline
  std::size_t max_line_;
  bool failed_ = false;
};

// Why call() failed. Error's reason is static text, so the server's own message travels
// here instead. `code` is the JSON-RPC code when the server answered with an error (cause
// is then kProtocol "the server refused the call"), and 0 when the call failed locally
// (connect, timeout, closed, malformed response) as `cause` says.
struct CallError {
  int code = 0;
  std::string message;  // the server's message, or cause.message()
  nlohmann::json data;
  base::Error cause;
};

// Connects to `socket_path`, sends one request, reads one response line and returns its
// result. `timeout` bounds the whole call; cause is then kTimeout.
base::Expected<nlohmann::json, CallError> call(const std::string& socket_path,
                                               const std::string& method,
                                               const nlohmann::json& params,
                                               std::chrono::milliseconds timeout);

}  // namespace xsup::ipc::jsonrpc
