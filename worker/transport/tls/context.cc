#include "worker/transport/tls/context.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <asio/ip/address.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

#include "shared/base/log.h"
#include "shared/crypto/chain_hash.h"
#include "worker/core/deadline.h"
#include "worker/transport/tls/tls_stream.h"

namespace xsup::worker::transport::tls {
namespace {

struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

// seeds/transport-config.md, TLSObject.alpn: the default on both sides.
const std::vector<std::string> kDefaultAlpn = {"h2", "http/1.1"};

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what + ": " + openssl_error());
}

int to_version(const std::string& text) {
  if (text == "1.0") return TLS1_VERSION;
  if (text == "1.1") return TLS1_1_VERSION;
  if (text == "1.2") return TLS1_2_VERSION;
  if (text == "1.3") return TLS1_3_VERSION;
  return 0;  // OpenSSL's default limit
}

// ALPN names in wire form: each prefixed by its length (RFC 7301 §3.1).
std::vector<std::uint8_t> alpn_wire(const config::TlsConfig& tls) {
  const auto& names = tls.alpn.empty() ? kDefaultAlpn : tls.alpn;
  std::vector<std::uint8_t> out;
  for (const auto& name : names) {
    out.push_back(static_cast<std::uint8_t>(name.size()));
    out.insert(out.end(), name.begin(), name.end());
  }
  return out;
}

// masterKeyLog: the files are opened by prepare(), before lockdown, and stay open for the
// worker's life (a reload opens a file again only if it names a new one). The callback
// appends one NSS key-log line with a single write(2): O_APPEND keeps lines of several
// workers whole.
std::map<std::string, int>& key_log_files() {
  static std::map<std::string, int> files;
  return files;
}

int key_log_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void write_key_log(const SSL* ssl, const char* line) {
  void* data = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), key_log_index());
  if (data == nullptr) return;
  const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(data)) - 1;
  char buffer[512];
  const std::size_t size = std::strlen(line);
  if (size + 1 > sizeof buffer) return;  // NSS lines are about 200 bytes
  std::memcpy(buffer, line, size);
  buffer[size] = '\n';
  [[maybe_unused]] ssize_t written = ::write(fd, buffer, size + 1);
}

void set_key_log(SSL_CTX* ctx, const config::TlsConfig& tls) {
  if (tls.master_key_log.empty()) return;
  auto& files = key_log_files();
  auto found = files.find(tls.master_key_log);
  if (found == files.end()) {
    const int fd =
        ::open(tls.master_key_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
      throw std::runtime_error(tls.path + ".masterKeyLog: cannot open " + tls.master_key_log +
                               ": " + std::strerror(errno));
    }
    found = files.emplace(tls.master_key_log, fd).first;
    log::warning(0,
                 "{}.masterKeyLog: TLS secrets are written to {}: anyone who reads it can "
                 "decrypt this traffic",
                 tls.path, tls.master_key_log);
  }
  SSL_CTX_set_ex_data(ctx, key_log_index(),
                      reinterpret_cast<void*>(static_cast<std::intptr_t>(found->second) + 1));
  SSL_CTX_set_keylog_callback(ctx, write_key_log);
}

// What every context of one tlsSettings shares: versions, ciphers, idle memory.
CtxPtr new_context(const config::TlsConfig& tls, bool server) {
  CtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) fail(tls.path, "cannot create a TLS context");
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  // A peer that closes without close_notify (common) ends the stream like one that sends it.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  if (int v = to_version(tls.min_version); v != 0 && !SSL_CTX_set_min_proto_version(ctx.get(), v)) {
    fail(tls.path + ".minVersion", "refused");
  }
  if (int v = to_version(tls.max_version); v != 0 && !SSL_CTX_set_max_proto_version(ctx.get(), v)) {
    fail(tls.path + ".maxVersion", "refused");
  }
  if (!tls.tls12_ciphers.empty() &&
      !SSL_CTX_set_cipher_list(ctx.get(), tls.tls12_ciphers.c_str())) {
    fail(tls.path + ".cipherSuites", "refused");
  }
  if (!tls.tls13_suites.empty() && !SSL_CTX_set_ciphersuites(ctx.get(), tls.tls13_suites.c_str())) {
    fail(tls.path + ".cipherSuites", "refused");
  }
  if (!server) SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  set_key_log(ctx.get(), tls);
  return ctx;
}

