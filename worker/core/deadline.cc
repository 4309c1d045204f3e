#include "worker/core/deadline.h"

namespace xsup::worker::core {

Deadline::Deadline(Stream& stream, std::chrono::steady_clock::duration limit)
    : state_(std::make_shared<State>(State{&stream})), timer_(stream.get_executor(), limit) {
  timer_.async_wait([state = state_](const std::error_code& ec) {
    if (ec || state->done) return;
    state->expired = true;
    state->stream->close();
  });
}

Deadline::~Deadline() { cancel(); }

void Deadline::cancel() {
  state_->done = true;
  timer_.cancel();
}

}  // namespace xsup::worker::core
