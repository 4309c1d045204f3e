#include "worker/core/buffer_pool.h"

#include <new>
#include <utility>

namespace xsup::worker::core {

Buffer::Buffer(Buffer&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), data_(std::exchange(other.data_, nullptr)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    if (pool_ != nullptr) pool_->release(data_);
    pool_ = std::exchange(other.pool_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
  }
  return *this;
}

Buffer::~Buffer() {
  if (pool_ != nullptr) pool_->release(data_);
}

std::size_t Buffer::capacity() const { return data_ != nullptr ? BufferPool::kBufferSize : 0; }

BufferPool::~BufferPool() {
  for (auto* p : idle_) ::operator delete(p);
}

Buffer BufferPool::acquire() {
  std::uint8_t* data;
  if (!idle_.empty()) {
    data = idle_.back();
    idle_.pop_back();
  } else {
    data = static_cast<std::uint8_t*>(::operator new(kBufferSize));
    ++allocations_;
  }
  ++outstanding_;
  return Buffer(this, data);
}

void BufferPool::release(std::uint8_t* data) {
  --outstanding_;
  if (idle_.size() < max_idle_) {
    idle_.push_back(data);
  } else {
    ::operator delete(data);
  }
}

BufferPool& BufferPool::local() {
  static thread_local BufferPool pool;
  return pool;
}

}  // namespace xsup::worker::core