// One inbound's contexts: one per certificate, the first the default. The SNI callback
// moves a connection to the context whose certificate names the requested host.
struct ServerContexts {
  std::vector<CtxPtr> by_certificate;
  std::vector<X509*> leaves;  // owned by the contexts
  std::vector<std::uint8_t> alpn;
  bool reject_unknown_sni = false;
};

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* in,
                unsigned int in_size, void* arg) {
  const auto& server = *static_cast<const ServerContexts*>(arg);
  unsigned char* chosen = nullptr;
  // The server's order of preference wins, as in Go's crypto/tls.
  if (SSL_select_next_proto(&chosen, out_size, server.alpn.data(),
                            static_cast<unsigned int>(server.alpn.size()), in,
                            in_size) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

int select_certificate(SSL* ssl, int* alert, void* arg) {
  const auto& server = *static_cast<const ServerContexts*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name != nullptr && *name != '\0') {
    for (std::size_t i = 0; i < server.leaves.size(); ++i) {
      if (X509_check_host(server.leaves[i], name, 0, 0, nullptr) == 1) {
        if (i != 0) SSL_set_SSL_CTX(ssl, server.by_certificate[i].get());
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  if (server.reject_unknown_sni) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;  // the first certificate
}

std::unique_ptr<ServerContexts> build_server(const config::TlsConfig& tls) {
  auto out = std::make_unique<ServerContexts>();
  out->alpn = alpn_wire(tls);
  out->reject_unknown_sni = tls.reject_unknown_sni;
  for (const auto& cert : tls.certificates) {
    CtxPtr ctx = new_context(tls, /*server=*/true);
    BioPtr chain(BIO_new_mem_buf(cert.certificate_pem.data(),
                                 static_cast<int>(cert.certificate_pem.size())));
    X509Ptr leaf(PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr));
    if (!leaf || SSL_CTX_use_certificate(ctx.get(), leaf.get()) != 1) {
      fail(cert.path, "bad certificate");
    }
    // The rest of the file is the chain towards the root.
    while (X509* extra = PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr)) {
      if (SSL_CTX_add0_chain_cert(ctx.get(), extra) != 1) {
        X509_free(extra);
        fail(cert.path, "bad chain certificate");
      }
    }
    ERR_clear_error();  // the end of the PEM text
    BioPtr key_bio(BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size())));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
    if (key == nullptr) fail(cert.path, "bad private key");
    const int used = SSL_CTX_use_PrivateKey(ctx.get(), key);
    EVP_PKEY_free(key);
    if (used != 1 || SSL_CTX_check_private_key(ctx.get()) != 1) {
      fail(cert.path, "the key does not match the certificate");
    }
    out->leaves.push_back(SSL_CTX_get0_certificate(ctx.get()));
    out->by_certificate.push_back(std::move(ctx));
  }
  if (out->by_certificate.empty()) {
    throw std::runtime_error(tls.path + ": a TLS inbound needs a certificate");
  }
  for (auto& ctx : out->by_certificate) {
    SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, out.get());
    SSL_CTX_set_tlsext_servername_callback(ctx.get(), select_certificate);
    SSL_CTX_set_tlsext_servername_arg(ctx.get(), out.get());
  }
  return out;
}

// enableSessionResumption: each outbound keeps the last session its server gave, and
// offers it on the next connection (a ticket is used once under TLS 1.3, so the newest wins).
struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

struct ClientContext {
  CtxPtr ctx;
  SessionPtr last_session;
};

int session_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int keep_session(SSL* ssl, SSL_SESSION* session) {
  auto* client =
      static_cast<ClientContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), session_index()));
  if (client == nullptr) return 0;
  client->last_session.reset(session);
  return 1;  // the reference is ours
}

void add_verify_cas(SSL_CTX* ctx, const config::TlsConfig& tls) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const auto& pem : tls.verify_cas) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, ca);  // takes its own reference
      X509_free(ca);
    }
    ERR_clear_error();
  }
}

CtxPtr build_client_ctx(const config::TlsConfig& tls) {
  CtxPtr ctx = new_context(tls, /*server=*/false);
  auto alpn = alpn_wire(tls);
  if (SSL_CTX_set_alpn_protos(ctx.get(), alpn.data(), static_cast<unsigned int>(alpn.size())) !=
      0) {
    fail(tls.path + ".alpn", "refused");
  }
  if (tls.allow_insecure) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  add_verify_cas(ctx.get(), tls);
  if (!tls.disable_system_root) {
    // Read the bundle now, whole: a hashed directory would be read lazily, after lockdown.
    // SSL_CERT_FILE names another bundle, as for OpenSSL's own default paths.
    const char* file = std::getenv(X509_get_default_cert_file_env());
    if (file == nullptr || *file == '\0') file = X509_get_default_cert_file();
    X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
    if (X509_STORE_load_file(store, file) != 1) {
      log::warning(0, "{}: cannot load the system roots from {}: {}", tls.path, file,
                   openssl_error());
    }
  }
  return ctx;
}

