// `xsup tls cert` and `xsup tls certChainHash`: certificates for tlsSettings, the way Xray's
// `xray tls` subcommands make and hash them (seeds/transport-config.md, CertificateObject
// and pinnedPeerCertificateChainSha256).

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shared/crypto/chain_hash.h"
#include "supervisor/cli/cli.h"

namespace xsup::supervisor::cli {
namespace {

using nlohmann::json;

constexpr const char* kTlsUsage =
    "usage: xsup tls <action> [flags]\n"
    "\n"
    "actions:\n"
    "  cert [--domain D]... [--ca] [--expire HOURS]\n"
    "                      print a new self-signed certificate and its key (ECDSA P-256)\n"
    "                      as JSON {\"certificate\": [lines], \"key\": [lines]}, ready to\n"
    "                      paste into tlsSettings.certificates\n"
    "  certChainHash --cert FILE\n"
    "                      print the base64 SHA-256 of the PEM chain in FILE, as\n"
    "                      pinnedPeerCertificateChainSha256 expects it\n";

constexpr const char* kCertUsage =
    "usage: xsup tls cert [--domain D]... [--ca] [--expire HOURS]\n"
    "\n"
    "Prints a new self-signed certificate with an ECDSA P-256 key as JSON\n"
    "{\"certificate\": [lines], \"key\": [lines]}: the lines of its PEM text, ready for a\n"
    "CertificateObject of tlsSettings.certificates.\n"
    "--domain D   a DNS name (or IP address) for subjectAltName; repeat for more; the first\n"
    "             is also the common name\n"
    "--ca         a CA certificate (basicConstraints CA:TRUE, keyCertSign), e.g. for\n"
    "             usage \"issue\" or \"verify\"\n"
    "--expire H   valid for H hours from now (default 2160, 90 days)\n";

constexpr const char* kHashUsage =
    "usage: xsup tls certChainHash --cert FILE\n"
    "\n"
    "Prints the base64 SHA-256 of the certificate chain in FILE (PEM, leaf first), defined as\n"
    "Xray does: h = SHA-256(DER of the first certificate), then for each next certificate\n"
    "h = SHA-256(h || SHA-256(its DER)). The value goes to pinnedPeerCertificateChainSha256.\n";

template <typename T, void (*F)(T*)>
struct Freer {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Freer<BIO, BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Freer<X509_EXTENSION, X509_EXTENSION_free>>;

bool is_help(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-h" || a == "--help" || a == "-help") return true;
  }
  return false;
}

// Splits PEM text into its lines, without the final empty one.
json pem_lines(const std::string& text) {
  json out = json::array();
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

bool add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool looks_like_ip(const std::string& name) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str());
  if (ip == nullptr) return false;
  ASN1_OCTET_STRING_free(ip);
  return true;
}

int cmd_cert(int argc, char** argv) {
  if (is_help(argc, argv)) {
    std::fputs(kCertUsage, stdout);
    return 0;
  }
  std::vector<std::string> domains;
  bool ca = false;
  long hours = 2160;
  for (int i = 0; i < argc; ++i) {
    std::string_view a = argv[i];
    if ((a == "--domain" || a == "-domain") && i + 1 < argc) {
      domains.emplace_back(argv[++i]);
    } else if (a.starts_with("--domain=")) {
      domains.emplace_back(a.substr(9));
    } else if (a == "--ca" || a == "-ca") {
      ca = true;
    } else if ((a == "--expire" || a == "-expire") && i + 1 < argc) {
      char* end = nullptr;
      hours = std::strtol(argv[++i], &end, 10);
      if (end == nullptr || *end != '\0' || hours <= 0 || hours > 24L * 365 * 100) {
        std::fprintf(stderr, "xsup tls cert: --expire wants hours (1 .. 876000)\n");
        return 1;
      }
    } else {
      std::fprintf(stderr, "xsup tls cert: unknown argument: %s\n%s", argv[i], kCertUsage);
      return 1;
    }
  }
  for (const auto& d : domains) {
    if (d.empty() || d.find_first_of(",\n\r") != std::string::npos) {
      std::fprintf(stderr, "xsup tls cert: not a domain: \"%s\"\n", d.c_str());
      return 1;
    }
  }

  PkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  if (!key || !cert) {
    std::fputs("xsup tls cert: cannot make a key\n", stderr);
    return 1;
  }
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof serial_bytes);
  serial_bytes[0] &= 0x7f;  // a positive serial
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), hours * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const std::string common_name = domains.empty() ? std::string("xsup") : domains.front();
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), subject);
  bool ok = true;
  if (!domains.empty()) {
    std::string names;
    for (const auto& d : domains) {
      if (!names.empty()) names += ',';
      names += (looks_like_ip(d) ? "IP:" : "DNS:") + d;
    }
    ok = ok && add_extension(cert.get(), NID_subject_alt_name, names);
  }
  if (ca) {
    ok = ok && add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    ok = ok &&
         add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign");
  } else {
    ok = ok && add_extension(cert.get(), NID_key_usage, "critical,digitalSignature");
    ok = ok && add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  }
  ok = ok && add_extension(cert.get(), NID_subject_key_identifier, "hash");
  ok = ok && X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  ok = ok && PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1;
  ok = ok && PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                      nullptr) == 1;
  if (!ok) {
    std::fputs("xsup tls cert: cannot make the certificate (a bad --domain?)\n", stderr);
    return 1;
  }
  json out = {{"certificate", pem_lines(bio_text(cert_bio.get()))},
              {"key", pem_lines(bio_text(key_bio.get()))}};
  std::puts(out.dump(2).c_str());
  return 0;
}

int cmd_chain_hash(int argc, char** argv) {
  if (is_help(argc, argv)) {
    std::fputs(kHashUsage, stdout);
    return 0;
  }
  std::string file;
  for (int i = 0; i < argc; ++i) {
    std::string_view a = argv[i];
    if ((a == "--cert" || a == "-cert") && i + 1 < argc) {
      file = argv[++i];
    } else if (a.starts_with("--cert=")) {
      file = std::string(a.substr(7));
    } else {
      std::fprintf(stderr, "xsup tls certChainHash: unknown argument: %s\n%s", argv[i], kHashUsage);
      return 1;
    }
  }
  if (file.empty()) {
    std::fprintf(stderr, "xsup tls certChainHash: --cert FILE needed\n%s", kHashUsage);
    return 1;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "xsup tls certChainHash: cannot read %s\n", file.c_str());
    return 1;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto hash = crypto::chain_hash_of_pem(text);
  if (!hash) {
    std::fprintf(stderr, "xsup tls certChainHash: no PEM certificate in %s\n", file.c_str());
    return 1;
  }
  std::puts(hash->c_str());
  return 0;
}

}  // namespace

int cmd_tls(int argc, char** argv) {
  if (argc < 1) {
    std::fputs(kTlsUsage, stderr);
    return 1;
  }
  std::string_view action = argv[0];
  if (action == "cert") return cmd_cert(argc - 1, argv + 1);
  if (action == "certChainHash" || action == "certchainhash") {
    return cmd_chain_hash(argc - 1, argv + 1);
  }
  if (action == "-h" || action == "--help" || action == "help") {
    std::fputs(kTlsUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "xsup tls: unknown action \"%s\"\n%s", argv[0], kTlsUsage);
  return 1;
}

}  // namespace xsup::supervisor::cli
