#include "shared/dns/message.h"

#include <algorithm>
#include <optional>

namespace xsup::dns {
namespace {

using base::Errc;
using base::Error;

constexpr std::size_t kHeaderSize = 12;  // RFC 1035 §4.1.1
constexpr std::size_t kMaxLabel = 63;    // RFC 1035 §2.3.4
constexpr std::size_t kMaxNameWire = 255;
// A legitimate name needs fewer pointers than it has labels (at most 127); more is a loop.
constexpr int kMaxJumps = 128;
// RFC 1035 §4.1.1 header flags.
constexpr std::uint16_t kFlagQr = 0x8000;
constexpr std::uint16_t kFlagTc = 0x0200;
constexpr std::uint16_t kFlagRd = 0x0100;
constexpr std::uint16_t kClassIn = 1;    // RFC 1035 §3.2.4
constexpr std::uint16_t kTypeCname = 5;  // RFC 1035 §3.2.2
constexpr std::uint16_t kTypeOpt = 41;   // RFC 6891 §6.1.1
// Enough for any sane alias chain; bounds the work a hostile response can cause.
constexpr int kMaxCnameHops = 16;

std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}
std::uint32_t get32(std::span<const std::uint8_t> b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
         (std::uint32_t{b[at + 2]} << 8) | std::uint32_t{b[at + 3]};
}
void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

struct Name {
  std::string text;
  std::size_t end = 0;  // offset just past the name where it was read (not where it jumped)
};

// RFC 1035 §4.1.4: a name is labels ending in a zero octet or in a pointer to the rest.
Expected<Name> read_name(std::span<const std::uint8_t> bytes, std::size_t pos) {
  Name name;
  std::optional<std::size_t> end;
  std::size_t wire = 0;
  int jumps = 0;
  for (;;) {
    if (pos >= bytes.size()) return Error(Errc::kProtocol, "dns: name past the end");
    const std::uint8_t len = bytes[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= bytes.size()) return Error(Errc::kProtocol, "dns: short pointer");
      if (++jumps > kMaxJumps) return Error(Errc::kProtocol, "dns: pointer loop");
      if (!end) end = pos + 2;
      pos = static_cast<std::size_t>(((len & 0x3F) << 8) | bytes[pos + 1]);
      continue;
    }
    // 0x40 and 0x80 are the extended and reserved label types (RFC 6891 §5): not for us.
    if ((len & 0xC0) != 0) return Error(Errc::kProtocol, "dns: bad label type");
    wire += std::size_t{len} + 1;
    if (wire > kMaxNameWire) return Error(Errc::kProtocol, "dns: name too long");
    ++pos;
    if (len == 0) break;
    if (pos + len > bytes.size()) return Error(Errc::kProtocol, "dns: label past the end");
    if (!name.text.empty()) name.text.push_back('.');
    for (std::size_t i = 0; i < len; ++i)
      name.text.push_back(lower(static_cast<char>(bytes[pos + i])));
    pos += len;
  }
  name.end = end ? *end : pos;
  return name;
}

struct Record {
  std::string owner;
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::string cname;  // the target, for a CNAME
  std::optional<asio::ip::address> address;
};

}  // namespace

std::string normalize_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) c = lower(c);
  return out;
}

Expected<std::vector<std::uint8_t>> encode_query(const Query& query) {
  const std::string name = normalize_name(query.name);
  if (name.empty() || name.size() > kMaxNameText) {
    return Error(Errc::kProtocol, "dns: bad name length");
  }
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderSize + name.size() + 2 + 4 + 11);
  put16(out, query.id);
  put16(out, kFlagRd);  // a stub resolver asks for recursion (RFC 1035 §4.1.1)
  put16(out, 1);        // QDCOUNT
  put16(out, 0);        // ANCOUNT
  put16(out, 0);        // NSCOUNT
  put16(out, query.edns ? 1 : 0);
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    const std::size_t len = dot - start;
    if (len == 0 || len > kMaxLabel) return Error(Errc::kProtocol, "dns: bad label");
    out.push_back(static_cast<std::uint8_t>(len));
    out.insert(out.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
               name.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  out.push_back(0);
  put16(out, static_cast<std::uint16_t>(query.type));
  put16(out, kClassIn);
  if (query.edns) {
    // RFC 6891 §6.1.2: root owner, TYPE=OPT, CLASS=payload size, TTL=0 (no extended RCODE,
    // version 0, DO clear), no options.
    out.push_back(0);
    put16(out, kTypeOpt);
    put16(out, kEdnsPayload);
    put16(out, 0);
    put16(out, 0);
    put16(out, 0);
  }
  return out;
}

