#pragma once
// Deadline: closes a stream when a phase (a protocol handshake) overruns its time, so the
// pending read fails and the caller reports a timeout. One timer per phase, not per
// operation (Asio's timeout_watchdog pattern).

#include <asio/steady_timer.hpp>
#include <chrono>
#include <memory>

#include "worker/core/stream.h"

namespace xsup::worker::core {

class Deadline {
 public:
  Deadline(Stream& stream, std::chrono::steady_clock::duration limit);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // True when the limit passed and the stream was closed.
  bool expired() const { return state_->expired; }
  // Ends the phase early: the stream stays open.
  void cancel();

 private:
  struct State {
    Stream* stream;
    bool expired = false;
    bool done = false;
  };
  std::shared_ptr<State> state_;
  asio::steady_timer timer_;
};

}  // namespace xsup::worker::core
