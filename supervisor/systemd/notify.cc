#include "supervisor/systemd/notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace xsup::supervisor::systemd {
namespace {

// One line per assignment, newline-separated: the sd_notify(3) wire format. A newline inside a
// value would start a bogus assignment, so it is replaced by a space.
void append_field(std::string& message, std::string_view key, std::string_view value) {
  if (!message.empty()) message += '\n';
  message += key;
  message += '=';
  for (char c : value) message += (c == '\n' || c == '\r') ? ' ' : c;
}

// sd_notify() itself returns 0 without a socket; checking first skips building the message.
bool have_socket() noexcept {
  const char* path = std::getenv("NOTIFY_SOCKET");
  return path != nullptr && *path != '\0';
}

void send(const char* message) noexcept {
  // A failed report must never take the supervisor down: the result is ignored on purpose
  // (systemd notices a missing READY=1 through TimeoutStartSec= anyway).
  (void)sd_notify(/*unset_environment=*/0, message);
}

}  // namespace

void notify_ready(std::string_view status) {
  if (!have_socket()) return;
  try {
    std::string message = "READY=1";
    if (!status.empty()) append_field(message, "STATUS", status);
    send(message.c_str());
  } catch (...) {  // std::bad_alloc only; a lost report is acceptable
  }
}

void notify_reloading() {
  if (!have_socket()) return;
  try {
    timespec now{};
    std::string message = "RELOADING=1";
    if (clock_gettime(CLOCK_MONOTONIC, &now) == 0) {
      const std::uint64_t usec = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u +
                                 static_cast<std::uint64_t>(now.tv_nsec) / 1'000u;
      append_field(message, "MONOTONIC_USEC", std::to_string(usec));
    }
    send(message.c_str());
  } catch (...) {
  }
}

void notify_stopping() {
  if (!have_socket()) return;
  send("STOPPING=1");
}

void notify_status(std::string_view status) {
  if (!have_socket()) return;
  try {
    std::string message;
    append_field(message, "STATUS", status);
    send(message.c_str());
  } catch (...) {
  }
}

void notify_watchdog() {
  if (!have_socket()) return;
  send("WATCHDOG=1");
}

}  // namespace xsup::supervisor::systemd
