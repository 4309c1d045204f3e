#include "worker/dispatch/router/geodata.h"

#include <array>
#include <fstream>
#include <iterator>
#include <optional>

namespace xsup::worker::dispatch::router {
namespace {

using base::Errc;
using base::Expected;

// Protobuf wire types (protobuf encoding spec); groups (3, 4) are not used by these files.
enum WireType : std::uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };
constexpr std::size_t kMaxVarintBytes = 10;  // 64 bits, 7 per byte

// A bounded cursor over a protobuf message; every read checks what is left.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : rest_(bytes) {}

  bool done() const { return rest_.empty(); }

  std::optional<std::uint64_t> varint() {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < kMaxVarintBytes && i < rest_.size(); ++i) {
      auto byte = static_cast<std::uint8_t>(rest_[i]);
      if (i == kMaxVarintBytes - 1 && byte > 1) return std::nullopt;  // over 64 bits
      value |= static_cast<std::uint64_t>(byte & 0x7F) << (7 * i);
      if ((byte & 0x80) == 0) {
        rest_.remove_prefix(i + 1);
        return value;
      }
    }
    return std::nullopt;
  }

  std::optional<std::string_view> bytes() {
    auto length = varint();
    if (!length || *length > rest_.size()) return std::nullopt;
    std::string_view out = rest_.substr(0, static_cast<std::size_t>(*length));
    rest_.remove_prefix(out.size());
    return out;
  }

  // Skips the value of a field of `wire_type`; false when malformed.
  bool skip(std::uint64_t wire_type) {
    switch (wire_type) {
      case kVarint:
        return varint().has_value();
      case kFixed64:
        return advance(8);
      case kLengthDelimited:
        return bytes().has_value();
      case kFixed32:
        return advance(4);
      default:
        return false;
    }
  }

 private:
  bool advance(std::size_t n) {
    if (rest_.size() < n) return false;
    rest_.remove_prefix(n);
    return true;
  }

  std::string_view rest_;
};

struct Field {
  std::uint64_t number = 0;
  std::uint64_t wire_type = 0;
};

std::optional<Field> next_field(WireReader& reader) {
  auto tag = reader.varint();
  if (!tag) return std::nullopt;
  return Field{*tag >> 3, *tag & 7};
}

// Both GeoIP and GeoSite keep their code in field 1; Xray's files put it first, so this loop
// normally stops at the first field.
std::optional<std::string_view> code_of(std::string_view entry) {
  WireReader reader(entry);
  while (!reader.done()) {
    auto field = next_field(reader);
    if (!field) return std::nullopt;
    if (field->number == 1 && field->wire_type == kLengthDelimited) return reader.bytes();
    if (!reader.skip(field->wire_type)) return std::nullopt;
  }
  return std::string_view();
}

// The body of the list entry (field 1 of GeoIPList / GeoSiteList) whose code is `code`.
Expected<std::string_view> find_entry(std::string_view file, std::string_view code) {
  WireReader list(file);
  while (!list.done()) {
    auto field = next_field(list);
    if (!field) return {Errc::kProtocol, "malformed geodata file"};
    if (field->number != 1 || field->wire_type != kLengthDelimited) {
      if (!list.skip(field->wire_type)) return {Errc::kProtocol, "malformed geodata file"};
      continue;
    }
    auto entry = list.bytes();
    if (!entry) return {Errc::kProtocol, "malformed geodata file"};
    auto entry_code = code_of(*entry);
    if (!entry_code) return {Errc::kProtocol, "malformed geodata entry"};
    if (*entry_code == code) return *entry;
  }
  return {Errc::kUnsupported, "code not found"};
}

// CIDR { bytes ip = 1; uint32 prefix = 2; }
Expected<net::Cidr> decode_cidr(std::string_view message) {
  WireReader reader(message);
  std::string_view ip;
  std::uint64_t prefix = 0;
  while (!reader.done()) {
    auto field = next_field(reader);
    if (!field) return {Errc::kProtocol, "malformed CIDR"};
    if (field->number == 1 && field->wire_type == kLengthDelimited) {
      auto value = reader.bytes();
      if (!value) return {Errc::kProtocol, "malformed CIDR"};
      ip = *value;
    } else if (field->number == 2 && field->wire_type == kVarint) {
      auto value = reader.varint();
      if (!value) return {Errc::kProtocol, "malformed CIDR"};
      prefix = *value;
    } else if (!reader.skip(field->wire_type)) {
      return {Errc::kProtocol, "malformed CIDR"};
    }
  }
  asio::ip::address address;
  if (ip.size() == 4 && prefix <= 32) {
    asio::ip::address_v4::bytes_type b;
    std::copy(ip.begin(), ip.end(), b.begin());
    address = asio::ip::make_address_v4(b);
  } else if (ip.size() == 16 && prefix <= 128) {
    asio::ip::address_v6::bytes_type b;
    std::copy(ip.begin(), ip.end(), b.begin());
    auto v6 = asio::ip::make_address_v6(b);
    if (v6.is_v4_mapped() && prefix >= 96) {
      address = asio::ip::make_address_v4(asio::ip::v4_mapped, v6);
      prefix -= 96;
    } else {
      address = v6;
    }
  } else {
    return {Errc::kProtocol, "bad CIDR in geoip file"};
  }
  // Cidr::parse clears the host bits and validates; going through text keeps one definition.
  auto cidr = net::Cidr::parse(address.to_string() + "/" + std::to_string(prefix));
  if (!cidr) return {Errc::kProtocol, "bad CIDR in geoip file"};
  return *cidr;
}

