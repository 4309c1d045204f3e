#include "shared/crypto/chain_hash.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstring>
#include <memory>

namespace xsup::crypto {

std::optional<std::string> chain_hash_of_pem(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::vector<std::vector<unsigned char>> ders;
  while (true) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long size = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &size) != 1) break;
    // Like Go's pem.Decode, every PEM block counts, whatever its type.
    ders.emplace_back(data, data + size);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  ERR_clear_error();
  if (ders.empty()) return std::nullopt;
  return chain_hash_base64(ders);
}

std::string chain_hash_base64(const std::vector<std::vector<unsigned char>>& ders) {
  unsigned char h[32];
  bool first = true;
  for (const auto& der : ders) {
    unsigned char one[32];
    EVP_Digest(der.data(), der.size(), one, nullptr, EVP_sha256(), nullptr);
    if (first) {
      std::memcpy(h, one, sizeof h);
      first = false;
    } else {
      unsigned char both[64];
      std::memcpy(both, h, 32);
      std::memcpy(both + 32, one, 32);
      EVP_Digest(both, sizeof both, h, nullptr, EVP_sha256(), nullptr);
    }
  }
  if (first) return "";
  unsigned char out[48];
  const int n = EVP_EncodeBlock(out, h, sizeof h);
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

}  // namespace xsup::crypto
