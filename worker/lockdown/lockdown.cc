#include "worker/lockdown/lockdown.h"

#include <asm/ioctls.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace xsup::worker::lockdown {
namespace {

[[noreturn]] void fail_errno(const std::string& step, int error) {
  throw std::system_error(error, std::generic_category(), "lockdown: " + step);
}

// Takes a plain pointer so that errno is read before any std::string allocation can touch it.
[[noreturn]] void fail_errno(const char* step) {
  const int error = errno;
  fail_errno(std::string(step), error);
}

[[noreturn]] void fail(const std::string& step, const std::string& why) {
  throw std::runtime_error("lockdown: " + step + ": " + why);
}

// ---------------------------------------------------------------------------------------------
// Step 1: preconditions and the user.

// Capabilities, no_new_privs and the seccomp filter are per thread: a second thread would keep
// what this one gives up. A worker locks down before its event loop starts any thread.
void require_single_thread() {
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) {
    if (errno == ENOENT) return;  // no /proc mounted: nothing to count with
    fail_errno("single-thread check");
  }
  int threads = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++threads;
  }
  ::closedir(dir);
  if (threads > 1) fail("single-thread check", std::to_string(threads) + " threads are running");
}

struct Identity {
  uid_t uid;
  gid_t gid;
};

Identity resolve_user(const std::string& name) {
  long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(hint > 0 ? static_cast<std::size_t>(hint) : 1024);
  passwd entry{};
  passwd* found = nullptr;
  for (;;) {
    int error = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (error == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (error != 0) fail_errno("resolve user " + name, error);
    break;
  }
  if (found == nullptr) fail("resolve user", "no user named \"" + name + "\"");
  if (found->pw_uid == 0 || found->pw_gid == 0) {
    fail("resolve user", "user \"" + name + "\" has uid or gid 0");
  }
  return {found->pw_uid, found->pw_gid};
}

// ---------------------------------------------------------------------------------------------
// Step 2: file descriptors.

// Closes every fd in [low, high] (high may be ~0u for "to the end").
void close_from_to(unsigned low, unsigned high) {
  if (low > high) return;
  if (::close_range(low, high, 0) == 0) return;
  if (errno != ENOSYS && errno != EINVAL) fail_errno("close fds (close_range)");
  // Kernels before 5.9: walk /proc/self/fd, collecting first so the walk's own fd stays valid.
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) fail_errno("close fds (/proc/self/fd)");
  std::vector<int> open_fds;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    int fd = std::atoi(entry->d_name);
    if (fd != ::dirfd(dir)) open_fds.push_back(fd);
  }
  ::closedir(dir);
  for (int fd : open_fds) {
    if (static_cast<unsigned>(fd) >= low && static_cast<unsigned>(fd) <= high) ::close(fd);
  }
}

void close_other_fds(std::span<const int> keep_fds) {
  std::vector<int> keep(keep_fds.begin(), keep_fds.end());
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  for (int fd : keep) {
    if (fd < 0 || ::fcntl(fd, F_GETFD) == -1) {
      fail("close fds", "fd " + std::to_string(fd) + " to keep is not open");
    }
  }
  auto kept = [&keep](int fd) { return std::binary_search(keep.begin(), keep.end(), fd); };

  // 0, 1 and 2 that are not kept point at /dev/null instead of becoming holes: a socket
  // accepted later must never become fd 2 and receive somebody's stray log line.
  int null_fd = -1;
  for (int fd = 0; fd <= 2; ++fd) {
    if (kept(fd)) continue;
    if (null_fd == -1) {
      null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (null_fd == -1) fail_errno("close fds (open /dev/null)");
    }
    if (null_fd != fd && ::dup2(null_fd, fd) == -1) fail_errno("close fds (dup2 /dev/null)");
  }

  // Everything from 3 up that is not kept goes, including null_fd when it landed above 2.
  unsigned next = 3;
  for (int fd : keep) {
    if (fd < 3) continue;
    close_from_to(next, static_cast<unsigned>(fd) - 1);
    next = static_cast<unsigned>(fd) + 1;
  }
  close_from_to(next, ~0u);
}

