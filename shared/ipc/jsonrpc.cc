#include "shared/ipc/jsonrpc.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "shared/base/unique_fd.h"

namespace xsup::ipc::jsonrpc {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

bool valid_id(const json& id) { return id.is_string() || id.is_number_integer() || id.is_null(); }

CallError local_failure(base::Error cause) {
  CallError error;
  error.message = cause.message();
  error.cause = cause;
  return error;
}

CallError system_failure(int err, std::string_view reason) {
  return local_failure(base::Error(std::error_code(err, std::system_category()), reason));
}

// Waits for `events` until `deadline`; an error (kTimeout first) when it cannot.
std::optional<CallError> wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return local_failure(base::Error(base::Errc::kTimeout, "control socket call timed out"));
    }
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready > 0) return std::nullopt;
    if (ready < 0 && errno != EINTR) return system_failure(errno, "control socket poll");
  }
}

}  // namespace

json make_request(const json& id, std::string_view method, const json& params) {
  json request{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) request["params"] = params;
  return request;
}

json make_result(const json& id, const json& result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", result}};
}

json make_error(const json& id, int code, std::string_view message, const json& data) {
  json error{{"code", code}, {"message", message}};
  if (!data.is_null()) error["data"] = data;
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}};
}

std::string encode_line(const json& message) {
  std::string line = message.dump(-1, ' ', false, json::error_handler_t::replace);
  line.push_back('\n');
  return line;
}

base::Expected<Request, json> parse_request(std::string_view line) {
  json request = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) return make_error(nullptr, kParseError, "Parse error");
  // Batches (arrays) are not part of xsup's API: one line, one call.
  if (!request.is_object()) return make_error(nullptr, kInvalidRequest, "Invalid Request");

  const auto id = request.find("id");
  const bool notification = id == request.end();
  if (!notification && !valid_id(*id)) {
    return make_error(nullptr, kInvalidRequest, "Invalid Request");
  }
  const json reply_id = notification ? json(nullptr) : *id;
  const auto version = request.find("jsonrpc");
  const auto method = request.find("method");
  const auto params = request.find("params");
  if (version == request.end() || *version != "2.0" || method == request.end() ||
      !method->is_string() ||
      (params != request.end() && !params->is_object() && !params->is_array())) {
    return make_error(reply_id, kInvalidRequest, "Invalid Request");
  }
  Request parsed;
  parsed.id = reply_id;
  parsed.notification = notification;
  parsed.method = method->get<std::string>();
  if (params != request.end()) parsed.params = std::move(*params);
  return parsed;
}

base::Expected<Response> parse_response(std::string_view line) {
  const json response = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (response.is_discarded()) return base::Error(base::Errc::kProtocol, "response is not JSON");
  if (!response.is_object()) return base::Error(base::Errc::kProtocol, "response not an object");
  const auto version = response.find("jsonrpc");
  const auto id = response.find("id");
  const auto result = response.find("result");
  const auto error = response.find("error");
  if (version == response.end() || *version != "2.0" || id == response.end() || !valid_id(*id) ||
      (result == response.end()) == (error == response.end())) {
    return base::Error(base::Errc::kProtocol, "not a JSON-RPC 2.0 response");
  }
  Response parsed;
  parsed.id = *id;
  if (result != response.end()) {
    parsed.result = *result;
    return parsed;
  }
  const auto code = error->is_object() ? error->find("code") : error->end();
  const auto message = error->is_object() ? error->find("message") : error->end();
  if (!error->is_object() || code == error->end() || !code->is_number_integer() ||
      message == error->end() || !message->is_string()) {
    return base::Error(base::Errc::kProtocol, "malformed JSON-RPC error object");
  }
  ErrorObject object;
  object.code = code->get<int>();
  object.message = message->get<std::string>();
  if (const auto data = error->find("data"); data != error->end()) object.data = *data;
  parsed.error = std::move(object);
  return parsed;
}

void LineSplitter::feed(std::string_view bytes) {
  if (!failed_) buffer_.append(bytes);
}

base::Expected<std::optional<std::string>> LineSplitter::next() {
  if (failed_) return base::Error(base::Errc::kTooLarge, "line over the size limit");
  const auto newline = buffer_.find('\n', scanned_);
  if (newline == std::string::npos) {
    scanned_ = buffer_.size();
    if (buffer_.size() > max_line_) {
      failed_ = true;
      buffer_.clear();
      return base::Error(base::Errc::kTooLarge, "line over the size limit");
    }
    return std::optional<std::string>{};
  }
  if (newline > max_line_) {
    failed_ = true;
    buffer_.clear();
    return base::Error(base::Errc::kTooLarge, "line over the size limit");
  }
  std::string line = buffer_.substr(0, newline);
  buffer_.erase(0, newline + 1);
  scanned_ = 0;
  return std::optional<std::string>(std::move(line));
}

base::Expected<json, CallError> call(const std::string& socket_path, const std::string& method,
                                     const json& params, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(address.sun_path)) {
    return local_failure(base::Error(base::Errc::kUnsupported, "control socket path too long"));
  }
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());

  base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return system_failure(errno, "control socket");
  // A blocking Unix connect waits for room in the server's backlog for at most the send
  // timeout; bound it by the call's timeout.
  const auto connect_ms = std::max<std::int64_t>(1, timeout.count());
  timeval limit{static_cast<time_t>(connect_ms / 1000),
                static_cast<suseconds_t>((connect_ms % 1000) * 1000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  while (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EINPROGRESS) {
      return local_failure(base::Error(base::Errc::kTimeout, "control socket call timed out"));
    }
    return system_failure(errno, "control socket connect");
  }
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);

  const std::string request = encode_line(make_request(1, method, params));
  for (std::size_t offset = 0; offset < request.size();) {
    const ssize_t n =
        ::send(fd.get(), request.data() + offset, request.size() - offset, MSG_NOSIGNAL);
    if (n > 0) {
      offset += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return system_failure(errno, "control socket send");
    }
    if (auto failed = wait_for(fd.get(), POLLOUT, deadline)) return *failed;
  }

  LineSplitter splitter;
  std::array<char, std::size_t{64} * 1024> buffer;
  for (;;) {
    auto line = splitter.next();
    if (!line) return local_failure(line.error());
    if (line->has_value()) {
      auto response = parse_response(**line);
      if (!response) return local_failure(response.error());
      if (response->id != 1) {
        return local_failure(base::Error(base::Errc::kProtocol, "response to another request"));
      }
      if (!response->error) return std::move(response->result);
      CallError error;
      error.code = response->error->code;
      error.message = std::move(response->error->message);
      error.data = std::move(response->error->data);
      error.cause = base::Error(base::Errc::kProtocol, "the server refused the call");
      return error;
    }
    const ssize_t n = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
    if (n > 0) {
      splitter.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
      continue;
    }
    if (n == 0) {
      return local_failure(base::Error(base::Errc::kClosed, "control socket closed early"));
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return system_failure(errno, "control socket receive");
    }
    if (auto failed = wait_for(fd.get(), POLLIN, deadline)) return *failed;
  }
}

}  // namespace xsup::ipc::jsonrpc
