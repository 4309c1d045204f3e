#include "worker/lockdown/lockdown.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace xsup::worker::lockdown {
namespace {

using namespace std::chrono_literals;

// Every child is bounded twice: alarm(2) inside, SIGKILL from the parent after kWaitLimit.
constexpr unsigned kChildAlarmSeconds = 20;
constexpr auto kWaitLimit = 30s;
// Exit code of a child whose body threw.
constexpr int kThrew = 100;

// Runs body in a forked child (no exec: the child is this test binary, as a worker is) and
// returns its pid. The body's return value is the exit code; the child never returns into
// gtest and leaves with _exit, so no atexit handler (or sanitizer report) runs under seccomp.
pid_t spawn(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::alarm(kChildAlarmSeconds);
  int code = kThrew;
  try {
    code = body();
  } catch (const std::exception& error) {
    // stderr may already be /dev/null; a thrown lock_down shows up as kThrew either way.
    const std::string line = std::string("child threw: ") + error.what() + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
  }
  ::_exit(code);
}

struct Outcome {
  bool exited = false;
  int code = -1;
  int signal = 0;
};

Outcome wait_for(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done == -1 && errno != EINTR) return {};
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "child " << pid << " did not finish in time";
      return {};
    }
    std::this_thread::sleep_for(5ms);
  }
  if (WIFEXITED(status)) return {true, WEXITSTATUS(status), 0};
  if (WIFSIGNALED(status)) return {false, -1, WTERMSIG(status)};
  return {};
}

std::string describe(const Outcome& outcome) {
  if (outcome.exited) return "exit " + std::to_string(outcome.code);
  return "signal " + std::to_string(outcome.signal) + " (" + ::strsignal(outcome.signal) + ")";
}

// Reads until EOF or until the pipe stays silent for the wait limit.
std::string read_all(int fd) {
  std::string text;
  for (;;) {
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(std::chrono::milliseconds(kWaitLimit).count())) <= 0) {
      break;
    }
    char chunk[512];
    const ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got <= 0) break;
    text.append(chunk, static_cast<std::size_t>(got));
  }
  return text;
}

struct Pipe {
  Pipe() { EXPECT_EQ(::pipe2(fds.data(), O_CLOEXEC), 0); }
  ~Pipe() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  int read_end() const { return fds[0]; }
  int write_end() const { return fds[1]; }
  void close_read() { ::close(std::exchange(fds[0], -1)); }
  void close_write() { ::close(std::exchange(fds[1], -1)); }
  std::array<int, 2> fds{-1, -1};
};

