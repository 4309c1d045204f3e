#pragma once
// The worker channel (DESIGN.md §3): message names, what each side accepts, and the
// bootstrap a worker starts from. Frames, fd passing and envelopes are shared/ipc's.

#include <array>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/error.h"
#include "shared/base/log.h"
#include "shared/dns/system_files.h"
#include "shared/ipc/channel.h"
#include "shared/users/user_set.h"
#include "worker/lockdown/lockdown.h"
#include "worker/runtime/server.h"

namespace xsup::worker::runtime {

// Supervisor -> worker.
inline constexpr std::string_view kBootstrap = "bootstrap";
inline constexpr std::string_view kDrain = "drain";  // {timeout_ms}
inline constexpr std::string_view kStop = "stop";
inline constexpr std::string_view kTestExecve = "test.execve";  // only with test_triggers
inline constexpr std::string_view kUsers = "users";  // the store's users: shared/users/user_set.h
// {users: {email: [ip, ...]}}: the client IPs allowed for each user at their IP limit
// (worker/core/traffic.h, UserConnections); replaces the last such message.
inline constexpr std::string_view kAllowedIps = "ips.allowed";
// Worker -> supervisor.
inline constexpr std::string_view kReady = "ready";          // {pid, generation, slot}
inline constexpr std::string_view kHeartbeat = "heartbeat";  // {connections}
// Traffic since the last report (worker/core/traffic.h): {users, inbounds, outbounds}, each
// {name: [uplink, downlink, connections]}; sent with the heartbeat when non-empty, and once
// more when a draining worker ends.
inline constexpr std::string_view kStats = "stats";
// {users: {email: [ip, ...]}}: the client IPs of users with an IP limit, for the users whose
// IPs changed since the last report; sent with the heartbeat.
inline constexpr std::string_view kIps = "ips";

// What a serving worker accepts from the supervisor (the bootstrap came before).
inline constexpr std::array<std::string_view, 4> kWorkerAcceptsList = {kDrain, kStop, kUsers,
                                                                       kAllowedIps};
inline constexpr std::array<std::string_view, 5> kWorkerAcceptsWithTriggersList = {
    kDrain, kStop, kUsers, kAllowedIps, kTestExecve};
inline constexpr std::span<const std::string_view> kWorkerAccepts = kWorkerAcceptsList;
inline constexpr std::span<const std::string_view> kWorkerAcceptsWithTriggers =
    kWorkerAcceptsWithTriggersList;
// What the supervisor accepts from a worker.
inline constexpr std::array<std::string_view, 4> kSupervisorAcceptsList = {kReady, kHeartbeat,
                                                                           kStats, kIps};
inline constexpr std::span<const std::string_view> kSupervisorAccepts = kSupervisorAcceptsList;

// A worker sends one heartbeat per interval; the supervisor replaces a worker silent for
// kHeartbeatTimeout.
inline constexpr std::chrono::seconds kHeartbeatInterval{1};
inline constexpr std::chrono::seconds kHeartbeatTimeout{10};

// A listener as the supervisor sends it: the fds stay the supervisor's.
struct ListenerRef {
  std::size_t inbound = 0;
  int tcp = -1;
  int udp = -1;
};

struct Bootstrap {
  std::uint64_t generation = 0;
  unsigned slot = 0;
  nlohmann::json config;  // the merged configuration document, built again by the worker
  std::vector<BoundListener> listeners;    // what the worker received (owned)
  std::vector<ListenerRef> listener_refs;  // what the supervisor sends
  log::Options log;
  std::string user;
  lockdown::SandboxMode sandbox = lockdown::SandboxMode::kKill;
  bool keep_net_admin = false;
  bool test_triggers = false;
  std::chrono::milliseconds drain_timeout{60000};
  dns::ResolverConfig resolver;  // nameservers and hosts, read by the supervisor
  users::UserSet users;          // the store's users when the worker starts
  bool stats = true;             // count traffic (xsup.stats)
};

// The bootstrap's body from listener_refs; their fds are appended to `fds` in the order
// the body names them.
nlohmann::json bootstrap_body(const Bootstrap& boot, std::vector<int>& fds);
// Takes the fds out of `message`.
base::Expected<Bootstrap> parse_bootstrap(ipc::Message& message);

}  // namespace xsup::worker::runtime
