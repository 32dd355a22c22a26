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

// Reads a native JSONL fixture into records; fails the calling test on a bad line.
std::vector<corpus::Record> load_records(const std::filesystem::path& path);

// Builds an on-disk index at `db_path` from native JSONL files; fails the test on error.
void build_index(const std::string& db_path, const std::vector<std::filesystem::path>& inputs);

}  // namespace medsearch::test
