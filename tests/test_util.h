// Helpers shared by the test executables: a private temporary folder per test, paths to the
// source tree, fixtures and shared data.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "corpus/record.h"

namespace medsearch::test {

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str(const std::string& child = {}) const;

 private:
  std::filesystem::path path_;
};

std::filesystem::path source_dir();   // the repository root
std::filesystem::path fixture(const std::string& name);  // tests/fixtures/<name>
std::filesystem::path data_dir();     // ../shared/data (may not exist)
std::filesystem::path bin_dir();      // the build's bin/ (medsearch-index and the other programs)
std::vector<std::string> sample_files();  // corpus/samples/*.jsonl, sorted

// True in the sanitizer build (MEDSEARCH_SANITIZE, scripts/test.sh's second run). Tests that
// walk a whole real collection take a slice of it there: ASan and UBSan check the code paths,
// which a slice runs as the whole does, at several times the cost per record; the release run
// checks the whole collection.
bool sanitized();
// `path`'s first `lines` lines, copied into `dir` when sanitized(); `path` itself otherwise.
std::filesystem::path slice_when_sanitized(const std::filesystem::path& path, const TempDir& dir, std::size_t lines);

// Reads a native JSONL fixture into records; fails the calling test on a bad line.
std::vector<corpus::Record> load_records(const std::filesystem::path& path);

// Builds an on-disk index at `db_path` from native JSONL files; fails the test on error.
void build_index(const std::string& db_path, const std::vector<std::filesystem::path>& inputs);

// xapian-tcpsrv processes serving databases on loopback ports the OS chose free, one per path
// (shard i at urls()[i]); each runs in its own process group, so stopping one also ends the
// connections it forked. All are killed on destruction.
class TcpShards {
 public:
  explicit TcpShards(std::vector<std::string> paths);
  ~TcpShards();
  TcpShards(const TcpShards&) = delete;
  TcpShards& operator=(const TcpShards&) = delete;

  static bool available();  // xapian-tcpsrv is on PATH
  bool ok() const { return ok_; }
  std::vector<std::string> urls() const;
  void stop(std::size_t i);    // SIGKILL to the shard's process group
  bool start(std::size_t i);   // (re)start on the same port; false if it does not come up
  void pause(std::size_t i);   // SIGSTOP: a shard that accepts but never answers (slow)
  void resume(std::size_t i);  // SIGCONT

 private:
  struct Shard {
    std::string path;
    int port = 0;
    int pid = 0;
  };
  std::vector<Shard> shards_;
  bool ok_ = true;
};

}  // namespace medsearch::test
