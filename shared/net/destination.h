#pragma once
// Where a connection goes: a network, an address (IP or domain) and a port — Xray's
// net.Destination.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <asio/ip/address.hpp>

namespace xsup::net {

enum class Network : std::uint8_t { kTcp, kUdp };

std::string_view to_string(Network network);

class Address {
 public:
  Address() = default;
  explicit Address(asio::ip::address ip) : value_(ip) {}
  // A domain, stored lower-case. An IP literal given as text becomes an IP.
  static Address parse(std::string_view text);
  static Address domain(std::string name) { return Address(std::move(name), 0); }

  bool is_ip() const { return std::holds_alternative<asio::ip::address>(value_); }
  bool is_domain() const { return std::holds_alternative<std::string>(value_); }
  bool empty() const { return is_domain() && std::get<std::string>(value_).empty(); }
  const asio::ip::address& ip() const { return std::get<asio::ip::address>(value_); }
  const std::string& domain() const { return std::get<std::string>(value_); }

  // IPv6 without brackets; see Destination::to_string for host:port forms.
  std::string to_string() const;
  bool operator==(const Address&) const = default;

 private:
  Address(std::string name, int /*tag*/) : value_(std::move(name)) {}
  std::variant<std::string, asio::ip::address> value_;
};

struct Destination {
  Network network = Network::kTcp;
  Address address;
  std::uint16_t port = 0;

  bool valid() const { return !address.empty(); }
  // "tcp:example.com:443", "udp:[::1]:53" as Xray prints destinations.
  std::string to_string() const;
  // "example.com:443", "[::1]:53".
  std::string host_port() const;
  bool operator==(const Destination&) const = default;
};

// Parses "host:port" / "[v6]:port" / "v4:port"; nullopt when malformed.
std::optional<Destination> parse_host_port(std::string_view text, Network network);

}  // namespace xsup::net
