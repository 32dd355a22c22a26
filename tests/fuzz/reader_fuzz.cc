// libFuzzer target for one reader (MEDSEARCH_FUZZ_FORMAT, a corpus::Format): the input is a
// whole file in that format (plain or gzip). Every item is framed, parsed and, when it is a
// record, built into Xapian documents (validation, cleaning, passages, analysis), as
// medsearch-index does. Format detection runs on the same bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "corpus/reader.h"
#include "indexer/indexer.h"

namespace {

// The input lives in a memory file, opened by path as the indexer opens its inputs.
int memory_file() {
  static const int fd = [] {
    int made = memfd_create("medsearch-fuzz", 0);
    if (made < 0) std::abort();
    return made;
  }();
  return fd;
}

medsearch::indexer::DocumentBuilder& builder() {
  static medsearch::indexer::DocumentBuilder instance;
  return instance;
}

}  // namespace

// One-time set-up (the vocabulary, ICU) before the first input, outside the per-input timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  builder();
  memory_file();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace medsearch;
  const int fd = memory_file();
  if (ftruncate(fd, 0) != 0) std::abort();
  if (size > 0 && pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);

  const std::string_view head(reinterpret_cast<const char*>(data), size < 4096 ? size : 4096);
  (void)corpus::detect_format(head, "input");

  auto reader = corpus::open_reader(path, MEDSEARCH_FUZZ_FORMAT);
  if (!reader.ok()) return 0;
  corpus::ReadItem item;
  for (int items = 0; items < 10000 && (*reader)->next(item); ++items) {
    if (item.record) (void)builder().build(*item.record);
  }
  return 0;
}
