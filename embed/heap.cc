#include "embed/heap.h"

#include <Python.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "util/unique_fd.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1
#endif

namespace wj::embed {

namespace {

constexpr uintptr_t kHuge = uintptr_t{2} << 20;
// Address space only (MAP_NORESERVE, nothing resident until used): room for
// every arena the warm-up makes, with a wide margin; arenas past it come
// from mmap as without the region.
constexpr size_t kRegionBytes = size_t{512} << 20;
constexpr size_t kMaxFree = 512;
// pymalloc's arena size on 64-bit CPython 3.10+ (ARENA_BITS 20); any other
// request is served as without the region.
constexpr size_t kArenaBytes = size_t{1} << 20;

// One region, used by the zygote's single thread while it warms up (the
// interpreter holds the GIL around every arena call).
struct Region {
  uintptr_t base = 0;
  size_t used = 0;      // bytes handed out from base (the high-water mark)
  size_t size = 0;
  bool sealed = false;  // CollapseForForking: no more arenas from here
  uintptr_t free_slots[kMaxFree] = {};
  size_t free_count = 0;
  PyObjectArenaAllocator fallback{};
};
Region region;

bool InRegion(void* p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  return region.base != 0 && a >= region.base && a < region.base + region.size;
}

void* ArenaAlloc(void*, size_t size) {
  if (!region.sealed && size == kArenaBytes) {
    if (region.free_count > 0) return reinterpret_cast<void*>(region.free_slots[--region.free_count]);
    if (region.used + size <= region.size) {
      void* p = reinterpret_cast<void*>(region.base + region.used);
      region.used += size;
      return p;
    }
  }
  return region.fallback.alloc(region.fallback.ctx, size);
}

void ArenaFree(void*, void* p, size_t size) {
  if (!InRegion(p)) return region.fallback.free(region.fallback.ctx, p, size);
  // Its pages go back to the kernel; the address stays the region's.
  ::madvise(p, size, MADV_DONTNEED);
  if (!region.sealed && region.free_count < kMaxFree) region.free_slots[region.free_count++] = reinterpret_cast<uintptr_t>(p);
}

constexpr size_t kPagesPerHuge = kHuge / 4096;
// Collapsed only when at least 15/16 of the range is resident already: the
// collapse fills the holes, so the zygote grows by at most 1/16 of a range.
constexpr size_t kMinPresent = kPagesPerHuge - kPagesPerHuge / 16;

size_t PresentPages(int pagemap, uintptr_t start) {
  uint64_t entries[kPagesPerHuge];
  if (::pread(pagemap, entries, sizeof entries, static_cast<off_t>(start / 4096 * sizeof(uint64_t))) !=
      static_cast<ssize_t>(sizeof entries))
    return 0;
  size_t present = 0;
  for (uint64_t e : entries) present += e >> 63;  // bit 63: present
  return present;
}

}  // namespace

void PlaceArenas() {
  if (region.base != 0) return;
  void* raw = ::mmap(nullptr, kRegionBytes + kHuge, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return;  // arenas come from mmap one by one, as without this
  auto start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + kHuge - 1) & ~(kHuge - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  uintptr_t end = start + kRegionBytes + kHuge;
  if (end > aligned + kRegionBytes) ::munmap(reinterpret_cast<void*>(aligned + kRegionBytes), end - aligned - kRegionBytes);
  region.base = aligned;
  region.size = kRegionBytes;
  PyObject_GetArenaAllocator(&region.fallback);
  PyObjectArenaAllocator mine{nullptr, ArenaAlloc, ArenaFree};
  PyObject_SetArenaAllocator(&mine);
}

HeapLayout CollapseForForking() {
  HeapLayout layout;
  UniqueFd pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  // Without the page map there is no telling a dense range from a sparse
  // one, which the collapse would fill; and the sizes here are x86-64's.
  if (!pagemap || ::sysconf(_SC_PAGESIZE) != 4096) return layout;
  if (region.base != 0 && !region.sealed) {
    region.sealed = true;
    // The unused rest of the region goes: a child's address space (and its
    // RLIMIT_AS, counted from the zygote's) holds only what is in use.
    uintptr_t keep = (region.used + kHuge - 1) & ~(kHuge - 1);
    if (keep < region.size) {
      ::munmap(reinterpret_cast<void*>(region.base + keep), region.size - keep);
      region.size = keep;
    }
  }
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long lo = 0, hi = 0, offset = 0, inode = 0;
    char perms[5] = {}, dev[16] = {}, name[32] = {};
    int fields = std::sscanf(line.c_str(), "%lx-%lx %4s %lx %15s %lu %31s", &lo, &hi, perms, &offset, dev, &inode, name);
    if (fields < 6 || inode != 0 || std::string(perms) != "rw-p") continue;
    // Anonymous memory, the brk heap included; not the stack or the
    // kernel's own pages ([stack], [vvar], ...).
    if (fields == 7 && std::string(name) != "[heap]") continue;
    for (uintptr_t p = (lo + kHuge - 1) & ~(kHuge - 1); p + kHuge <= hi; p += kHuge) {
      // A huge page is resident whole: a range mostly absent would grow
      // the zygote by its holes.
      if (PresentPages(pagemap.get(), p) < kMinPresent) continue;
      if (::madvise(reinterpret_cast<void*>(p), kHuge, MADV_COLLAPSE) != 0) ++layout.failed_ranges;
    }
  }
  std::ifstream rollup("/proc/self/smaps_rollup");
  while (std::getline(rollup, line)) {
    unsigned long kb = 0;
    if (std::sscanf(line.c_str(), "Anonymous: %lu kB", &kb) == 1) layout.anonymous_bytes = kb << 10;
    if (std::sscanf(line.c_str(), "AnonHugePages: %lu kB", &kb) == 1) layout.huge_bytes = kb << 10;
  }
  return layout;
}

}  // namespace wj::embed
