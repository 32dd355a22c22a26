// searcher/mapped_reads: pread of an index table served from memory maps returns what the file
// holds, as pread would, through growth, truncation, closed and reused descriptors, a small
// budget and several threads; and searches over a real on-disk index answer the same either way.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "searcher/mapped_reads.h"
#include "searcher/searcher.h"
#include "tests/test_util.h"

namespace mr = medsearch::searcher::mapped_reads;
namespace ms = medsearch::searcher;

namespace {

constexpr std::size_t kWindow = mr::kWindowBytes;

// Every test leaves the process as Searchers expect it: the default budget.
class MappedReadsTest : public ::testing::Test {
 protected:
  void SetUp() override { mr::enable(mr::kDefaultBudgetBytes); }
  void TearDown() override { mr::enable(mr::kDefaultBudgetBytes); }
};

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

void write_file(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

// pread's answer as a string: the bytes read, or "error" (pread returned -1).
std::string read_at(int fd, std::size_t n, off_t offset) {
  std::string buf(n, '\0');
  const ssize_t got = ::pread(fd, buf.data(), n, offset);
  if (got < 0) return "error";
  buf.resize(static_cast<std::size_t>(got));
  return buf;
}

std::string expected(const std::string& file, std::size_t n, std::size_t offset) {
  if (offset >= file.size()) return {};
  return file.substr(offset, n);
}

TEST_F(MappedReadsTest, ReadsOfAnIndexTableAreServedFromMapsAndMatchTheFile) {
  medsearch::test::TempDir dir;
  const std::string content = pattern(3 * kWindow + 12345, 1);
  write_file(dir.str("postlist.glass"), content);
  const int fd = ::open(dir.str("postlist.glass").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const mr::Stats before = mr::stats();
  std::mt19937 rng(7);
  // Block reads as Xapian makes them, then arbitrary ones: across windows, at and past the end.
  for (int i = 0; i < 500; ++i) {
    const std::size_t block = 8192;
    const std::size_t offset = (rng() % (content.size() / block)) * block;
    ASSERT_EQ(read_at(fd, block, static_cast<off_t>(offset)), expected(content, block, offset)) << offset;
  }
  for (int i = 0; i < 500; ++i) {
    const std::size_t offset = rng() % (content.size() + 100);
    const std::size_t n = 1 + rng() % 20000;
    ASSERT_EQ(read_at(fd, n, static_cast<off_t>(offset)), expected(content, n, offset)) << offset << "+" << n;
  }
  EXPECT_EQ(read_at(fd, kWindow, static_cast<off_t>(kWindow)), expected(content, kWindow, kWindow));  // a whole window
  const mr::Stats after = mr::stats();
  EXPECT_GE(after.mapped_reads - before.mapped_reads, 500u);  // at least every block read
  EXPECT_GT(after.system_reads, before.system_reads);          // the reads across windows or past the end
  ::close(fd);
}

TEST_F(MappedReadsTest, OtherFilesAndAZeroBudgetGoToPread) {
  medsearch::test::TempDir dir;
  const std::string content = pattern(100000, 2);
  write_file(dir.str("notes.txt"), content);
  write_file(dir.str("termlist.glass"), content);
  const int other = ::open(dir.str("notes.txt").c_str(), O_RDONLY);
  const int table = ::open(dir.str("termlist.glass").c_str(), O_RDONLY);
  ASSERT_GE(other, 0);
  ASSERT_GE(table, 0);
  mr::Stats before = mr::stats();
  EXPECT_EQ(read_at(other, 8192, 16384), content.substr(16384, 8192));
  EXPECT_EQ(mr::stats().mapped_reads, before.mapped_reads);
  mr::enable(0);
  before = mr::stats();
  EXPECT_EQ(read_at(table, 8192, 16384), content.substr(16384, 8192));
  EXPECT_EQ(mr::stats().mapped_reads, before.mapped_reads);
  EXPECT_EQ(mr::stats().mapped_bytes, 0u);
  mr::enable(mr::kDefaultBudgetBytes);
  EXPECT_EQ(read_at(table, 8192, 16384), content.substr(16384, 8192));
  EXPECT_EQ(mr::stats().mapped_reads, before.mapped_reads + 1);
  ::close(other);
  ::close(table);
}

TEST_F(MappedReadsTest, AFileThatGrowsIsReadToItsNewEnd) {
  medsearch::test::TempDir dir;
  const std::string path = dir.str("position.glass");
  const std::string first = pattern(8192 * 3, 3);
  write_file(path, first);
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_at(fd, 8192, 8192), first.substr(8192, 8192));
  EXPECT_EQ(read_at(fd, 8192, 8192 * 3), "");  // past the end: nothing, as pread
  // A commit appends blocks (and rewrites one in place) through another descriptor.
  const std::string more = pattern(8192 * 2, 4);
  const int writer = ::open(path.c_str(), O_WRONLY);
  ASSERT_EQ(::pwrite(writer, more.data(), more.size(), 8192 * 3), static_cast<ssize_t>(more.size()));
  ASSERT_EQ(::pwrite(writer, more.data(), 8192, 0), 8192);
  ::close(writer);
  const mr::Stats before = mr::stats();
  EXPECT_EQ(read_at(fd, 8192, 8192 * 4), more.substr(8192, 8192));
  EXPECT_EQ(read_at(fd, 8192, 0), more.substr(0, 8192));  // the map shows the rewrite
  EXPECT_EQ(mr::stats().mapped_reads, before.mapped_reads + 2);
  ::close(fd);
}

TEST_F(MappedReadsTest, ATruncatedFileIsReadAsPreadReadsItInsteadOfCrashing) {
  medsearch::test::TempDir dir;
  const std::string path = dir.str("postlist.glass");
  const std::string content = pattern(8192 * 64, 5);
  write_file(path, content);
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_at(fd, 8192, 8192 * 40), content.substr(8192 * 40, 8192));
  // Overwritten in place (a database created anew over the old one): O_TRUNC, then less data.
  const std::string shorter = pattern(8192 * 2, 6);
  write_file(path, shorter);
  const mr::Stats before = mr::stats();
  EXPECT_EQ(read_at(fd, 8192, 8192 * 40), "");                 // SIGBUS on the map, caught
  EXPECT_EQ(read_at(fd, 8192, 8192), shorter.substr(8192, 8192));  // what is there now
  EXPECT_GE(mr::stats().faults, before.faults + 1);
  ::close(fd);
}

TEST_F(MappedReadsTest, AClosedDescriptorsNumberReusedForAnotherFileReadsThatFile) {
  medsearch::test::TempDir dir;
  const std::string a = pattern(8192 * 4, 7);
  const std::string b = pattern(8192 * 4, 8);
  write_file(dir.str("a.glass"), a);
  write_file(dir.str("b.glass"), b);
  const int fa = ::open(dir.str("a.glass").c_str(), O_RDONLY);
  ASSERT_GE(fa, 0);
  EXPECT_EQ(read_at(fa, 8192, 8192), a.substr(8192, 8192));
  ::close(fa);
  const int fb = ::open(dir.str("b.glass").c_str(), O_RDONLY);
  ASSERT_EQ(fb, fa);  // the lowest free number, as POSIX promises
  EXPECT_EQ(read_at(fb, 8192, 8192), b.substr(8192, 8192));
  ::close(fb);
}

TEST_F(MappedReadsTest, ThreadsReadCorrectlyWhileASmallBudgetEvictsWindows) {
  medsearch::test::TempDir dir;
  const std::string content = pattern(8 * kWindow, 9);
  write_file(dir.str("postlist.glass"), content);
  mr::enable(2 * kWindow);
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      // Each thread its own descriptor, as each searcher opens its own database.
      const int fd = ::open(dir.str("postlist.glass").c_str(), O_RDONLY);
      std::mt19937 rng(static_cast<unsigned>(100 + t));
      for (int i = 0; i < 3000; ++i) {
        const std::size_t offset = (rng() % (content.size() / 8192)) * 8192;
        if (read_at(fd, 8192, static_cast<off_t>(offset)) != content.substr(offset, 8192)) {
          ++wrong[static_cast<std::size_t>(t)];
        }
        if (i % 500 == 0) {
          EXPECT_LE(mr::stats().mapped_bytes, 2 * kWindow + 4 * kWindow);  // + one in use a thread
        }
      }
      ::close(fd);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
  EXPECT_LE(mr::stats().mapped_bytes, 2 * kWindow);
}

TEST(MappedReadsBudget, ReadFromTheEnvironmentOrTheDefault) {
  const char* saved = std::getenv("MEDSEARCH_MAP_MB");
  const std::string was = saved != nullptr ? saved : "";
  const std::pair<const char*, std::size_t> cases[] = {
      {"64", std::size_t{64} << 20}, {"0", 0},  {"", mr::kDefaultBudgetBytes}, {"-5", mr::kDefaultBudgetBytes},
      {"12abc", mr::kDefaultBudgetBytes}, {"lots", mr::kDefaultBudgetBytes}, {"99999999999999999999", mr::kDefaultBudgetBytes}};
  for (const auto& [text, bytes] : cases) {
    setenv("MEDSEARCH_MAP_MB", text, 1);
    EXPECT_EQ(mr::budget_from_environment(), bytes) << text;
  }
  unsetenv("MEDSEARCH_MAP_MB");
  EXPECT_EQ(mr::budget_from_environment(), mr::kDefaultBudgetBytes);
  if (saved != nullptr) setenv("MEDSEARCH_MAP_MB", was.c_str(), 1);
}

// The engine over a real on-disk index (its glass tables read through maps) answers exactly as
// it does reading them with pread.
TEST_F(MappedReadsTest, SearchesOverAnOnDiskIndexAnswerTheSameEitherWay) {
  medsearch::test::TempDir dir;
  std::vector<std::filesystem::path> samples;
  for (const auto& f : medsearch::test::sample_files()) samples.emplace_back(f);
  medsearch::test::build_index(dir.str("db"), samples);
  const std::vector<std::string> questions = {
      "What are the treatment options for ALS?", "riluzole hepatotoxicity", "statin muscle pain",
      "heart attack aspirin", "pregnancy contraindications", "survival", "insulin dose type 2 diabetes"};
  auto answers = [&] {
    auto searcher = ms::Searcher::open(dir.str("db"));
    EXPECT_TRUE(searcher.ok());
    std::vector<std::string> out;
    for (const auto& q : questions) {
      ms::SearchRequest r;
      r.query = q;
      r.limit = 10;
      r.snippet_bytes = 200;
      auto response = (*searcher)->search(r);
      EXPECT_TRUE(response.ok()) << q;
      if (!response.ok()) continue;
      std::string line = q + ":";
      for (const auto& h : response->hits) line += " " + h.stored.passage.id + "/" + std::to_string(h.score) + "/" + h.snippet;
      out.push_back(line);
    }
    return out;
  };
  mr::enable(0);
  const auto with_pread = answers();
  mr::enable(mr::kDefaultBudgetBytes);
  const mr::Stats before = mr::stats();
  const auto with_maps = answers();
  EXPECT_GT(mr::stats().mapped_reads, before.mapped_reads);
  EXPECT_EQ(with_maps, with_pread);
  EXPECT_EQ(with_maps.size(), questions.size());
}

}  // namespace
