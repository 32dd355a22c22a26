// Index reads through read-only memory maps (mapped_reads.h).
#include "searcher/mapped_reads.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace medsearch::searcher::mapped_reads {
namespace {

using PreadFunction = ssize_t (*)(int, void*, std::size_t, off_t);
using CloseFunction = int (*)(int);

// The C library's functions (or a sanitizer's, which sits between it and the program): the next
// definitions after this executable's.
template <typename F>
F next_definition(const char* name) {
  void* symbol = dlsym(RTLD_NEXT, name);
  F f = nullptr;
  static_assert(sizeof f == sizeof symbol);
  std::memcpy(&f, &symbol, sizeof f);
  return f;
}

ssize_t system_pread(int fd, void* buf, std::size_t n, off_t offset) {
  static const PreadFunction next = next_definition<PreadFunction>("pread");
  if (next != nullptr) return next(fd, buf, n, offset);
  return static_cast<ssize_t>(syscall(SYS_pread64, fd, buf, n, offset));
}

int system_close(int fd) {
  static const CloseFunction next = next_definition<CloseFunction>("close");
  if (next != nullptr) return next(fd);
  return static_cast<int>(syscall(SYS_close, fd));
}

struct File;

struct Window {
  char* base = nullptr;
  std::size_t index = 0;  // offset / kWindowBytes
  File* file = nullptr;   // nullptr once retired (its file closed or truncated): unmapped when unused
  int users = 0;          // reads copying from it now (under the lock)
  std::list<Window*>::iterator lru;
};

struct File {
  std::pair<dev_t, ino_t> id{};  // its key in State::files
  std::uint64_t size = 0;        // as last seen; a read past it looks again
  int descriptors = 0;           // open descriptors classified to this file; at 0 it is forgotten
  std::unordered_map<std::size_t, Window*> windows;
};

// What a descriptor is: unknown (nullptr), not an index table (&kNotMapped), or its file.
File kNotMapped;
constexpr int kMaxDescriptors = 1 << 16;
std::array<std::atomic<File*>, kMaxDescriptors> descriptors{};

std::atomic<bool> enabled{false};
std::atomic<std::uint64_t> mapped_reads_count{0};
std::atomic<std::uint64_t> system_reads_count{0};
std::atomic<std::uint64_t> faults_count{0};

struct State {
  std::mutex mutex;
  std::map<std::pair<dev_t, ino_t>, File*> files;
  std::list<Window*> lru;  // most recently used first
  std::size_t mapped = 0;
  std::size_t budget = 0;
  bool explicit_budget = false;
  bool handler_installed = false;
};

State& state() {
  static State* s = new State;  // never destroyed: reads may run while the process exits
  return *s;
}

void unmap(State& s, Window* w) {
  munmap(w->base, kWindowBytes);
  s.lru.erase(w->lru);
  s.mapped -= kWindowBytes;
  delete w;
}

// Takes a window out of its file's set; unmapped now if no read is copying from it, else by
// release() when the last such read ends. Under the lock.
void retire(State& s, Window* w) {
  if (w->file != nullptr) w->file->windows.erase(w->index);
  w->file = nullptr;
  if (w->users == 0) unmap(s, w);
}

// Unmaps the least recently used windows no read is using until the mapped bytes fit the budget.
void evict(State& s) {
  for (auto it = s.lru.end(); s.mapped > s.budget && it != s.lru.begin();) {
    --it;
    Window* w = *it;
    if (w->users > 0) continue;
    const auto next = std::next(it);  // retire() unmaps `w`, erasing `it`
    retire(s, w);
    it = next;
  }
}

bool is_index_table(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[4096];
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  const std::string_view p(path, static_cast<std::size_t>(n));
  constexpr std::string_view kSuffix = ".glass";
  return p.size() > kSuffix.size() && p.substr(p.size() - kSuffix.size()) == kSuffix;
}

File* classify(int fd) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  File* known = descriptors[static_cast<std::size_t>(fd)].load(std::memory_order_acquire);
  if (known != nullptr) return known;
  File* f = &kNotMapped;
  struct stat st {};
  if (is_index_table(fd) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    const auto id = std::make_pair(st.st_dev, st.st_ino);
    auto it = s.files.find(id);
    if (it == s.files.end()) {
      it = s.files.emplace(id, new File).first;
      it->second->id = id;
    }
    f = it->second;
    f->size = static_cast<std::uint64_t>(st.st_size);
    ++f->descriptors;
  }
  descriptors[static_cast<std::size_t>(fd)].store(f, std::memory_order_release);
  return f;
}

