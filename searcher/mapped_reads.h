// Index reads through read-only memory maps instead of one system call a B-tree block.
//
// Xapian's glass backend reads every block of its tables with pread(2), and a search reads the
// same blocks again and again (the NFCorpus questions: about 330 reads a search, of 650 distinct
// blocks over 100 questions). On this class of virtual machine a system call costs a few
// microseconds, which made them a third to half of a search's time (docs/PERFORMANCE.md,
// "Reading the index through memory maps"). Xapian 1.4 has no option to map its files, so this
// unit defines pread (and pread64, close) in the executable that links it: the dynamic linker
// resolves libxapian's calls to these first. Once enable() has run, a read of a file whose name
// ends in ".glass" is copied from a shared, read-only mapping of that file (the kernel's page
// cache, the bytes pread would return); anything else goes to the C library unchanged.
//
// - Mappings are windows of kWindowBytes, shared by every descriptor of the same file (all of a
//   server's searchers), least recently used unmapped first once they pass the budget: the
//   mapped index pages a process keeps resident (its RSS) stay within the budget.
// - A read past the file's end, or across two windows, is a real pread. A file that grew (a
//   commit appended blocks) is looked at again before that.
// - A file truncated under a mapping (a database overwritten in place) raises SIGBUS on the
//   pages gone; a handler turns that into a real pread, which returns what pread returns.
// - Descriptors are forgotten when closed; a mapping keeps its file alive, so a file's identity
//   (device, inode) cannot be reused while it is mapped.
// Thread safe: searchers on many threads read through one shared set of windows.
#pragma once

#include <cstddef>
#include <cstdint>

namespace medsearch::searcher::mapped_reads {

inline constexpr std::size_t kWindowBytes = std::size_t{1} << 20;
inline constexpr std::size_t kDefaultBudgetBytes = std::size_t{512} << 20;

// Turns mapped reads on for the whole process with at most `budget_bytes` mapped at once
// (rounded down to whole windows; 0 turns them off: every read is a pread again). Idempotent; may
// be called again to change the budget. The first call installs the SIGBUS handler.
void enable(std::size_t budget_bytes = kDefaultBudgetBytes);

// The budget MEDSEARCH_MAP_MB asks for (a whole number of MiB; 0 = off), or kDefaultBudgetBytes
// when it is unset, empty or not such a number.
std::size_t budget_from_environment();

// enable(budget_from_environment()), unless a budget was set explicitly before (a server's
// --index-map-mb). Called by every Searcher.
void enable_from_environment();

struct Stats {
  std::uint64_t mapped_reads = 0;  // reads served from a mapping
  std::uint64_t system_reads = 0;  // reads passed to pread (other files, past the end, faults)
  std::uint64_t faults = 0;        // SIGBUS caught on a truncated file
  std::size_t mapped_bytes = 0;    // windows mapped now
  std::size_t budget_bytes = 0;
};
Stats stats();

}  // namespace medsearch::searcher::mapped_reads