// /proc/PID/<name> read from outside; pid 0 reads /proc/<name>.
std::string proc_file(pid_t pid, const std::string& name) {
  std::ifstream file("/proc/" + (pid == 0 ? "" : std::to_string(pid) + "/") + name);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// "Name:\tvalue" line of /proc/PID/status, without the name.
std::string status_field(const std::string& status, const std::string& name) {
  const std::string key = "\n" + name + ":\t";
  const auto at = status.find(key);
  if (at == std::string::npos) return "<missing>";
  const auto start = at + key.size();
  std::string value = status.substr(start, status.find('\n', start) - start);
  while (!value.empty() && value.back() == ' ') value.pop_back();  // "Groups:" ends in a space
  return value;
}

// "soft hard" of one line of /proc/PID/limits.
std::string limit(const std::string& limits, const std::string& name) {
  const auto at = limits.find("\n" + name + " ");
  if (at == std::string::npos) return "<missing>";
  std::istringstream line(limits.substr(at + 1 + name.size()));
  std::string soft, hard;
  line >> soft >> hard;
  return soft + " " + hard;
}

struct Identity {
  uid_t uid;
  gid_t gid;
};

Identity nobody() {
  const passwd* entry = ::getpwnam("nobody");
  if (entry == nullptr) return {static_cast<uid_t>(-1), static_cast<gid_t>(-1)};
  return {entry->pw_uid, entry->pw_gid};
}

bool running_as_root() { return ::geteuid() == 0; }

// A child that locks down, says so on a pipe, and waits for the parent's go on another pipe,
// so the parent can read /proc/PID/status of a live, locked-down process.
struct Snapshot {
  std::string status;  // /proc/PID/status
  std::string limits;  // /proc/PID/limits
};

Snapshot snapshot_of_locked_down_child(const LockdownOptions& options) {
  Pipe ready, go;
  const pid_t pid = spawn([&]() -> int {
    const int keep[] = {ready.write_end(), go.read_end()};
    lock_down(options, keep);
    if (::write(ready.write_end(), "r", 1) != 1) return 2;
    char byte;
    return ::read(go.read_end(), &byte, 1) == 1 ? 0 : 3;
  });
  ready.close_write();
  go.close_read();
  pollfd entry{ready.read_end(), POLLIN, 0};
  Snapshot snapshot;
  if (::poll(&entry, 1, 20'000) == 1) {
    char byte;
    if (::read(ready.read_end(), &byte, 1) == 1) {
      snapshot = {proc_file(pid, "status"), proc_file(pid, "limits")};
    }
  }
  EXPECT_EQ(::write(go.write_end(), "g", 1), 1);
  const Outcome outcome = wait_for(pid);
  EXPECT_TRUE(outcome.exited && outcome.code == 0) << describe(outcome);
  return snapshot;
}

TEST(SandboxMode, NamesRoundTrip) {
  for (SandboxMode mode : {SandboxMode::kKill, SandboxMode::kTrap, SandboxMode::kOff}) {
    EXPECT_EQ(parse_sandbox_mode(mode_name(mode)), mode);
  }
  EXPECT_EQ(mode_name(SandboxMode::kKill), "kill");
  EXPECT_EQ(mode_name(SandboxMode::kTrap), "trap");
  EXPECT_EQ(mode_name(SandboxMode::kOff), "off");
  EXPECT_EQ(parse_sandbox_mode("Kill"), std::nullopt);
  EXPECT_EQ(parse_sandbox_mode(""), std::nullopt);
  EXPECT_EQ(LockdownOptions{}.mode, SandboxMode::kKill);
  EXPECT_FALSE(LockdownOptions{}.allow_open_readonly);
}

// (1) and, as root, (5) seen from outside.
TEST(LockDown, ProcStatusShowsNoNewPrivsAndSeccompFilter) {
  const Snapshot snapshot = snapshot_of_locked_down_child({});
  const std::string& status = snapshot.status;
  ASSERT_FALSE(status.empty());
  // Step 3: no core files; the fd limit at 1 << 20 where this process may set it (raising the
  // hard limit needs CAP_SYS_RESOURCE, which container root often lacks), else at the hard limit.
  EXPECT_EQ(limit(snapshot.limits, "Max core file size"), "0 0");
  rlimit parent{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &parent), 0);
  constexpr rlim_t kTarget = rlim_t{1} << 20;
  const std::uint64_t own_capabilities =
      std::stoull(status_field(proc_file(0, "self/status"), "CapEff"), nullptr, 16);
  const bool can_raise = (own_capabilities >> CAP_SYS_RESOURCE & 1) != 0 &&
                         std::stoull(proc_file(0, "sys/fs/nr_open")) >= kTarget;
  const rlim_t expected = parent.rlim_max >= kTarget || can_raise ? kTarget : parent.rlim_max;
  EXPECT_EQ(limit(snapshot.limits, "Max open files"),
            std::to_string(expected) + " " + std::to_string(expected));
  EXPECT_EQ(status_field(status, "NoNewPrivs"), "1");
  EXPECT_EQ(status_field(status, "Seccomp"), "2");
  EXPECT_EQ(status_field(status, "CapEff"), "0000000000000000");
  EXPECT_EQ(status_field(status, "CapPrm"), "0000000000000000");
  EXPECT_EQ(status_field(status, "CapInh"), "0000000000000000");
  EXPECT_EQ(status_field(status, "CapAmb"), "0000000000000000");
  if (running_as_root()) {
    const Identity who = nobody();
    const std::string uid = std::to_string(who.uid), gid = std::to_string(who.gid);
    EXPECT_EQ(status_field(status, "Uid"), uid + "\t" + uid + "\t" + uid + "\t" + uid);
    EXPECT_EQ(status_field(status, "Gid"), gid + "\t" + gid + "\t" + gid + "\t" + gid);
    EXPECT_EQ(status_field(status, "Groups"), gid);
    EXPECT_EQ(status_field(status, "CapBnd"), "0000000000000000");
  }
}

TEST(LockDown, OffModeStillDemotesButInstallsNoFilter) {
  LockdownOptions options;
  options.mode = SandboxMode::kOff;
  const std::string status = snapshot_of_locked_down_child(options).status;
  EXPECT_EQ(status_field(status, "NoNewPrivs"), "1");
  EXPECT_EQ(status_field(status, "Seccomp"), "0");
}

TEST(LockDown, KeepsNetAdminAcrossTheUserSwitch) {
  if (!running_as_root()) GTEST_SKIP() << "only root holds CAP_NET_ADMIN to keep";
  LockdownOptions options;
  options.keep_net_admin = true;
  const std::string status = snapshot_of_locked_down_child(options).status;
  const std::string net_admin = "0000000000001000";  // 1 << CAP_NET_ADMIN (12)
  EXPECT_EQ(status_field(status, "CapEff"), net_admin);
  EXPECT_EQ(status_field(status, "CapPrm"), net_admin);
  EXPECT_EQ(status_field(status, "CapBnd"), net_admin);
  EXPECT_EQ(status_field(status, "CapAmb"), "0000000000000000");
  EXPECT_NE(status_field(status, "Uid").substr(0, 2), "0\t");
}

// (2) The forbidden call kills the whole process, in every build.
TEST(LockDown, ExecveIsKilledBySigsys) {
  const pid_t pid = spawn([] {
    lock_down({}, {});
    char path[] = "/bin/true";
    char* argv[] = {path, nullptr};
    ::execve(path, argv, environ);
    return 3;  // execve returned: the filter let it through and it failed
  });
  const Outcome outcome = wait_for(pid);
  EXPECT_FALSE(outcome.exited) << describe(outcome);
  EXPECT_EQ(outcome.signal, SIGSYS) << describe(outcome);
}

TEST(LockDown, OpenIsKilledUnlessReadOnlyOpensAreAllowed) {
  const pid_t killed = spawn([] {
    lock_down({}, {});
    return ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC) >= 0 ? 4 : 5;
  });
  const Outcome outcome = wait_for(killed);
  EXPECT_EQ(outcome.signal, SIGSYS) << describe(outcome);

  const pid_t reads = spawn([] {
    LockdownOptions options;
    options.allow_open_readonly = true;
    lock_down(options, {});
    const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 4;
    char text[64];
    if (::read(fd, text, sizeof text) <= 0) return 5;
    ::close(fd);
    // Write access stays forbidden.
    ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    return 6;
  });
  const Outcome read_outcome = wait_for(reads);
  EXPECT_EQ(read_outcome.signal, SIGSYS) << describe(read_outcome);
}