// ---------------------------------------------------------------------------------------------
// Step 3: resource limits.

void set_limits(rlim_t nofile) {
  const rlimit no_core{0, 0};
  if (::setrlimit(RLIMIT_CORE, &no_core) != 0) fail_errno("RLIMIT_CORE");

  rlimit current{};
  if (::getrlimit(RLIMIT_NOFILE, &current) != 0) fail_errno("RLIMIT_NOFILE (get)");
  rlimit wanted{nofile, nofile};
  if (::setrlimit(RLIMIT_NOFILE, &wanted) == 0) return;
  // Not root, no CAP_SYS_RESOURCE, or above fs.nr_open: as high as the hard limit allows.
  wanted = {std::min(nofile, current.rlim_max), current.rlim_max};
  if (wanted.rlim_cur < current.rlim_cur) return;  // never lower what we already have
  if (::setrlimit(RLIMIT_NOFILE, &wanted) != 0) fail_errno("RLIMIT_NOFILE");
}

// ---------------------------------------------------------------------------------------------
// Steps 5-7: capabilities and identity.

std::uint64_t kept_capabilities(const LockdownOptions& options) {
  std::uint64_t kept = 0;
  if (options.keep_net_admin) kept |= std::uint64_t{1} << CAP_NET_ADMIN;
  if (options.keep_net_bind) kept |= std::uint64_t{1} << CAP_NET_BIND_SERVICE;
  return kept;
}

struct CapabilitySets {
  std::uint64_t effective = 0;
  std::uint64_t permitted = 0;
  std::uint64_t inheritable = 0;
};

// Raw capget/capset: two 32-bit words per set (_LINUX_CAPABILITY_VERSION_3).
CapabilitySets get_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) fail_errno("capget");
  auto join = [](std::uint32_t low, std::uint32_t high) {
    return std::uint64_t{low} | (std::uint64_t{high} << 32);
  };
  return {join(data[0].effective, data[1].effective), join(data[0].permitted, data[1].permitted),
          join(data[0].inheritable, data[1].inheritable)};
}

void set_capabilities(const CapabilitySets& sets, const char* step) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  for (int word = 0; word < 2; ++word) {
    data[word].effective = static_cast<std::uint32_t>(sets.effective >> (32 * word));
    data[word].permitted = static_cast<std::uint32_t>(sets.permitted >> (32 * word));
    data[word].inheritable = static_cast<std::uint32_t>(sets.inheritable >> (32 * word));
  }
  if (::syscall(SYS_capset, &header, data) != 0) fail_errno(step);
}

// The bounding set limits what any later execve could gain. Dropping needs CAP_SETPCAP, which
// the uid switch takes away, so this runs before it. A process without CAP_SETPCAP cannot
// shrink it; it also runs no execve once the filter is in, and has no_new_privs.
void drop_bounding_set(std::uint64_t kept) {
  if ((get_capabilities().effective & (std::uint64_t{1} << CAP_SETPCAP)) == 0) return;
  for (int cap = 0; cap < 64; ++cap) {
    int present = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (present < 0) break;  // EINVAL: past the kernel's last capability
    if (present == 1 && (kept & (std::uint64_t{1} << cap)) == 0 &&
        ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      const int error = errno;
      fail_errno("PR_CAPBSET_DROP " + std::to_string(cap), error);
    }
  }
}