// The window holding [offset, end) of `f`, with a user counted, or nullptr (then pread).
Window* acquire(File* f, int fd, std::size_t index, std::uint64_t end) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.budget < kWindowBytes) return nullptr;
  if (end > f->size) {
    struct stat st {};
    if (fstat(fd, &st) != 0) return nullptr;
    f->size = static_cast<std::uint64_t>(st.st_size);
    if (end > f->size) return nullptr;
  }
  Window* w = nullptr;
  if (auto it = f->windows.find(index); it != f->windows.end()) {
    w = it->second;
    s.lru.splice(s.lru.begin(), s.lru, w->lru);
  } else {
    void* base = mmap(nullptr, kWindowBytes, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(index * kWindowBytes));
    if (base == MAP_FAILED) return nullptr;
    w = new Window;
    w->base = static_cast<char*>(base);
    w->index = index;
    w->file = f;
    s.lru.push_front(w);
    w->lru = s.lru.begin();
    s.mapped += kWindowBytes;
    f->windows.emplace(index, w);
    ++w->users;  // not evicted by its own arrival
    evict(s);
    return w;
  }
  ++w->users;
  return w;
}

void release(Window* w, bool faulted) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  --w->users;
  if (faulted) {
    // The file shrank under the mapping: look at its size again, and map this part anew.
    if (w->file != nullptr) w->file->size = 0;
    retire(s, w);
  } else if (w->file == nullptr && w->users == 0) {
    unmap(s, w);
  }
}

// SIGBUS on a mapped page past a truncated file's end, while copying: back to the copy's caller.
thread_local sigjmp_buf* volatile copy_guard = nullptr;
struct sigaction previous_sigbus {};

void on_sigbus(int signal_number, siginfo_t* info, void* context) {
  sigjmp_buf* guard = copy_guard;
  if (guard != nullptr) {
    copy_guard = nullptr;
    siglongjmp(*guard, 1);
  }
  // Not one of our copies: as it would have been without this handler.
  if ((previous_sigbus.sa_flags & SA_SIGINFO) != 0 && previous_sigbus.sa_sigaction != nullptr) {
    previous_sigbus.sa_sigaction(signal_number, info, context);
    return;
  }
  if ((previous_sigbus.sa_flags & SA_SIGINFO) == 0 && previous_sigbus.sa_handler != SIG_DFL &&
      previous_sigbus.sa_handler != SIG_IGN) {
    previous_sigbus.sa_handler(signal_number);
    return;
  }
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  sigaction(SIGBUS, &default_action, nullptr);  // the faulting access runs again and ends the process as before
}

// A block is copied in pieces of this size. glibc 2.36 (Debian 12) copies 4 KiB and more with
// `rep movsb`, which on the AMD EPYC that runs CI here was slow enough that memmove took 39% of
// a SciFact search (perf); below that size it uses its vector loop. Measured with
// GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=10000000 first, then with these pieces,
// interleaved with the single copy: SciFact everything on p50 3.25-3.75 -> 2.39-3.21 ms
// (docs/PERFORMANCE.md).
volatile std::size_t copy_piece = 2048;

__attribute__((noinline)) bool guarded_copy(void* destination, const char* source, std::size_t n) {
  sigjmp_buf guard;
  if (sigsetjmp(guard, 0) != 0) return false;  // (SA_NODEFER: SIGBUS is not left blocked)
  copy_guard = &guard;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  auto* into = static_cast<char*>(destination);
  // Read through a volatile, the piece's size is not known to the compiler, which would
  // otherwise copy a piece of known bound inline with `rep movsq`, as slow here as `rep movsb`.
  const std::size_t piece = copy_piece;
  for (std::size_t done = 0; done < n; done += piece) std::memcpy(into + done, source + done, std::min(piece, n - done));
  std::atomic_signal_fence(std::memory_order_seq_cst);
  copy_guard = nullptr;
  return true;
}