TEST(LockDown, ExecutableMemoryIsKilled) {
  const pid_t pid = spawn([] {
    lock_down({}, {});
    void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return 8;  // read-write memory must still work
    ::mprotect(page, 4096, PROT_READ | PROT_EXEC);
    return 9;
  });
  const Outcome outcome = wait_for(pid);
  EXPECT_EQ(outcome.signal, SIGSYS) << describe(outcome);
}

// Three calls answer with an error because libc copes with it; their other shapes still kill.
TEST(LockDown, LibcProbesGetAnErrorButOtherShapesAreKilled) {
  const pid_t pid = spawn([]() -> int {
    lock_down({}, {});
    if (::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0) != -1 || errno != EAFNOSUPPORT) return 2;
    if (::isatty(STDOUT_FILENO) != 0 || errno != ENOTTY) return 3;
    if (::syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) return 4;
    const int udp = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // allowed domain
    if (udp < 0) return 5;
    ::close(udp);
    ::socket(AF_PACKET, SOCK_RAW, 0);  // any other domain: the default action
    return 6;
  });
  const Outcome outcome = wait_for(pid);
  EXPECT_EQ(outcome.signal, SIGSYS) << describe(outcome);
}

TEST(LockDown, TrapModeNamesAFilteredArgument) {
  Pipe error;
  const pid_t pid = spawn([&]() -> int {
    if (::dup2(error.write_end(), STDERR_FILENO) != STDERR_FILENO) return 2;
    LockdownOptions options;
    options.mode = SandboxMode::kTrap;
    const int keep[] = {STDERR_FILENO};
    lock_down(options, keep);
    ::ioctl(STDERR_FILENO, TIOCSTI, "x");  // ioctl is allowed, but not this request
    return 3;
  });
  error.close_write();
  const std::string text = read_all(error.read_end());
  const Outcome outcome = wait_for(pid);
  EXPECT_EQ(outcome.code, kTrapExitCode) << describe(outcome);
  EXPECT_EQ(text,
            "xsup worker: sandbox: forbidden syscall " + std::to_string(SYS_ioctl) + " (ioctl)\n");
}