// Domain { Type type = 1; string value = 2; repeated Attribute attribute = 3; }
// Attribute { string key = 1; oneof { bool bool_value = 2; int64 int_value = 3; } }
Expected<GeoSiteDomain> decode_domain(std::string_view message) {
  WireReader reader(message);
  GeoSiteDomain domain;
  while (!reader.done()) {
    auto field = next_field(reader);
    if (!field) return {Errc::kProtocol, "malformed geosite domain"};
    if (field->number == 1 && field->wire_type == kVarint) {
      auto value = reader.varint();
      if (!value) return {Errc::kProtocol, "malformed geosite domain"};
      domain.type = *value;
    } else if (field->number == 2 && field->wire_type == kLengthDelimited) {
      auto value = reader.bytes();
      if (!value) return {Errc::kProtocol, "malformed geosite domain"};
      domain.value = std::string(*value);
    } else if (field->number == 3 && field->wire_type == kLengthDelimited) {
      auto attribute = reader.bytes();
      if (!attribute) return {Errc::kProtocol, "malformed geosite domain"};
      WireReader attr(*attribute);
      std::string key;
      while (!attr.done()) {
        auto attr_field = next_field(attr);
        if (!attr_field) return {Errc::kProtocol, "malformed geosite attribute"};
        if (attr_field->number == 1 && attr_field->wire_type == kLengthDelimited) {
          auto value = attr.bytes();
          if (!value) return {Errc::kProtocol, "malformed geosite attribute"};
          key = std::string(*value);
        } else if (!attr.skip(attr_field->wire_type)) {
          return {Errc::kProtocol, "malformed geosite attribute"};
        }
      }
      domain.attributes.push_back(std::move(key));
    } else if (!reader.skip(field->wire_type)) {
      return {Errc::kProtocol, "malformed geosite domain"};
    }
  }
  return domain;
}

}  // namespace

Expected<std::vector<net::Cidr>> find_geoip(std::string_view file, std::string_view code) {
  auto entry = find_entry(file, code);
  if (!entry) return entry.error();
  // GeoIP { string code = 1; repeated CIDR cidr = 2; bool reverse_match = 3; } —
  // reverse_match is ignored, as by current Xray (§4).
  std::vector<net::Cidr> out;
  WireReader reader(*entry);
  while (!reader.done()) {
    auto field = next_field(reader);
    if (!field) return {Errc::kProtocol, "malformed geoip entry"};
    if (field->number == 2 && field->wire_type == kLengthDelimited) {
      auto message = reader.bytes();
      if (!message) return {Errc::kProtocol, "malformed geoip entry"};
      auto cidr = decode_cidr(*message);
      if (!cidr) return cidr.error();
      out.push_back(*cidr);
    } else if (!reader.skip(field->wire_type)) {
      return {Errc::kProtocol, "malformed geoip entry"};
    }
  }
  return out;
}

Expected<std::vector<GeoSiteDomain>> find_geosite(std::string_view file, std::string_view code) {
  auto entry = find_entry(file, code);
  if (!entry) return entry.error();
  // GeoSite { string code = 1; repeated Domain domain = 2; }
  std::vector<GeoSiteDomain> out;
  WireReader reader(*entry);
  while (!reader.done()) {
    auto field = next_field(reader);
    if (!field) return {Errc::kProtocol, "malformed geosite entry"};
    if (field->number == 2 && field->wire_type == kLengthDelimited) {
      auto message = reader.bytes();
      if (!message) return {Errc::kProtocol, "malformed geosite entry"};
      auto domain = decode_domain(*message);
      if (!domain) return domain.error();
      out.push_back(std::move(*domain));
    } else if (!reader.skip(field->wire_type)) {
      return {Errc::kProtocol, "malformed geosite entry"};
    }
  }
  return out;
}

void AssetFiles::add(std::string name, std::string bytes) {
  files_.insert_or_assign(std::move(name), std::move(bytes));
}

Expected<std::string_view> AssetFiles::get(std::string_view name) {
  if (auto it = files_.find(name); it != files_.end()) return std::string_view(it->second);
  if (directory_.empty()) return {Errc::kUnsupported, "asset file not found"};
  std::ifstream in(directory_ / std::filesystem::path(name), std::ios::binary);
  if (!in) return {Errc::kUnsupported, "asset file not found"};
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return {Errc::kUnsupported, "asset file unreadable"};
  auto [it, inserted] = files_.emplace(std::string(name), std::move(bytes));
  return std::string_view(it->second);
}

}  // namespace xsup::worker::dispatch::router