void switch_user(const Identity& who, bool keep_capabilities) {
  // Without KEEPCAPS the switch from uid 0 empties the permitted set; with it the permitted set
  // survives (effective is still cleared) and set_final_capabilities narrows it to what is kept.
  if (keep_capabilities && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    fail_errno("PR_SET_KEEPCAPS 1");
  }
  const gid_t groups[1] = {who.gid};
  if (::setgroups(1, groups) != 0) fail_errno("setgroups");
  if (::setresgid(who.gid, who.gid, who.gid) != 0) fail_errno("setresgid");
  if (::setresuid(who.uid, who.uid, who.uid) != 0) fail_errno("setresuid");
  if (keep_capabilities && ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) {
    fail_errno("PR_SET_KEEPCAPS 0");
  }

  // Trust, but verify: every id and the group list must be the new ones.
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (::getresuid(&ruid, &euid, &suid) != 0) fail_errno("getresuid");
  if (::getresgid(&rgid, &egid, &sgid) != 0) fail_errno("getresgid");
  if (ruid != who.uid || euid != who.uid || suid != who.uid) fail("setresuid", "did not stick");
  if (rgid != who.gid || egid != who.gid || sgid != who.gid) fail("setresgid", "did not stick");
  gid_t listed[2]{};
  if (::getgroups(2, listed) != 1 || listed[0] != who.gid) fail("setgroups", "did not stick");
}

void set_final_capabilities(std::uint64_t kept, bool switched_user) {
  // Kept capabilities the process does not hold (an unprivileged start) cannot be granted.
  const std::uint64_t target = kept & get_capabilities().permitted;
  // Inheritable and ambient empty: they only matter across execve, which the filter forbids.
  set_capabilities({target, target, 0}, "capset");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    fail_errno("PR_CAP_AMBIENT_CLEAR_ALL");  // EINVAL: kernel before 4.3, no ambient set
  }
  const CapabilitySets now = get_capabilities();
  if (now.effective != target || now.permitted != target || now.inheritable != 0) {
    fail("capset", "capabilities did not stick");
  }
  if (switched_user && ::setuid(0) != -1) fail("setuid(0) check", "regaining root succeeded");
}

// ---------------------------------------------------------------------------------------------
// Step 9: seccomp.

// Names for the calls a compromised worker is most likely to try; anything else is a number.
struct SyscallName {
  long number;
  const char* name;
};
constexpr SyscallName kSyscallNames[] = {
    {SYS_execve, "execve"},   {SYS_execveat, "execveat"}, {SYS_ptrace, "ptrace"},
    {SYS_mount, "mount"},     {SYS_umount2, "umount2"},
#ifdef SYS_open
    {SYS_open, "open"},
#endif
    {SYS_openat, "openat"},   {SYS_openat2, "openat2"},
#ifdef SYS_fork
    {SYS_fork, "fork"},       {SYS_vfork, "vfork"},
#endif
    {SYS_clone, "clone"},    // with process-shaped flags
    {SYS_socket, "socket"},  // with a domain other than inet, inet6, unix
    {SYS_ioctl, "ioctl"},    // with a request other than FIONREAD, FIONBIO
    {SYS_prctl, "prctl"},    // with an option other than PR_SET_NAME, PR_GET_NAME
    {SYS_kill, "kill"},       {SYS_setuid, "setuid"},     {SYS_setgid, "setgid"},
    {SYS_unshare, "unshare"}, {SYS_setns, "setns"},       {SYS_bpf, "bpf"},
    {SYS_chroot, "chroot"},   {SYS_unlinkat, "unlinkat"}, {SYS_mkdirat, "mkdirat"},
};