TEST(LockDown, ForkIsKilled) {
  const pid_t pid = spawn([] {
    lock_down({}, {});
    const pid_t grandchild = ::fork();
    if (grandchild == 0) ::_exit(0);
    return 7;
  });
  const Outcome outcome = wait_for(pid);
  EXPECT_EQ(outcome.signal, SIGSYS) << describe(outcome);
}

// (3) kTrap names the call on stderr and exits with 159.
TEST(LockDown, TrapModeReportsTheCallAndExits159) {
  Pipe error;
  const pid_t pid = spawn([&]() -> int {
    if (::dup2(error.write_end(), STDERR_FILENO) != STDERR_FILENO) return 2;
    LockdownOptions options;
    options.mode = SandboxMode::kTrap;
    const int keep[] = {STDERR_FILENO};
    lock_down(options, keep);
    char path[] = "/bin/true";
    char* argv[] = {path, nullptr};
    ::execve(path, argv, environ);
    return 3;
  });
  error.close_write();
  const std::string text = read_all(error.read_end());
  const Outcome outcome = wait_for(pid);
  EXPECT_TRUE(outcome.exited) << describe(outcome);
  EXPECT_EQ(outcome.code, kTrapExitCode);
  EXPECT_EQ(text, "xsup worker: sandbox: forbidden syscall " + std::to_string(SYS_execve) +
                      " (execve)\n");
}

