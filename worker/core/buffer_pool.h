#pragma once
// Fixed-size buffers recycled per worker, so the data path never allocates per read.
// Single-threaded by design: each worker loop owns its pool.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace xsup::worker::core {

class BufferPool;

// A pooled buffer: returns to its pool when destroyed.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t capacity() const;
  explicit operator bool() const { return data_ != nullptr; }
  std::span<std::uint8_t> span() { return {data_, capacity()}; }

 private:
  friend class BufferPool;
  Buffer(BufferPool* pool, std::uint8_t* data) : pool_(pool), data_(data) {}
  BufferPool* pool_ = nullptr;
  std::uint8_t* data_ = nullptr;
};

class BufferPool {
 public:
  // 128 KiB: a busy copy moves that much per syscall pair (a 32 KiB buffer cost the
  // encrypting protocols about 15% of their throughput, bench/README.md). A connection
  // holds a buffer only while bytes are in flight, so idle ones cost nothing; the pool
  // keeps at most 64 spare (8 MiB) per worker.
  static constexpr std::size_t kBufferSize = 128 * 1024;

  explicit BufferPool(std::size_t max_idle = 64) : max_idle_(max_idle) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  Buffer acquire();
  std::size_t idle() const { return idle_.size(); }
  std::size_t outstanding() const { return outstanding_; }
  std::size_t allocations() const { return allocations_; }

  // The pool of the calling worker thread.
  static BufferPool& local();

 private:
  friend class Buffer;
  void release(std::uint8_t* data);

  std::vector<std::uint8_t*> idle_;
  std::size_t max_idle_;
  std::size_t outstanding_ = 0;
  std::size_t allocations_ = 0;
};

}  // namespace xsup::worker::core