// Async-signal-safe decimal formatting.
char* append_number(char* out, long value) {
  char digits[24];
  int count = 0;
  bool negative = value < 0;
  unsigned long magnitude = negative ? 0ul - static_cast<unsigned long>(value) : value;
  do {
    digits[count++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  if (negative) *out++ = '-';
  while (count > 0) *out++ = digits[--count];
  return out;
}

char* append_text(char* out, const char* text) {
  while (*text != '\0') *out++ = *text++;
  return out;
}

// kTrap: runs on the thread that made the forbidden call; only write(2) and _exit(2), both on
// the allow-list, and no allocation, locale or stdio.
void on_forbidden_syscall(int, siginfo_t* info, void*) {
  const long number = info->si_syscall;
  const char* name = "unknown";
  for (const SyscallName& entry : kSyscallNames) {
    if (entry.number == number) name = entry.name;
  }
  char line[128];
  char* out = append_text(line, "xsup worker: sandbox: forbidden syscall ");
  out = append_number(out, number);
  out = append_text(out, " (");
  out = append_text(out, name);
  out = append_text(out, ")\n");
  ssize_t ignored = ::write(STDERR_FILENO, line, static_cast<std::size_t>(out - line));
  (void)ignored;
  ::_exit(kTrapExitCode);
}

void install_trap_handler() {
  struct sigaction action {};
  action.sa_sigaction = on_forbidden_syscall;
  action.sa_flags = SA_SIGINFO;
  sigfillset(&action.sa_mask);
  if (::sigaction(SIGSYS, &action, nullptr) != 0) fail_errno("sigaction SIGSYS");
  sigset_t sigsys;
  sigemptyset(&sigsys);
  sigaddset(&sigsys, SIGSYS);
  if (::sigprocmask(SIG_UNBLOCK, &sigsys, nullptr) != 0) fail_errno("sigprocmask SIGSYS");
}

class Filter {
 public:
  explicit Filter(std::uint32_t default_action) : context_(seccomp_init(default_action)) {
    if (context_ == nullptr) fail("seccomp_init", "failed");
  }
  ~Filter() { seccomp_release(context_); }
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;

  // A syscall this architecture lacks (libseccomp's negative pseudo-numbers) is skipped.
  void allow(int syscall) { add(SCMP_ACT_ALLOW, syscall, {}); }
  void allow_if(int syscall, std::initializer_list<scmp_arg_cmp> args) {
    add(SCMP_ACT_ALLOW, syscall, args);
  }
  void deny(int syscall, int error, std::initializer_list<scmp_arg_cmp> args) {
    add(SCMP_ACT_ERRNO(static_cast<std::uint32_t>(error)), syscall, args);
  }

  void load() {
    if (int rc = seccomp_load(context_); rc != 0) fail_errno("seccomp_load", -rc);
  }

 private:
  void add(std::uint32_t action, int syscall, std::initializer_list<scmp_arg_cmp> args) {
    if (syscall < 0) return;
    int rc = seccomp_rule_add_array(context_, action, syscall, static_cast<unsigned>(args.size()),
                                    args.size() == 0 ? nullptr : args.begin());
    if (rc != 0) {
      char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, syscall);
      std::string step = std::string("seccomp rule for ") + (name ? name : "?");
      std::free(name);
      fail_errno(step, -rc);
    }
  }

  scmp_filter_ctx context_;
};

std::uint32_t default_action(SandboxMode mode) {
  if (mode == SandboxMode::kTrap) return SCMP_ACT_TRAP;
  // API level 3 means the kernel knows SECCOMP_RET_KILL_PROCESS (Linux 4.14); before that
  // only the calling thread could be killed.
  return seccomp_api_get() >= 3 ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_KILL;
}

// The allow-list: what a worker does after lock-down, and nothing else. Everything missing
// (execve, ptrace, mount, open, fork, kill, setuid, unshare, bpf, …) hits the default action.
void install_filter(const LockdownOptions& options) {
  if (options.mode == SandboxMode::kTrap) install_trap_handler();
  Filter filter(default_action(options.mode));

  // --- the event loop (Asio's epoll reactor) ---
  filter.allow(SCMP_SYS(epoll_create1));    // a new io_context creates its reactor
  filter.allow(SCMP_SYS(epoll_ctl));        // register, re-arm and remove descriptors
  filter.allow(SCMP_SYS(epoll_wait));       // the loop's wait
  filter.allow(SCMP_SYS(epoll_pwait));      // the same wait where libc routes it here
  filter.allow(SCMP_SYS(epoll_pwait2));     // newer libcs' wait with a timespec timeout
  filter.allow(SCMP_SYS(eventfd2));         // the reactor's interrupter
  filter.allow(SCMP_SYS(timerfd_create));   // the reactor's timer queue
  filter.allow(SCMP_SYS(timerfd_settime));  // arm it for the nearest timer
  filter.allow(SCMP_SYS(timerfd_gettime));  // read it back
  filter.allow(SCMP_SYS(poll));             // Asio's synchronous operations wait with poll(2)
  filter.allow(SCMP_SYS(ppoll));            // the same where libc routes poll here
  filter.allow(SCMP_SYS(read));    // sockets, pipes, eventfd, timerfd, the supervisor channel
  filter.allow(SCMP_SYS(write));   // the same, and log lines to fds the worker already holds
  filter.allow(SCMP_SYS(readv));   // scatter reads of Stream
  filter.allow(SCMP_SYS(writev));  // gather writes of Stream
  filter.allow(SCMP_SYS(close));   // every descriptor ends somewhere
  filter.allow(SCMP_SYS(futex));   // mutexes, condition variables, thread join
  filter.allow(SCMP_SYS(clock_gettime));    // steady_clock/system_clock when the vDSO can't
  filter.allow(SCMP_SYS(clock_getres));     // the same, resolution
  filter.allow(SCMP_SYS(gettimeofday));     // the same, old interface
  filter.allow(SCMP_SYS(clock_nanosleep));  // std::this_thread::sleep_for
  filter.allow(SCMP_SYS(nanosleep));        // the same, older libcs
  filter.allow(SCMP_SYS(restart_syscall));  // the kernel resumes an interrupted sleep
  filter.allow(SCMP_SYS(getrandom));        // OpenSSL and std::random_device seed from it
  filter.allow(SCMP_SYS(rt_sigaction));     // signal_set handlers, SIGPIPE ignore
  filter.allow(SCMP_SYS(rt_sigprocmask));   // threads start with signals blocked
  filter.allow(SCMP_SYS(rt_sigreturn));     // return from any signal handler
  filter.allow(SCMP_SYS(sigaltstack));      // sanitizers and libc set per-thread signal stacks
  filter.allow(SCMP_SYS(exit));             // a thread ends
  filter.allow(SCMP_SYS(exit_group));       // the process ends
  filter.allow(SCMP_SYS(getpid));           // logging, raise()
  filter.allow(SCMP_SYS(gettid));           // logging, raise()
  filter.allow(SCMP_SYS(tgkill));           // raise()/abort() signal the own thread
  filter.allow(SCMP_SYS(sched_yield));      // spin-then-yield in libc and Asio's locks
  // --- memory ---
  filter.allow(SCMP_SYS(brk));     // malloc's heap
  filter.allow(SCMP_SYS(munmap));  // and their release
  filter.allow(SCMP_SYS(mremap));  // realloc of large blocks
  // mmap and mprotect never make memory executable (W^X: no injected code becomes runnable):
  // malloc, thread stacks and buffer pools map only read-write. With allow_open_readonly libc
  // may still dlopen an NSS module, whose code must be mapped executable.
  if (options.allow_open_readonly) {
    filter.allow(SCMP_SYS(mmap));      // malloc's large blocks, thread stacks, NSS modules
    filter.allow(SCMP_SYS(mprotect));  // thread stack guard pages, relocations
  } else {
    const scmp_arg_cmp no_exec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
    filter.allow_if(SCMP_SYS(mmap), {no_exec});      // malloc's large blocks, thread stacks
    filter.allow_if(SCMP_SYS(mprotect), {no_exec});  // thread stack guard pages
  }
  filter.allow(SCMP_SYS(madvise));  // malloc and thread exit return pages to the kernel

  // --- networking ---
  for (int domain : {AF_INET, AF_INET6, AF_UNIX}) {  // outbound dials and UDP sessions
    filter.allow_if(SCMP_SYS(socket), {SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(domain))});
  }
  // glibc's getaddrinfo(AI_ADDRCONFIG) probes interfaces over netlink and copes with a refusal;
  // answering with an error keeps the worker alive without giving it a netlink socket.
  filter.deny(SCMP_SYS(socket), EAFNOSUPPORT, {SCMP_A0(SCMP_CMP_EQ, AF_NETLINK)});
  filter.allow_if(SCMP_SYS(socketpair), {SCMP_A0(SCMP_CMP_EQ, AF_UNIX)});  // in-process pairs
  filter.allow(SCMP_SYS(connect));      // outbound dials; UDP default destinations
  filter.allow(SCMP_SYS(accept));       // accept on inherited listeners
  filter.allow(SCMP_SYS(accept4));      // the same, with SOCK_CLOEXEC/SOCK_NONBLOCK
  filter.allow(SCMP_SYS(bind));         // outbound source address, per-session UDP sockets
  filter.allow(SCMP_SYS(listen));       // acceptors opened in-process; inherited listeners skip it
  filter.allow(SCMP_SYS(getsockname));  // local endpoints (SOCKS UDP ASSOCIATE reply)
  filter.allow(SCMP_SYS(getpeername));  // remote endpoints of accepted connections
  filter.allow(SCMP_SYS(setsockopt));   // TCP_NODELAY, SO_MARK, IP_TRANSPARENT, keepalive
  filter.allow(SCMP_SYS(getsockopt));   // SO_ERROR after a non-blocking connect, SO_ORIGINAL_DST
  filter.allow(SCMP_SYS(sendto));       // UDP datagrams
  filter.allow(SCMP_SYS(recvfrom));     // UDP datagrams
  filter.allow(SCMP_SYS(sendmsg));      // Asio's socket writes; the supervisor channel
  filter.allow(SCMP_SYS(recvmsg));      // Asio's socket reads; SCM_RIGHTS from the supervisor
  filter.allow(SCMP_SYS(sendmmsg));     // batched UDP
  filter.allow(SCMP_SYS(recvmmsg));     // batched UDP
  filter.allow(SCMP_SYS(shutdown));     // half-close (Stream::shutdown_send)
  for (unsigned long request : {FIONREAD, FIONBIO}) {  // socket::available, non_blocking
    filter.allow_if(SCMP_SYS(ioctl), {SCMP_A1(SCMP_CMP_EQ, request)});
  }
  // isatty() (stdio's first write to stdout) asks TCGETS; "not a terminal" is the true answer
  // for /dev/null and pipes, and an error here beats killing a worker over a log line.
  filter.deny(SCMP_SYS(ioctl), ENOTTY, {SCMP_A1(SCMP_CMP_EQ, TCGETS)});
  filter.allow(SCMP_SYS(fcntl));   // O_NONBLOCK, FD_CLOEXEC, F_SETPIPE_SZ on splice pipes
  filter.allow(SCMP_SYS(pipe2));   // the splice fast path's pipe
  filter.allow(SCMP_SYS(splice));  // zero-copy relay between plain TCP sockets

  // --- threads (Asio's resolver runs getaddrinfo on a private thread) ---
  // Only thread-shaped clones: same memory, same thread group, same signal handlers, and no
  // new namespace. fork() and friends do not match.
  constexpr scmp_datum_t kThreadFlags = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;
  constexpr scmp_datum_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
                                           CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                           CLONE_NEWNET;
  filter.allow_if(SCMP_SYS(clone),
                  {SCMP_A0(SCMP_CMP_MASKED_EQ, kThreadFlags | kNamespaceFlags, kThreadFlags)});
  // clone3 passes its flags in memory, where a filter cannot look: ENOSYS makes glibc fall
  // back to clone, whose flags the rule above checks.
  filter.deny(SCMP_SYS(clone3), ENOSYS, {});
  filter.allow(SCMP_SYS(set_robust_list));  // every new thread registers its robust futexes
  filter.allow(SCMP_SYS(rseq));             // every new thread registers restartable sequences
  filter.allow_if(SCMP_SYS(prctl), {SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)});  // name a thread
  filter.allow_if(SCMP_SYS(prctl), {SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)});  // read it back
  filter.allow(SCMP_SYS(sched_getaffinity));  // thread start-up and CPU counting in libc
  // Read-only limits for libc's sysconf and pthread's default stack size: pid 0, no new value.
  filter.allow_if(SCMP_SYS(prlimit64), {SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0)});
  filter.allow(SCMP_SYS(getrlimit));  // the same, older interface

  // --- descriptors the worker already holds, and who it is ---
  filter.allow(SCMP_SYS(fstat));       // stdio and Asio look at descriptor types
  filter.allow(SCMP_SYS(newfstatat));  // fstat as glibc 2.33+ spells it (AT_EMPTY_PATH)
  filter.allow(SCMP_SYS(lseek));       // stdio on log descriptors
  filter.allow(SCMP_SYS(uname));       // libc and OpenSSL feature probes
  filter.allow(SCMP_SYS(getuid));      // logging, libc
  filter.allow(SCMP_SYS(geteuid));     // the same
  filter.allow(SCMP_SYS(getgid));      // the same
  filter.allow(SCMP_SYS(getegid));     // the same
  filter.allow(SCMP_SYS(getresuid));   // the same
  filter.allow(SCMP_SYS(getresgid));   // the same
  filter.allow(SCMP_SYS(getppid));     // the supervisor's pid, for log lines

  // --- transition period only (LockdownOptions::allow_open_readonly) ---
  if (options.allow_open_readonly) {
    // Read-only: write access, creation and truncation stay forbidden.
    constexpr scmp_datum_t kWriteFlags = O_ACCMODE | O_CREAT | O_TRUNC;
    filter.allow_if(SCMP_SYS(openat), {SCMP_A2(SCMP_CMP_MASKED_EQ, kWriteFlags, O_RDONLY)});
    filter.allow_if(SCMP_SYS(open), {SCMP_A1(SCMP_CMP_MASKED_EQ, kWriteFlags, O_RDONLY)});
  }

  filter.load();
}

}  // namespace