std::unique_ptr<ClientContext> build_client(const config::TlsConfig& tls) {
  auto client = std::make_unique<ClientContext>();
  client->ctx = build_client_ctx(tls);
  if (tls.enable_session_resumption) {
    SSL_CTX_set_session_cache_mode(client->ctx.get(),
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_set_ex_data(client->ctx.get(), session_index(), client.get());
    SSL_CTX_sess_set_new_cb(client->ctx.get(), keep_session);
  }
  return client;
}

struct Table {
  std::map<std::string, std::unique_ptr<ServerContexts>> servers;  // by inbound path
  std::map<std::string, std::unique_ptr<ClientContext>> clients;   // by outbound path
};

Table& table() {
  static Table instance;
  return instance;
}

// Runs the handshake under a deadline and hands back the TLS stream.
core::awaitable<Expected<core::StreamPtr>> finish(std::unique_ptr<TlsStream> stream,
                                                  std::chrono::steady_clock::duration limit,
                                                  std::uint64_t conn) {
  std::error_code ec;
  {
    core::Deadline deadline(*stream, limit);
    ec = co_await stream->handshake();
    if (deadline.expired()) {
      log::info(conn, "TLS handshake timed out");
      co_return base::Error(base::Errc::kTimeout, "TLS handshake timed out");
    }
  }
  if (ec) {
    stream->close();
    log::info(conn, "TLS handshake failed: {}",
              stream->error_text().empty() ? ec.message() : stream->error_text());
    co_return base::Error(ec, "TLS handshake failed");
  }
  co_return core::StreamPtr(std::move(stream));
}

}  // namespace

std::vector<int> key_log_fds() {
  std::vector<int> out;
  for (const auto& [path, fd] : key_log_files()) out.push_back(fd);
  return out;
}

void prepare(const config::Config& config) {
  Table fresh;
  for (const auto& ib : config.inbounds) {
    if (ib.stream.security != config::SecurityKind::kTls) continue;
    fresh.servers[ib.path] = build_server(ib.stream.tls);
  }
  for (const auto& ob : config.outbounds) {
    if (ob.stream.security != config::SecurityKind::kTls) continue;
    fresh.clients[ob.path] = build_client(ob.stream.tls);
  }
  table() = std::move(fresh);
}

core::awaitable<Expected<core::StreamPtr>> accept(std::unique_ptr<core::TcpStream> tcp,
                                                  const config::InboundConfig& inbound,
                                                  std::chrono::steady_clock::duration limit,
                                                  core::Session& session) {
  auto found = table().servers.find(inbound.path);
  if (found == table().servers.end()) {
    co_return base::Error(base::Errc::kUnsupported, "no TLS context for this inbound");
  }
  SSL* ssl = SSL_new(found->second->by_certificate.front().get());
  if (ssl == nullptr)
    co_return base::Error(base::Errc::kUnsupported, "cannot create a TLS connection");
  SSL_set_accept_state(ssl);
  auto stream = std::make_unique<TlsStream>(std::move(tcp), ssl);
  auto done = co_await finish(std::move(stream), limit, session.id);
  if (done) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    session.tls_server_name = name == nullptr ? "" : name;
    session.tls_alpn = static_cast<TlsStream&>(**done).alpn();
  }
  co_return done;
}

core::awaitable<Expected<core::StreamPtr>> connect(std::unique_ptr<core::TcpStream> tcp,
                                                   const config::OutboundConfig& outbound,
                                                   const net::Address& server,
                                                   std::chrono::steady_clock::duration limit,
                                                   std::uint64_t conn) {
  auto found = table().clients.find(outbound.path);
  if (found == table().clients.end()) {
    co_return base::Error(base::Errc::kUnsupported, "no TLS context for this outbound");
  }
  const config::TlsConfig& tls = outbound.stream.tls;
  ClientContext& client = *found->second;
  SSL* ssl = SSL_new(client.ctx.get());
  if (ssl == nullptr)
    co_return base::Error(base::Errc::kUnsupported, "cannot create a TLS connection");
  if (client.last_session) SSL_set_session(ssl, client.last_session.get());
  auto stream = std::make_unique<TlsStream>(std::move(tcp), ssl);
  SSL_set_connect_state(ssl);
  std::string name = tls.server_name;
  if (name.empty() && server.is_domain()) name = server.domain();
  std::error_code not_ip;
  asio::ip::make_address(name, not_ip);
  const bool name_is_ip = !name.empty() && !not_ip;
  // RFC 6066 §3: SNI carries host names only, never an IP literal.
  if (!name.empty() && !name_is_ip) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (!tls.allow_insecure) {
    // The certificate must name the server: the host name, or else the IP.
    if (name_is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    } else if (!name.empty()) {
      SSL_set1_host(ssl, name.c_str());
    } else if (server.is_ip()) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server.ip().to_string().c_str());
    }
  }
  auto done = co_await finish(std::move(stream), limit, conn);
  if (done && !tls.pinned_chain_sha256.empty()) {
    // pinnedPeerCertificateChainSha256: the chain as the server sent it, leaf first.
    std::vector<std::vector<unsigned char>> ders;
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
    for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
      unsigned char* der = nullptr;
      const int size = i2d_X509(sk_X509_value(chain, i), &der);
      if (size <= 0) continue;
      ders.emplace_back(der, der + size);
      OPENSSL_free(der);
    }
    const std::string seen = crypto::chain_hash_base64(ders);
    bool pinned = false;
    for (const auto& pin : tls.pinned_chain_sha256) pinned = pinned || pin == seen;
    if (!pinned) {
      log::warning(conn, "TLS: the server's certificate chain is not pinned: its hash is {}", seen);
      (*done)->close();
      co_return base::Error(base::Errc::kAuthFailed, "peer certificate chain not pinned");
    }
  }
  co_return done;
}

}  // namespace xsup::worker::transport::tls
