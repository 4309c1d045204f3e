#pragma once
// BLAKE3 (the BLAKE3 paper and reference implementation's specification), written here
// because Debian ships no C library for it: Shadowsocks 2022 derives its session and
// identity subkeys with derive_key and hashes user PSKs for EIH (spec/shadowsocks.md B).
// Portable, one compression at a time: the inputs here are a few dozen bytes.
//
// Outputs up to 32 bytes (the default length; a shorter output is its prefix).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace xsup::worker::proxy::shadowsocks {

class Blake3 {
 public:
  static constexpr std::size_t kOutSize = 32;
  using Digest = std::array<std::uint8_t, kOutSize>;

  // hash mode.
  Blake3();
  // keyed_hash mode with a 32-byte key.
  explicit Blake3(std::span<const std::uint8_t, 32> key);
  // derive_key mode: the context string's own hash keys the material.
  static Blake3 derive_key(std::string_view context);

  void update(std::span<const std::uint8_t> input);
  Digest finish() const;

  static Digest hash(std::span<const std::uint8_t> input);

 private:
  Blake3(const std::uint32_t key[8], std::uint32_t flags);

  struct ChunkState {
    std::uint32_t cv[8];
    std::uint64_t counter = 0;
    std::uint8_t block[64] = {};
    std::size_t block_len = 0;
    std::size_t blocks_compressed = 0;
  };
  void reset_chunk(std::uint64_t counter);
  void add_chunk_cv(std::array<std::uint32_t, 8> cv, std::uint64_t total_chunks);

  std::uint32_t key_[8];
  std::uint32_t flags_;
  ChunkState chunk_;
  // One chaining value per level of the tree: 54 levels cover 2^64 bytes.
  std::array<std::array<std::uint32_t, 8>, 54> stack_{};
  std::size_t stack_len_ = 0;
};

// derive_key(context, material), the first out.size() (<= 32) bytes.
void blake3_derive_key(std::string_view context, std::span<const std::uint8_t> material,
                       std::span<std::uint8_t> out);

}  // namespace xsup::worker::proxy::shadowsocks
