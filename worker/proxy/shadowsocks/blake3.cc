#include "worker/proxy/shadowsocks/blake3.h"

#include <algorithm>
#include <cstring>

namespace xsup::worker::proxy::shadowsocks {
namespace {

constexpr std::uint32_t kIv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                                  0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};
constexpr std::size_t kMsgPermutation[16] = {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8};

constexpr std::uint32_t kChunkStart = 1 << 0;
constexpr std::uint32_t kChunkEnd = 1 << 1;
constexpr std::uint32_t kParent = 1 << 2;
constexpr std::uint32_t kRoot = 1 << 3;
constexpr std::uint32_t kKeyedHash = 1 << 4;
constexpr std::uint32_t kDeriveKeyContext = 1 << 5;
constexpr std::uint32_t kDeriveKeyMaterial = 1 << 6;

constexpr std::size_t kBlockLen = 64;
constexpr std::size_t kChunkLen = 1024;

constexpr std::uint32_t rotr(std::uint32_t v, int n) { return (v >> n) | (v << (32 - n)); }

void g(std::uint32_t* s, int a, int b, int c, int d, std::uint32_t mx, std::uint32_t my) {
  s[a] = s[a] + s[b] + mx;
  s[d] = rotr(s[d] ^ s[a], 16);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 12);
  s[a] = s[a] + s[b] + my;
  s[d] = rotr(s[d] ^ s[a], 8);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 7);
}

// The full 16-word output of one compression.
void compress(const std::uint32_t cv[8], const std::uint32_t block[16], std::uint64_t counter,
              std::uint32_t block_len, std::uint32_t flags, std::uint32_t out[16]) {
  std::uint32_t s[16] = {cv[0],
                         cv[1],
                         cv[2],
                         cv[3],
                         cv[4],
                         cv[5],
                         cv[6],
                         cv[7],
                         kIv[0],
                         kIv[1],
                         kIv[2],
                         kIv[3],
                         static_cast<std::uint32_t>(counter),
                         static_cast<std::uint32_t>(counter >> 32),
                         block_len,
                         flags};
  std::uint32_t m[16];
  std::memcpy(m, block, sizeof m);
  for (int round = 0; round < 7; ++round) {
    g(s, 0, 4, 8, 12, m[0], m[1]);
    g(s, 1, 5, 9, 13, m[2], m[3]);
    g(s, 2, 6, 10, 14, m[4], m[5]);
    g(s, 3, 7, 11, 15, m[6], m[7]);
    g(s, 0, 5, 10, 15, m[8], m[9]);
    g(s, 1, 6, 11, 12, m[10], m[11]);
    g(s, 2, 7, 8, 13, m[12], m[13]);
    g(s, 3, 4, 9, 14, m[14], m[15]);
    if (round < 6) {
      std::uint32_t permuted[16];
      for (int i = 0; i < 16; ++i) permuted[i] = m[kMsgPermutation[i]];
      std::memcpy(m, permuted, sizeof m);
    }
  }
  for (int i = 0; i < 8; ++i) {
    out[i] = s[i] ^ s[i + 8];
    out[i + 8] = s[i + 8] ^ cv[i];
  }
}

void words_from_bytes(const std::uint8_t* bytes, std::size_t count, std::uint32_t* words) {
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t* p = bytes + 4 * i;
    words[i] = static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
               (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
  }
}

// What finish() compresses last: the root node's inputs.
struct Output {
  std::uint32_t cv[8];
  std::uint32_t block[16];
  std::uint64_t counter;
  std::uint32_t block_len;
  std::uint32_t flags;

  std::array<std::uint32_t, 8> chaining_value() const {
    std::uint32_t out[16];
    compress(cv, block, counter, block_len, flags, out);
    std::array<std::uint32_t, 8> r;
    std::copy(out, out + 8, r.begin());
    return r;
  }
};

Output parent_output(const std::array<std::uint32_t, 8>& left,
                     const std::array<std::uint32_t, 8>& right, const std::uint32_t key[8],
                     std::uint32_t flags) {
  Output o{};
  std::copy(key, key + 8, o.cv);
  std::copy(left.begin(), left.end(), o.block);
  std::copy(right.begin(), right.end(), o.block + 8);
  o.counter = 0;
  o.block_len = kBlockLen;
  o.flags = kParent | flags;
  return o;
}

}  // namespace

Blake3::Blake3() : Blake3(kIv, 0) {}

Blake3::Blake3(std::span<const std::uint8_t, 32> key) : Blake3(kIv, 0) {
  words_from_bytes(key.data(), 8, key_);
  flags_ = kKeyedHash;
  reset_chunk(0);
}

