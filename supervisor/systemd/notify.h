#pragma once

// Readiness and state reports to systemd (Type=notify / Type=notify-reload).
//
// Each call sends one datagram to $NOTIFY_SOCKET through libsystemd's sd_notify. When the
// variable is unset (not started by systemd, or in a test) every call does nothing. None of
// them throws, and none of them unsets NOTIFY_SOCKET: the supervisor reports several times
// over its life (ready, then reloading/ready per reload, then stopping). Workers must not
// report for it: the code that spawns them removes NOTIFY_SOCKET from their environment.

#include <string_view>

namespace xsup::supervisor::systemd {

// "READY=1" plus "STATUS=<status>" when status is not empty. Sent once start-up is done (every
// worker reported ready), and again at the end of each reload.
void notify_ready(std::string_view status = {});

// "RELOADING=1" plus "MONOTONIC_USEC=<CLOCK_MONOTONIC now, in µs>": systemd 253+ requires the
// timestamp for Type=notify-reload; older systemd ignores the field. Must be followed by
// notify_ready() when the reload has ended, whether it succeeded or was refused.
void notify_reloading();

// "STOPPING=1": sent when a SIGTERM/`xsup stop` drain begins.
void notify_stopping();

// "STATUS=<status>": a one-line free-form state shown by `systemctl status`.
void notify_status(std::string_view status);

// "WATCHDOG=1": keep-alive for WatchdogSec= (unused by the shipped unit, harmless without it).
void notify_watchdog();

}  // namespace xsup::supervisor::systemd
