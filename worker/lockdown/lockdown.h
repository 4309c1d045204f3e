#pragma once
// Lock-down: the one ordered function that demotes a worker after it received its bootstrap
// and before it serves (DESIGN.md §5). What it does and why, step by step, is written down
// in docs/sandbox.md; the seccomp allow-list with the reason for each call is in lockdown.cc.

#include <sys/resource.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace xsup::worker::lockdown {

// What the seccomp filter does with a system call that is not on the allow-list.
enum class SandboxMode {
  kKill,  // --sandbox=kill (default): the kernel kills the whole process with SIGSYS.
  kTrap,  // --sandbox=trap: a SIGSYS handler names the call on stderr and exits with 159.
  kOff,   // --sandbox=off: no filter; every other demotion step still runs.
};

// Exit code of a process stopped by the kTrap handler.
inline constexpr int kTrapExitCode = 159;

struct LockdownOptions {
  // Switch to this user (and its primary group) when running as root; "" means "nobody".
  // Ignored when not running as root: an unprivileged process cannot change its uid.
  std::string user;
  SandboxMode mode = SandboxMode::kKill;
  // Keep CAP_NET_ADMIN (sockopt.mark / tproxy need it).
  bool keep_net_admin = false;
  // Keep CAP_NET_BIND_SERVICE (not needed when listeners are inherited).
  bool keep_net_bind = false;
  // RLIMIT_NOFILE soft+hard target (clamped to the hard limit when it cannot be raised).
  rlim_t nofile = rlim_t{1} << 20;
  // Transition period only: also allow open/openat for reading (no O_WRONLY/O_RDWR, no
  // O_CREAT, no O_TRUNC). Workers are meant never to open files after start (DESIGN.md §1):
  // the supervisor sends the bytes. Default false; remove once nothing needs it.
  bool allow_open_readonly = false;
};

// Demotes the calling process, in this order:
//   1. single-threaded check; if euid is 0, resolve the user (getpwnam_r) before anything else;
//   2. close every fd not in keep_fds (0-2 that are not kept now point at /dev/null);
//   3. RLIMIT_CORE 0; RLIMIT_NOFILE raised to options.nofile;
//   4. PR_SET_DUMPABLE 0;
//   5. drop the capability bounding set down to the kept capabilities;
//   6. if euid is 0: setgroups({gid}), setresgid, setresuid (PR_SET_KEEPCAPS around it when a
//      capability is kept), verified;
//   7. permitted = effective = the kept capabilities, inheritable and ambient empty; verified;
//      setuid(0) must now fail;
//   8. PR_SET_NO_NEW_PRIVS 1;
//   9. the seccomp allow-list, unless options.mode is kOff.
// Must run while the process has one thread (capabilities are per thread). Throws
// std::system_error or std::runtime_error whose message names the failed step; after a throw
// the process is half demoted and must exit.
void lock_down(const LockdownOptions& options, std::span<const int> keep_fds);

// "kill", "trap" or "off": the --sandbox= spelling.
std::string_view mode_name(SandboxMode mode);
// Inverse of mode_name; nullopt for anything else.
std::optional<SandboxMode> parse_sandbox_mode(std::string_view text);

}  // namespace xsup::worker::lockdown
