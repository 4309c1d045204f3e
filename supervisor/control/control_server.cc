#include "supervisor/control/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "shared/base/log.h"
#include "shared/ipc/jsonrpc.h"
#include "supervisor/supervisor.h"

namespace xsup::supervisor::control {
namespace {

using nlohmann::json;
using stream = asio::local::stream_protocol;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Control requests are small; a reload answer is the largest reply.
constexpr std::size_t kReadChunk = 4096;

// Root and the supervisor's own user may drive it (the socket's mode adds its group).
bool peer_allowed(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  return cred.uid == 0 || cred.uid == ::geteuid();
}

}  // namespace

ControlServer::ControlServer(asio::io_context& io, Supervisor& supervisor)
    : io_(io), supervisor_(supervisor) {}

ControlServer::~ControlServer() { close(); }

std::optional<std::string> ControlServer::open(const std::string& path) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return "cannot create " + dir.string() + ": " + ec.message();
  }
  if (std::filesystem::exists(path, ec)) {
    stream::socket probe(io_);
    probe.connect(stream::endpoint(path), ec);
    if (!ec) return "another supervisor answers on " + path;
    std::filesystem::remove(path, ec);  // stale: its supervisor is gone
  }
  auto acceptor = std::make_unique<stream::acceptor>(io_);
  acceptor->open(stream(), ec);
  if (!ec) acceptor->bind(stream::endpoint(path), ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return "cannot listen on " + path + ": " + ec.message();
  ::chmod(path.c_str(), 0660);
  path_ = path;
  acceptor_ = std::move(acceptor);
  asio::co_spawn(io_, accept_loop(), [](std::exception_ptr e) {
    if (e) log::error(0, "control: accept loop ended by an exception");
  });
  return std::nullopt;
}

void ControlServer::close() {
  if (!acceptor_) return;
  std::error_code ec;
  acceptor_->close(ec);
  acceptor_.reset();
  std::filesystem::remove(path_, ec);
}

asio::awaitable<void> ControlServer::accept_loop() {
  while (acceptor_ && acceptor_->is_open()) {
    auto [ec, socket] = co_await acceptor_->async_accept(kTuple);
    if (ec) co_return;
    if (!peer_allowed(socket.native_handle())) {
      log::warning(0, "control: a peer that is neither root nor our user was refused");
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket)), [](std::exception_ptr e) {
      if (e) log::error(0, "control: a request ended by an exception");
    });
  }
}

asio::awaitable<void> ControlServer::serve(stream::socket socket) {
  ipc::jsonrpc::LineSplitter lines;
  std::array<char, kReadChunk> chunk;
  while (true) {
    auto line = lines.next();
    if (!line) {
      std::string reply = ipc::jsonrpc::encode_line(ipc::jsonrpc::make_error(
          nullptr, ipc::jsonrpc::kInvalidRequest, line.error().message(), nullptr));
      co_await asio::async_write(socket, asio::buffer(reply), kTuple);
      co_return;
    }
    if (!*line) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), kTuple);
      if (ec) co_return;
      lines.feed(std::string_view(chunk.data(), n));
      continue;
    }
    json response;
    auto request = ipc::jsonrpc::parse_request(**line);
    if (!request) {
      response = request.error();
    } else {
      const ipc::jsonrpc::Request& r = *request;
      const json& params = r.params;
      if (r.method == "status") {
        response = ipc::jsonrpc::make_result(r.id, supervisor_.status());
      } else if (r.method == "reload") {
        std::optional<std::vector<std::string>> files;
        if (params.is_object() && params.contains("files") && params["files"].is_array() &&
            !params["files"].empty()) {
          files = params["files"].get<std::vector<std::string>>();
        }
        auto outcome = co_await supervisor_.reload(files);
        response = outcome ? ipc::jsonrpc::make_result(r.id, *outcome)
                           : ipc::jsonrpc::make_error(r.id, ipc::jsonrpc::kOperationFailed,
                                                      outcome.error().message, nullptr);
      } else if (r.method == "stop") {
        response = ipc::jsonrpc::make_result(r.id, json{{"stopping", true}});
        std::string reply = ipc::jsonrpc::encode_line(response);
        co_await asio::async_write(socket, asio::buffer(reply), kTuple);
        co_await supervisor_.stop();
        co_return;
      } else if (r.method.starts_with("user.") || r.method.starts_with("stats") ||
                 r.method == "store.check") {
        auto outcome = supervisor_.manage(r.method, params);
        response = outcome ? ipc::jsonrpc::make_result(r.id, *outcome)
                           : ipc::jsonrpc::make_error(r.id, ipc::jsonrpc::kOperationFailed,
                                                      outcome.error().message, nullptr);
      } else if (r.method == "debug.worker_execve" && supervisor_.test_triggers()) {
        unsigned slot = params.is_object() ? params.value("slot", 0u) : 0u;
        auto refused = supervisor_.trigger_execve(slot);
        response = refused ? ipc::jsonrpc::make_error(r.id, ipc::jsonrpc::kOperationFailed,
                                                      refused->message, nullptr)
                           : ipc::jsonrpc::make_result(r.id, json{{"triggered", slot}});
      } else {
        response = ipc::jsonrpc::make_error(r.id, ipc::jsonrpc::kMethodNotFound,
                                            "method not found: " + r.method, nullptr);
      }
      if (r.notification) continue;
    }
    std::string reply = ipc::jsonrpc::encode_line(response);
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(reply), kTuple);
    if (ec) co_return;
  }
}

}  // namespace xsup::supervisor::control
