#include "supervisor/systemd/notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace xsup::supervisor::systemd {
namespace {

std::uint64_t monotonic_usec() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u +
         static_cast<std::uint64_t>(now.tv_nsec) / 1'000u;
}

// Restores NOTIFY_SOCKET as it was before the test (the test runner may itself run under
// systemd, and nothing must leak into it or into later tests).
class NotifySocketEnv {
 public:
  NotifySocketEnv() {
    if (const char* old = std::getenv("NOTIFY_SOCKET")) saved_ = old;
  }
  ~NotifySocketEnv() {
    if (saved_) {
      setenv("NOTIFY_SOCKET", saved_->c_str(), 1);
    } else {
      unsetenv("NOTIFY_SOCKET");
    }
  }
  NotifySocketEnv(const NotifySocketEnv&) = delete;
  NotifySocketEnv& operator=(const NotifySocketEnv&) = delete;

 private:
  std::optional<std::string> saved_;
};

// A Unix datagram socket standing in for systemd's notification socket.
class FakeNotifySocket {
 public:
  // Bound to a path in a fresh temporary directory when abstract is false, to a unique name in
  // the abstract namespace ("@name" in NOTIFY_SOCKET) otherwise.
  explicit FakeNotifySocket(bool abstract) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    socklen_t len = 0;
    if (abstract) {
      const std::string name =
          "xsup-notify-test-" + std::to_string(getpid()) + "-" + std::to_string(monotonic_usec());
      addr.sun_path[0] = '\0';
      std::memcpy(addr.sun_path + 1, name.data(), name.size());
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
      env_value_ = "@" + name;
    } else {
      std::string dir_template = (std::filesystem::temp_directory_path() / "xsup-notify-XXXXXX");
      if (mkdtemp(dir_template.data()) == nullptr) {
        throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
      }
      dir_ = dir_template;
      const std::string path = dir_ + "/notify.sock";
      if (path.size() >= sizeof(addr.sun_path)) throw std::runtime_error("temp path too long");
      std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
      len = static_cast<socklen_t>(sizeof(addr));
      env_value_ = path;
    }
    if (bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
      throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
    }
  }
  ~FakeNotifySocket() {
    if (fd_ >= 0) close(fd_);
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }
  FakeNotifySocket(const FakeNotifySocket&) = delete;
  FakeNotifySocket& operator=(const FakeNotifySocket&) = delete;

  const std::string& env_value() const { return env_value_; }

  // The next datagram, or nullopt if none arrives within timeout_ms.
  std::optional<std::string> receive(int timeout_ms = 2000) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
    std::vector<char> buffer(4096);
    const ssize_t n = recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    return std::string(buffer.data(), static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
  std::string dir_;
  std::string env_value_;
};

class NotifyTest : public ::testing::TestWithParam<bool> {
 protected:
  NotifySocketEnv env_guard_;
  FakeNotifySocket socket_{GetParam()};

  void SetUp() override { ASSERT_EQ(setenv("NOTIFY_SOCKET", socket_.env_value().c_str(), 1), 0); }
};

TEST_P(NotifyTest, ReadyWithStatus) {
  notify_ready("serving 2 inbounds with 4 workers");
  EXPECT_EQ(socket_.receive(), "READY=1\nSTATUS=serving 2 inbounds with 4 workers");
  // sd_notify was told not to unset the variable: later reports still reach systemd.
  EXPECT_NE(std::getenv("NOTIFY_SOCKET"), nullptr);
}

TEST_P(NotifyTest, ReadyWithoutStatus) {
  notify_ready();
  EXPECT_EQ(socket_.receive(), "READY=1");
  notify_ready("");
  EXPECT_EQ(socket_.receive(), "READY=1");
}

TEST_P(NotifyTest, ReloadingCarriesMonotonicTimestamp) {
  const std::uint64_t before = monotonic_usec();
  notify_reloading();
  const std::uint64_t after = monotonic_usec();
  const auto message = socket_.receive();
  ASSERT_TRUE(message.has_value());
  const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
  ASSERT_EQ(message->substr(0, prefix.size()), prefix) << *message;
  const std::string digits = message->substr(prefix.size());
  ASSERT_FALSE(digits.empty());
  ASSERT_EQ(digits.find_first_not_of("0123456789"), std::string::npos) << *message;
  const std::uint64_t usec = std::stoull(digits);
  EXPECT_GE(usec, before);
  EXPECT_LE(usec, after);
}

TEST_P(NotifyTest, Stopping) {
  notify_stopping();
  EXPECT_EQ(socket_.receive(), "STOPPING=1");
}

TEST_P(NotifyTest, Status) {
  notify_status("reload refused: inbounds[0].port: 70000 is out of range 1..65535");
  EXPECT_EQ(socket_.receive(),
            "STATUS=reload refused: inbounds[0].port: 70000 is out of range 1..65535");
}

TEST_P(NotifyTest, StatusNewlinesCannotInjectAssignments) {
  notify_status("bad\nREADY=1");
  EXPECT_EQ(socket_.receive(), "STATUS=bad READY=1");
  notify_ready("a\r\nb");
  EXPECT_EQ(socket_.receive(), "READY=1\nSTATUS=a  b");
}

TEST_P(NotifyTest, Watchdog) {
  notify_watchdog();
  EXPECT_EQ(socket_.receive(), "WATCHDOG=1");
}

TEST_P(NotifyTest, ReloadSequenceArrivesInOrder) {
  notify_ready("started");
  notify_reloading();
  notify_ready("reloaded");
  notify_stopping();
  EXPECT_EQ(socket_.receive(), "READY=1\nSTATUS=started");
  const auto reloading = socket_.receive();
  ASSERT_TRUE(reloading.has_value());
  EXPECT_EQ(reloading->rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << *reloading;
  EXPECT_EQ(socket_.receive(), "READY=1\nSTATUS=reloaded");
  EXPECT_EQ(socket_.receive(), "STOPPING=1");
  EXPECT_EQ(socket_.receive(50), std::nullopt);
}

TEST_P(NotifyTest, NothingSentWithoutNotifySocket) {
  ASSERT_EQ(unsetenv("NOTIFY_SOCKET"), 0);
  notify_ready("x");
  notify_reloading();
  notify_stopping();
  notify_status("x");
  notify_watchdog();
  EXPECT_EQ(socket_.receive(100), std::nullopt);
  // An empty value counts as unset.
  ASSERT_EQ(setenv("NOTIFY_SOCKET", "", 1), 0);
  notify_ready("x");
  EXPECT_EQ(socket_.receive(100), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(PathAndAbstract, NotifyTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Abstract") : std::string("Path");
                         });

// A socket nobody listens on, or a malformed value: the calls fail inside sd_notify, quietly.
TEST(NotifyErrorsTest, UnreachableSocketIsIgnored) {
  NotifySocketEnv env_guard;
  for (const char* value :
       {"/nonexistent/xsup/notify.sock", "@xsup-nobody-listens-here", "relative/path.sock"}) {
    ASSERT_EQ(setenv("NOTIFY_SOCKET", value, 1), 0);
    EXPECT_NO_THROW({
      notify_ready("x");
      notify_reloading();
      notify_stopping();
      notify_status("x");
      notify_watchdog();
    }) << value;
  }
}

}  // namespace
}  // namespace xsup::supervisor::systemd
