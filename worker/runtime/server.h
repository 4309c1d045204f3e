#pragma once
// Server: one worker's event loop serving a whole configuration — the outbounds, the
// dispatcher, and every inbound's listeners with their accept loops.

#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "shared/config/model.h"
#include "worker/core/session.h"
#include "worker/core/tcp_stream.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/proxy/inbound.h"
#include "worker/transport/listen.h"

namespace xsup::worker::runtime {

// One listening port of one inbound, bound already (by the supervisor, or by bind_all).
struct BoundListener {
  std::size_t inbound = 0;  // index in config.inbounds
  transport::ListenSocket tcp;
  transport::ListenSocket udp;  // only for inbounds that carry UDP
};

// Binds every inbound's ports itself (a worker running without a supervisor). Throws
// std::runtime_error naming the inbound on failure.
std::vector<BoundListener> bind_all(const config::Config& config);

// Whether an inbound carries UDP on its port (SOCKS with udp, dokodemo-door with udp).
bool inbound_wants_udp(const config::InboundConfig& inbound);

class Server {
 public:
  // Builds outbounds, dispatcher and inbounds and adopts the listeners; throws
  // std::runtime_error naming the inbound on failure.
  Server(asio::io_context& io, const config::Config& config, std::vector<BoundListener> listeners);
  ~Server();

  // Starts the accept loops; logs one "listening" line per listener when `announce`.
  void start(bool announce);
  // Stops accepting: closes this process's copies of the listeners. Live connections go
  // on until they end (a drain).
  void stop_accepting();
  // stop_accepting, then cancels every live connection; the loop runs dry once they unwound.
  void stop();
  std::size_t live_connections() const { return live_.size(); }

 private:
  struct Listener;
  asio::awaitable<void> accept_loop(Listener& listener);
  // The TLS handshake when the inbound has one, then the inbound's own serve().
  asio::awaitable<void> serve_connection(Listener& listener, std::unique_ptr<core::TcpStream> tcp,
                                         core::Session session);

  asio::io_context& io_;
  const config::Config& config_;
  std::unique_ptr<dispatch::Dispatcher> dispatcher_;
  std::vector<std::unique_ptr<proxy::InboundContext>> contexts_;
  std::vector<std::unique_ptr<proxy::Inbound>> inbounds_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::list<asio::cancellation_signal> live_;  // one per connection being served
  bool stopping_ = false;
};

}  // namespace xsup::worker::runtime