// (4) The allow-list carries the data path: accept, connect, read, write, splice through a
// pipe, timers, and Asio's resolver thread.
int echo_after_lock_down(SandboxMode mode) {
  using asio::ip::tcp;
  constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

  // The listener exists before lock-down, as the supervisor's inherited one does.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) ||
      ::listen(listener, 8) != 0) {
    return 10;
  }
  LockdownOptions options;
  options.mode = mode;
  const int keep[] = {listener, STDERR_FILENO};
  lock_down(options, keep);

  asio::io_context io;
  tcp::acceptor acceptor(io);
  acceptor.assign(tcp::v4(), listener);
  const std::string port = std::to_string(acceptor.local_endpoint().port());
  int result = 11;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        tcp::resolver resolver(io);
        auto [resolve_error, found] = co_await resolver.async_resolve(
            "127.0.0.1", port, tcp::resolver::numeric_host | tcp::resolver::numeric_service,
            kTuple);
        if (resolve_error || found.empty()) {
          result = 12;
          co_return;
        }

        tcp::socket client(io);
        auto [connect_error] = co_await client.async_connect(found.begin()->endpoint(), kTuple);
        if (connect_error) {
          result = 13;
          co_return;
        }
        auto [accept_error, server] = co_await acceptor.async_accept(kTuple);
        if (accept_error) {
          result = 14;
          co_return;
        }

        asio::steady_timer timer(io, 5ms);
        if (auto [timer_error] = co_await timer.async_wait(kTuple); timer_error) {
          result = 15;
          co_return;
        }

        const std::string message = "through the sandbox";
        auto [write_error, written] =
            co_await asio::async_write(client, asio::buffer(message), kTuple);
        if (write_error) {
          result = 16;
          co_return;
        }

        // Echo on the server side with splice: socket -> pipe -> socket, no user-space copy.
        int relay[2];
        if (::pipe2(relay, O_CLOEXEC | O_NONBLOCK) != 0) {
          result = 17;
          co_return;
        }
        std::size_t moved = 0;
        while (moved < message.size()) {
          if (auto [wait_error] = co_await server.async_wait(tcp::socket::wait_read, kTuple);
              wait_error) {
            result = 18;
            co_return;
          }
          const ssize_t in = ::splice(server.native_handle(), nullptr, relay[1], nullptr, 65536,
                                      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
          if (in < 0 && errno == EAGAIN) continue;
          if (in <= 0) {
            result = 19;
            co_return;
          }
          const ssize_t out = ::splice(relay[0], nullptr, server.native_handle(), nullptr,
                                       static_cast<std::size_t>(in), SPLICE_F_MOVE);
          if (out != in) {
            result = 20;
            co_return;
          }
          moved += static_cast<std::size_t>(in);
        }
        ::close(relay[0]);
        ::close(relay[1]);

        std::string echoed(message.size(), '\0');
        auto [read_error, got] = co_await asio::async_read(client, asio::buffer(echoed), kTuple);
        if (read_error || echoed != message) {
          result = 21;
          co_return;
        }
        result = 0;
      },
      asio::detached);
  io.run();
  return result;
}

TEST(LockDown, AsioEchoWithSpliceTimersAndResolverStillWorks) {
  const pid_t pid = spawn([] { return echo_after_lock_down(SandboxMode::kKill); });
  const Outcome outcome = wait_for(pid);
  EXPECT_TRUE(outcome.exited && outcome.code == 0) << describe(outcome);
}

// The transition flag exists for name resolution that still reads /etc (nsswitch.conf,
// hosts, resolv.conf, gai.conf): with it, getaddrinfo of a name in /etc/hosts works on the
// resolver thread, as the TCP dialer uses it.
TEST(LockDown, ReadOnlyOpensLetTheResolverReadEtcHosts) {
  const pid_t pid = spawn([]() -> int {
    const int keep[] = {STDERR_FILENO};
    LockdownOptions options;
    options.mode = SandboxMode::kTrap;  // a missing call names itself on stderr
    options.allow_open_readonly = true;
    lock_down(options, keep);
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    int result = 2;
    resolver.async_resolve("localhost", "80", [&](const asio::error_code& error, auto found) {
      result = error ? 3 : found.empty() ? 4 : 0;
    });
    io.run();
    return result;
  });
  const Outcome outcome = wait_for(pid);
  EXPECT_TRUE(outcome.exited && outcome.code == 0) << describe(outcome);
}

// (5) As root the child becomes nobody, and cannot become root again. kOff so that setuid(0)
// reaches the kernel instead of the filter.
TEST(LockDown, RootBecomesNobodyAndCannotGoBack) {
  if (!running_as_root()) GTEST_SKIP() << "needs root to switch users";
  const Identity who = nobody();
  ASSERT_NE(who.uid, static_cast<uid_t>(-1)) << "no user nobody";
  const pid_t pid = spawn([who]() -> int {
    LockdownOptions options;
    options.mode = SandboxMode::kOff;
    lock_down(options, {});
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    ::getresuid(&ruid, &euid, &suid);
    ::getresgid(&rgid, &egid, &sgid);
    if (ruid != who.uid || euid != who.uid || suid != who.uid) return 2;
    if (rgid != who.gid || egid != who.gid || sgid != who.gid) return 3;
    gid_t groups[4];
    if (::getgroups(4, groups) != 1 || groups[0] != who.gid) return 4;
    if (::setuid(0) != -1 || errno != EPERM) return 5;
    if (::setgid(0) != -1 || errno != EPERM) return 6;
    if (::setgroups(0, nullptr) != -1) return 7;
    return 0;
  });
  const Outcome outcome = wait_for(pid);
  EXPECT_TRUE(outcome.exited && outcome.code == 0) << describe(outcome);
}