Expected<Response> parse_response(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return Error(Errc::kProtocol, "dns: short header");
  Response response;
  response.id = get16(bytes, 0);
  const std::uint16_t flags = get16(bytes, 2);
  if ((flags & kFlagQr) == 0) return Error(Errc::kProtocol, "dns: not a response");
  if (((flags >> 11) & 0xF) != 0) return Error(Errc::kProtocol, "dns: not a standard query");
  response.truncated = (flags & kFlagTc) != 0;
  response.rcode = static_cast<Rcode>(flags & 0xF);
  const std::uint16_t qdcount = get16(bytes, 4);
  const std::uint16_t ancount = get16(bytes, 6);
  // We send one question; a server either echoes it or (on some errors) none.
  if (qdcount > 1) return Error(Errc::kProtocol, "dns: more than one question");

  std::size_t pos = kHeaderSize;
  if (qdcount == 1) {
    auto name = read_name(bytes, pos);
    if (!name) return name.error();
    pos = name->end;
    if (pos + 4 > bytes.size()) return Error(Errc::kProtocol, "dns: short question");
    response.has_question = true;
    response.question_name = std::move(name->text);
    response.question_type = get16(bytes, pos);
    pos += 4;
  }

  // RFC 1035 §4.1.3: owner, TYPE, CLASS, TTL, RDLENGTH, RDATA.
  std::vector<Record> records;
  for (std::uint16_t i = 0; i < ancount; ++i) {
    auto owner = read_name(bytes, pos);
    if (!owner) return owner.error();
    pos = owner->end;
    if (pos + 10 > bytes.size()) return Error(Errc::kProtocol, "dns: short record");
    Record record;
    record.owner = std::move(owner->text);
    record.type = get16(bytes, pos);
    const std::uint16_t klass = get16(bytes, pos + 2);
    record.ttl = get32(bytes, pos + 4);
    // RFC 2181 §8: a TTL with the top bit set is treated as zero.
    if (record.ttl & 0x80000000u) record.ttl = 0;
    const std::size_t rdlength = get16(bytes, pos + 8);
    pos += 10;
    if (pos + rdlength > bytes.size()) return Error(Errc::kProtocol, "dns: record past the end");
    const std::size_t rdata = pos;
    pos += rdlength;
    if (klass != kClassIn) continue;
    if (record.type == static_cast<std::uint16_t>(QType::kA)) {
      if (rdlength != 4) return Error(Errc::kProtocol, "dns: bad A record");
      asio::ip::address_v4::bytes_type v4;
      std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(rdata), 4, v4.begin());
      record.address = asio::ip::address_v4(v4);
    } else if (record.type == static_cast<std::uint16_t>(QType::kAaaa)) {
      if (rdlength != 16) return Error(Errc::kProtocol, "dns: bad AAAA record");
      asio::ip::address_v6::bytes_type v6;
      std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(rdata), 16, v6.begin());
      record.address = asio::ip::address_v6(v6);
    } else if (record.type == kTypeCname) {
      // The target may point anywhere earlier in the message, but must end inside RDATA.
      auto target = read_name(bytes, rdata);
      if (!target) return target.error();
      if (target->end > pos) return Error(Errc::kProtocol, "dns: bad CNAME record");
      record.cname = std::move(target->text);
    } else {
      continue;
    }
    records.push_back(std::move(record));
  }
  if (!response.has_question) return response;

  // RFC 1034 §3.6.2 / §4.3.2: the answer for an alias is the alias's CNAME plus the
  // records of its target, so walk the chain from the question name.
  std::vector<const std::string*> owners{&response.question_name};
  std::optional<std::uint32_t> ttl;
  auto take_ttl = [&ttl](std::uint32_t t) { ttl = ttl ? std::min(*ttl, t) : t; };
  std::vector<std::uint32_t> chain_ttls;
  for (int hop = 0; hop < kMaxCnameHops; ++hop) {
    const Record* next = nullptr;
    for (const auto& r : records) {
      if (r.type == kTypeCname && r.owner == *owners.back()) {
        next = &r;
        break;
      }
    }
    if (next == nullptr) break;
    bool seen = false;
    for (const auto* o : owners) seen = seen || *o == next->cname;
    if (seen) break;  // a CNAME loop: what we have so far is all there is
    owners.push_back(&next->cname);
    chain_ttls.push_back(next->ttl);
  }
  for (const auto& r : records) {
    if (r.type != response.question_type || !r.address) continue;
    bool owned = false;
    for (const auto* o : owners) owned = owned || *o == r.owner;
    if (!owned) continue;
    response.addresses.push_back(*r.address);
    take_ttl(r.ttl);
  }
  if (!response.addresses.empty()) {
    for (auto t : chain_ttls) take_ttl(t);
  }
  response.min_ttl = ttl.value_or(0);
  return response;
}

}  // namespace xsup::dns
