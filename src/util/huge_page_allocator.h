// HugePageAllocator: a std::allocator for large arrays that are read at random
// (the engine's directory). With 4 KiB pages a random lookup in a 100 MiB
// array misses the TLB nearly every time, and the page walk costs about as
// much as the cache miss itself; with 2 MiB pages the TLB covers the array.
// Linux backs an allocation with transparent huge pages only where asked
// (the common `madvise` setting), so large allocations are 2 MiB aligned and
// marked MADV_HUGEPAGE. Where huge pages are unavailable this is a plain
// aligned allocation.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace cycas {

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "small arrays use plain new");
  static constexpr size_t kHugePage = size_t{2} << 20;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}

  T* allocate(size_t n) {
    size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) return static_cast<T*>(::operator new(bytes));
    size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (p == nullptr) throw std::bad_alloc();
    // Only the whole huge pages the array fills: advising the partly used
    // last one would make the kernel back it fully, up to 2 MiB of RAM the
    // array never uses. Advice only: failure leaves 4 KiB pages.
    if (size_t whole = bytes / kHugePage * kHugePage; whole > 0) {
      ::madvise(p, whole, MADV_HUGEPAGE);
    }
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kHugePage) {
      ::operator delete(p);
    } else {
      std::free(p);
    }
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

}  // namespace cycas