ssize_t read_at(int fd, void* buf, std::size_t n, off_t offset) {
  if (!enabled.load(std::memory_order_relaxed) || fd < 0 || fd >= kMaxDescriptors || n == 0 || offset < 0)
    return system_pread(fd, buf, n, offset);
  File* f = descriptors[static_cast<std::size_t>(fd)].load(std::memory_order_acquire);
  if (f == nullptr) f = classify(fd);
  if (f == &kNotMapped) return system_pread(fd, buf, n, offset);
  const auto first = static_cast<std::uint64_t>(offset);
  const std::uint64_t end = first + n;
  const std::size_t index = first / kWindowBytes;
  Window* w = (end - 1) / kWindowBytes == index ? acquire(f, fd, index, end) : nullptr;
  if (w == nullptr) {
    system_reads_count.fetch_add(1, std::memory_order_relaxed);
    return system_pread(fd, buf, n, offset);
  }
  const bool copied = guarded_copy(buf, w->base + (first - index * kWindowBytes), n);
  release(w, !copied);
  if (!copied) {
    faults_count.fetch_add(1, std::memory_order_relaxed);
    system_reads_count.fetch_add(1, std::memory_order_relaxed);
    return system_pread(fd, buf, n, offset);
  }
  mapped_reads_count.fetch_add(1, std::memory_order_relaxed);
  return static_cast<ssize_t>(n);
}

void forget_descriptor(int fd) {
  if (fd < 0 || fd >= kMaxDescriptors) return;
  File* f = descriptors[static_cast<std::size_t>(fd)].exchange(nullptr, std::memory_order_acq_rel);
  if (f == nullptr || f == &kNotMapped) return;
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (--f->descriptors > 0) return;
  // Its last descriptor: unmap its windows too, so a replaced file's space is freed with it
  // (a window a read still copies from is unmapped when that read ends), and forget the file.
  while (!f->windows.empty()) retire(s, f->windows.begin()->second);
  s.files.erase(f->id);
  delete f;
}

void set_budget(std::size_t budget_bytes, bool explicit_budget) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (!explicit_budget && s.explicit_budget) return;
  s.explicit_budget = s.explicit_budget || explicit_budget;
  s.budget = budget_bytes / kWindowBytes * kWindowBytes;
  evict(s);
  if (!s.handler_installed && s.budget > 0) {
    // A child forked while another thread held the lock (Xapian's remote `prog` shards fork and
    // close descriptors before exec) would wait for it forever in close(): fork takes it first.
    static const bool fork_safe =
        pthread_atfork([] { state().mutex.lock(); }, [] { state().mutex.unlock(); }, [] { state().mutex.unlock(); }) == 0;
    if (!fork_safe) return;  // stay off
    struct sigaction action {};
    action.sa_sigaction = &on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, &previous_sigbus) != 0) return;  // no handler: stay off
    s.handler_installed = true;
  }
  enabled.store(s.handler_installed && s.budget > 0, std::memory_order_release);
}

}  // namespace

void enable(std::size_t budget_bytes) { set_budget(budget_bytes, true); }

std::size_t budget_from_environment() {
  const char* mb = std::getenv("MEDSEARCH_MAP_MB");
  if (mb == nullptr || *mb < '0' || *mb > '9') return kDefaultBudgetBytes;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(mb, &end, 10);
  if (errno != 0 || end == nullptr || *end != '\0' || value > (std::size_t{1} << 44) >> 20) return kDefaultBudgetBytes;
  return static_cast<std::size_t>(value) << 20;
}

void enable_from_environment() {
  static std::once_flag once;
  std::call_once(once, [] { set_budget(budget_from_environment(), false); });
}

Stats stats() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  Stats out;
  out.mapped_reads = mapped_reads_count.load();
  out.system_reads = system_reads_count.load();
  out.faults = faults_count.load();
  out.mapped_bytes = s.mapped;
  out.budget_bytes = s.budget;
  return out;
}

}  // namespace medsearch::searcher::mapped_reads

// The definitions the dynamic linker finds before the C library's (mapped_reads.h).
extern "C" {

ssize_t pread(int fd, void* buf, size_t n, off_t offset) {
  return medsearch::searcher::mapped_reads::read_at(fd, buf, n, offset);
}

ssize_t pread64(int fd, void* buf, size_t n, off64_t offset) {
  return medsearch::searcher::mapped_reads::read_at(fd, buf, n, static_cast<off_t>(offset));
}

int close(int fd) {
  medsearch::searcher::mapped_reads::forget_descriptor(fd);
  return medsearch::searcher::mapped_reads::system_close(fd);
}

}  // extern "C"