TEST(LockDown, UnknownUserFailsBeforeAnythingChanges) {
  if (!running_as_root()) GTEST_SKIP() << "the user is resolved only as root";
  const pid_t pid = spawn([]() -> int {
    LockdownOptions options;
    options.user = "xsup-no-such-user";
    try {
      lock_down(options, {});
    } catch (const std::runtime_error& error) {
      if (std::string(error.what()).find("resolve user") == std::string::npos) return 2;
      return ::geteuid() == 0 ? 0 : 3;  // still root: nothing was demoted
    }
    return 4;
  });
  const Outcome outcome = wait_for(pid);
  EXPECT_TRUE(outcome.exited && outcome.code == 0) << describe(outcome);
}

TEST(LockDown, RefusesToRunWithASecondThread) {
  const pid_t pid = spawn([]() -> int {
    int parked[2];
    if (::pipe2(parked, O_CLOEXEC) != 0) return 2;
    // A thread that blocks forever; the child leaves with _exit, never joining it.
    auto* thread = new std::thread([fd = parked[0]] {
      char byte;
      ssize_t ignored = ::read(fd, &byte, 1);
      (void)ignored;
    });
    (void)thread;
    try {
      lock_down({}, {});
    } catch (const std::runtime_error& error) {
      return std::string(error.what()).find("single-thread") != std::string::npos ? 0 : 3;
    }
    return 4;
  });
  const Outcome outcome = wait_for(pid);
  EXPECT_TRUE(outcome.exited && outcome.code == 0) << describe(outcome);
}

// (6) Only the kept descriptors survive; 0-2 that were not kept are /dev/null.
TEST(LockDown, ClosesEveryDescriptorNotKept) {
  Pipe kept, dropped;
  const pid_t pid = spawn([&]() -> int {
    const int high = ::fcntl(dropped.read_end(), F_DUPFD_CLOEXEC, 200);  // a far one too
    if (high < 200) return 2;
    const int keep[] = {kept.write_end()};
    lock_down({}, keep);
    for (int fd : {dropped.read_end(), dropped.write_end(), kept.read_end(), high}) {
      if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) return 3;
    }
    if (::fcntl(kept.write_end(), F_GETFD) == -1) return 4;
    for (int fd = 0; fd <= 2; ++fd) {
      struct stat info {};
      if (::fstat(fd, &info) != 0 || !S_ISCHR(info.st_mode) ||
          info.st_rdev != makedev(1, 3)) {  // /dev/null is char 1:3 on Linux
        return 5;
      }
    }
    return ::write(kept.write_end(), "k", 1) == 1 ? 0 : 6;
  });
  kept.close_write();
  const std::string text = read_all(kept.read_end());
  const Outcome outcome = wait_for(pid);
  EXPECT_TRUE(outcome.exited && outcome.code == 0) << describe(outcome);
  EXPECT_EQ(text, "k");
}

TEST(LockDown, RefusesToKeepADescriptorThatIsNotOpen) {
  const pid_t pid = spawn([]() -> int {
    const int keep[] = {987};
    try {
      lock_down({}, keep);
    } catch (const std::runtime_error& error) {
      return std::string(error.what()).find("close fds") != std::string::npos ? 0 : 2;
    }
    return 3;
  });
  const Outcome outcome = wait_for(pid);
  EXPECT_TRUE(outcome.exited && outcome.code == 0) << describe(outcome);
}

}  // namespace
}  // namespace xsup::worker::lockdown
