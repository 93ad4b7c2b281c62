// The zygote's memory laid out for forking. fork() copies one page-table
// entry per resident page of every private writable mapping, and the child
// tears them all down again when it exits: with the warm interpreter's ~42 MiB
// of anonymous memory in 4 KiB pages that is ~11,000 entries each way, most
// of the fork floor. In 2 MiB pages it is one entry per 512.
//
// CPython's object allocator takes its 1 MiB arenas from mmap() one by one,
// scattered between other mappings, so no 2 MiB-aligned range is all arena:
// PlaceArenas gives it one region, 2 MiB-aligned, for every arena made while
// the zygote warms up. CollapseForForking, once the zygote is warm, ends that
// (later arenas, in children too, come from mmap as before) and asks the
// kernel to back every 2 MiB-aligned range of the zygote's private anonymous
// memory that is at least 15/16 resident with a huge page (MADV_COLLAPSE,
// which needs no THP setting but "never"). A child's first write to a huge page splits its own mapping and
// copies 4 KiB, as before; the zygote's mapping stays huge.
#pragma once
#include <cstddef>

namespace wj::embed {

// Before Py_Initialize: pymalloc's arenas come from the one region.
void PlaceArenas();

struct HeapLayout {
  size_t anonymous_bytes = 0;  // private anonymous memory resident after the collapse
  size_t huge_bytes = 0;       // of it, in 2 MiB pages
  unsigned failed_ranges = 0;  // 2 MiB ranges the kernel would not collapse
};

// Once warm, before the first fork: no more arenas from the region, and the
// private anonymous memory collapsed into huge pages where it can be.
HeapLayout CollapseForForking();

}  // namespace wj::embed
