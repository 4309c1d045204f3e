#pragma once
// Server: one worker's event loop serving a whole configuration — the outbounds, the
// dispatcher, and every inbound's listeners with their accept loops. (The supervisor
// that forks several of these and reloads them lands with its own issue.)

#include <list>
#include <memory>
#include <vector>

#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>

#include "shared/config/model.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/proxy/inbound.h"

namespace xsup::worker::runtime {

class Server {
 public:
  // Builds everything and binds every listener; throws std::runtime_error naming the
  // inbound on failure (a port in use, an unsupported protocol).
  Server(asio::io_context& io, const config::Config& config);
  ~Server();

  // Starts the accept loops; logs one "listening" line per listener.
  void start();
  // Stops accepting, closes the listeners and cancels every live connection; the loop
  // then runs out of work once they have unwound.
  void stop();
  std::size_t live_connections() const { return live_.size(); }

 private:
  struct Listener;
  asio::awaitable<void> accept_loop(Listener& listener);

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
