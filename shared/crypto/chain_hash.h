#pragma once
// The certificate chain hash of pinnedPeerCertificateChainSha256, defined as Xray does:
// h = SHA-256(DER of the first certificate), then h = SHA-256(h || SHA-256(DER)) for each
// next one, printed in standard base64.

#include <optional>
#include <string>
#include <vector>

namespace xsup::crypto {

// The hash of DER certificates, leaf first; "" for none.
std::string chain_hash_base64(const std::vector<std::vector<unsigned char>>& ders);

// The hash of every PEM block of `pem`, in order; nullopt when there is none.
std::optional<std::string> chain_hash_of_pem(const std::string& pem);

}  // namespace xsup::crypto