void lock_down(const LockdownOptions& options, std::span<const int> keep_fds) {
  // 1. Preconditions, and the user while /etc/passwd (and NSS) can still be read.
  require_single_thread();
  const bool root = ::geteuid() == 0;
  std::optional<Identity> identity;
  if (root) identity = resolve_user(options.user.empty() ? "nobody" : options.user);

  // 2. Nothing the worker was not handed on purpose stays reachable.
  close_other_fds(keep_fds);

  // 3. No core files (they would hold keys and users); room for many connections.
  set_limits(options.nofile);

  // 4. No core dumps, no ptrace attach by the same uid, /proc/PID files owned by root.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) fail_errno("PR_SET_DUMPABLE");

  // 5. Bounding set, while CAP_SETPCAP is still at hand.
  const std::uint64_t kept = kept_capabilities(options);
  drop_bounding_set(kept);

  // 6. Identity.
  if (identity) {
    switch_user(*identity, kept != 0);
    // A uid change resets dumpable to fs.suid_dumpable, which may be 1 or 2: set it again.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) fail_errno("PR_SET_DUMPABLE");
  }
  if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) fail("PR_SET_DUMPABLE", "did not stick");

  // 7. Capabilities: only the kept ones, effective; setuid(0) must fail from here on.
  set_final_capabilities(kept, identity.has_value());

  // 8. No execve could ever gain privileges again (and seccomp needs it without CAP_SYS_ADMIN).
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail_errno("PR_SET_NO_NEW_PRIVS");
  if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) fail("PR_SET_NO_NEW_PRIVS", "did not stick");

  // 9. The system call allow-list.
  if (options.mode != SandboxMode::kOff) install_filter(options);
}

std::string_view mode_name(SandboxMode mode) {
  switch (mode) {
    case SandboxMode::kKill:
      return "kill";
    case SandboxMode::kTrap:
      return "trap";
    case SandboxMode::kOff:
      return "off";
  }
  return "kill";
}

std::optional<SandboxMode> parse_sandbox_mode(std::string_view text) {
  for (SandboxMode mode : {SandboxMode::kKill, SandboxMode::kTrap, SandboxMode::kOff}) {
    if (text == mode_name(mode)) return mode;
  }
  return std::nullopt;
}

}  // namespace xsup::worker::lockdown
