#pragma once
// The DNS wire format (RFC 1035 §4) for a stub resolver: encode a one-question query for A
// or AAAA, parse a response into the addresses it gives for that question. Pure: bytes in,
// a value or an Error out, bounded and total on any input.

#include <asio/ip/address.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/base/error.h"

namespace xsup::dns {

using base::Expected;

// RFC 1035 §3.2.2 (A) and RFC 3596 §2.1 (AAAA).
enum class QType : std::uint16_t { kA = 1, kAaaa = 28 };

// RFC 1035 §4.1.1 RCODE values.
enum class Rcode : std::uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};

// RFC 1035 §2.3.4: 255 octets on the wire, so at most 253 characters as text.
constexpr std::size_t kMaxNameText = 253;
// DNS Flag Day 2020's EDNS0 buffer size (RFC 6891 §6.2.5): large enough for A/AAAA answers,
// small enough to avoid IP fragmentation.
constexpr std::uint16_t kEdnsPayload = 1232;

struct Query {
  std::uint16_t id = 0;
  std::string name;  // text form, with or without the final dot
  QType type = QType::kA;
  bool edns = true;  // add an OPT record (RFC 6891 §6.1.2) advertising kEdnsPayload
};

// The query's bytes; kProtocol when the name is not a valid host name on the wire
// (an empty label, a label over 63 octets, a name over 255 octets).
Expected<std::vector<std::uint8_t>> encode_query(const Query& query);

struct Response {
  std::uint16_t id = 0;
  bool truncated = false;  // TC (RFC 1035 §4.1.1): the answer did not fit the datagram
  Rcode rcode = Rcode::kNoError;
  bool has_question = false;
  std::string question_name;  // lower case, no final dot; "" for the root
  std::uint16_t question_type = 0;
  // A or AAAA records (whichever the question asked) owned by the question name or by a
  // CNAME target reached from it within this response, in wire order.
  std::vector<asio::ip::address> addresses;
  // The smallest TTL among the kept addresses and the CNAMEs leading to them, in seconds;
  // 0 when nothing was kept.
  std::uint32_t min_ttl = 0;
};

// Parses a response. kProtocol for anything malformed: a short header, a query (QR=0),
// an answer running past the end, a bad name (bad label type, pointer loop, too long).
// Records of other types and classes are skipped; authority and additional sections are
// not read.
Expected<Response> parse_response(std::span<const std::uint8_t> bytes);

// Lower case, no final dot: the form names are compared in (RFC 4343 §3: case-insensitive).
std::string normalize_name(std::string_view name);

}  // namespace xsup::dns