Blake3::Blake3(const std::uint32_t key[8], std::uint32_t flags) : flags_(flags) {
  std::copy(key, key + 8, key_);
  reset_chunk(0);
}

Blake3 Blake3::derive_key(std::string_view context) {
  Blake3 context_hasher(kIv, kDeriveKeyContext);
  context_hasher.update({reinterpret_cast<const std::uint8_t*>(context.data()), context.size()});
  const Digest context_key = context_hasher.finish();
  std::uint32_t key[8];
  words_from_bytes(context_key.data(), 8, key);
  return Blake3(key, kDeriveKeyMaterial);
}

void Blake3::reset_chunk(std::uint64_t counter) {
  std::copy(key_, key_ + 8, chunk_.cv);
  chunk_.counter = counter;
  chunk_.block_len = 0;
  chunk_.blocks_compressed = 0;
  std::memset(chunk_.block, 0, sizeof chunk_.block);
}

void Blake3::add_chunk_cv(std::array<std::uint32_t, 8> cv, std::uint64_t total_chunks) {
  // Merge completed subtrees: one per trailing zero bit of the chunk count.
  while ((total_chunks & 1) == 0) {
    cv = parent_output(stack_[--stack_len_], cv, key_, flags_).chaining_value();
    total_chunks >>= 1;
  }
  stack_[stack_len_++] = cv;
}

void Blake3::update(std::span<const std::uint8_t> input) {
  while (!input.empty()) {
    // A full chunk with more input coming: finish it and start the next.
    if (chunk_.blocks_compressed * kBlockLen + chunk_.block_len == kChunkLen) {
      std::uint32_t block[16];
      words_from_bytes(chunk_.block, 16, block);
      std::uint32_t out[16];
      compress(chunk_.cv, block, chunk_.counter, static_cast<std::uint32_t>(chunk_.block_len),
               flags_ | kChunkEnd | (chunk_.blocks_compressed == 0 ? kChunkStart : 0), out);
      std::array<std::uint32_t, 8> cv;
      std::copy(out, out + 8, cv.begin());
      const std::uint64_t total = chunk_.counter + 1;
      add_chunk_cv(cv, total);
      reset_chunk(total);
    }
    // A full block with more input coming: compress it.
    if (chunk_.block_len == kBlockLen) {
      std::uint32_t block[16];
      words_from_bytes(chunk_.block, 16, block);
      std::uint32_t out[16];
      compress(chunk_.cv, block, chunk_.counter, kBlockLen,
               flags_ | (chunk_.blocks_compressed == 0 ? kChunkStart : 0), out);
      std::copy(out, out + 8, chunk_.cv);
      ++chunk_.blocks_compressed;
      chunk_.block_len = 0;
      std::memset(chunk_.block, 0, sizeof chunk_.block);
    }
    const std::size_t take = std::min(kBlockLen - chunk_.block_len, input.size());
    std::memcpy(chunk_.block + chunk_.block_len, input.data(), take);
    chunk_.block_len += take;
    input = input.subspan(take);
  }
}

Blake3::Digest Blake3::finish() const {
  Output o{};
  std::copy(chunk_.cv, chunk_.cv + 8, o.cv);
  words_from_bytes(chunk_.block, 16, o.block);
  o.counter = chunk_.counter;
  o.block_len = static_cast<std::uint32_t>(chunk_.block_len);
  o.flags = flags_ | kChunkEnd | (chunk_.blocks_compressed == 0 ? kChunkStart : 0);
  for (std::size_t i = stack_len_; i > 0; --i) {
    o = parent_output(stack_[i - 1], o.chaining_value(), key_, flags_);
  }
  std::uint32_t words[16];
  compress(o.cv, o.block, 0, o.block_len, o.flags | kRoot, words);
  Digest out;
  for (int i = 0; i < 8; ++i) {
    for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<std::uint8_t>(words[i] >> (8 * b));
  }
  return out;
}

Blake3::Digest Blake3::hash(std::span<const std::uint8_t> input) {
  Blake3 h;
  h.update(input);
  return h.finish();
}

void blake3_derive_key(std::string_view context, std::span<const std::uint8_t> material,
                       std::span<std::uint8_t> out) {
  Blake3 h = Blake3::derive_key(context);
  h.update(material);
  const Blake3::Digest d = h.finish();
  std::memcpy(out.data(), d.data(), std::min(out.size(), d.size()));
}

}  // namespace xsup::worker::proxy::shadowsocks
