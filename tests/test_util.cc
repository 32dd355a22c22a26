// Implementation of the shared test helpers.
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "corpus/reader.h"
#include "indexer/indexer.h"

namespace medsearch::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "medsearch-test-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::str(const std::string& child) const {
  return child.empty() ? path_.string() : (path_ / child).string();
}

std::filesystem::path source_dir() { return MEDSEARCH_SOURCE_DIR; }
std::filesystem::path fixture(const std::string& name) { return source_dir() / "tests" / "fixtures" / name; }
std::filesystem::path data_dir() { return MEDSEARCH_DATA_DIR; }

std::vector<corpus::Record> load_records(const std::filesystem::path& path) {
  std::vector<corpus::Record> records;
  auto reader = corpus::open_reader(path.string(), corpus::Format::medsearch);
  EXPECT_TRUE(reader.ok()) << (reader.ok() ? "" : reader.error().message);
  if (!reader.ok()) return records;
  corpus::ReadItem item;
  while ((*reader)->next(item)) {
    EXPECT_TRUE(item.record.has_value()) << item.location << ": " << item.error.message;
    if (item.record) records.push_back(std::move(*item.record));
  }
  return records;
}

void build_index(const std::string& db_path, const std::vector<std::filesystem::path>& inputs) {
  auto indexer = indexer::Indexer::open(db_path);
  ASSERT_TRUE(indexer.ok()) << indexer.error().message;
  for (const auto& input : inputs) {
    for (const auto& record : load_records(input)) {
      auto added = (*indexer)->add(record);
      ASSERT_TRUE(added.ok()) << record.id << ": " << added.error().message;
    }
  }
  auto committed = (*indexer)->commit();
  ASSERT_TRUE(committed.ok()) << committed.error().message;
}

}  // namespace medsearch::test
