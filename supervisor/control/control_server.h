#pragma once
// The control socket (DESIGN.md §3): JSON-RPC 2.0, one request per line, on a Unix socket of
// mode 0660 whose peers must be root or the supervisor's own user (SO_PEERCRED). The CLI is
// its client: `xsup status`, `xsup reload`, `xsup stop`.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <memory>
#include <optional>
#include <string>

namespace xsup::supervisor {
class Supervisor;
}

namespace xsup::supervisor::control {

class ControlServer {
 public:
  ControlServer(asio::io_context& io, Supervisor& supervisor);
  ~ControlServer();

  // Creates the socket at `path` (and its directory). Another live supervisor on the same
  // path, or a path that cannot be created, gives the reason; a stale socket is replaced.
  std::optional<std::string> open(const std::string& path);
  void close();

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(asio::local::stream_protocol::socket socket);

  asio::io_context& io_;
  Supervisor& supervisor_;
  std::string path_;
  std::unique_ptr<asio::local::stream_protocol::acceptor> acceptor_;
};

}  // namespace xsup::supervisor::control
