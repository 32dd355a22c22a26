// Readers under load while the indexer commits: a Searcher that reopens before every query
// runs queries without pause while a medsearch-index process (the real binary, another
// process as in production) writes and commits a bulk run in many commits. No query may fail,
// what a reader sees may only grow, and after reopening the last commit is visible whole.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>
#include <string>

#include "searcher/searcher.h"
#include "tests/test_util.h"

namespace medsearch {
namespace {

constexpr int kRecords = 3000;
constexpr int kFirstRun = 300;

// BEIR lines with a word unique to each record ("marker<letters>"), so the last one can be
// looked up by itself.
std::string marker(int i) {
  std::string word = "marker";
  for (int k = 0; k < 4; ++k, i /= 26) word += static_cast<char>('a' + i % 26);
  return word;
}

void write_corpus(const std::string& path, int count) {
  std::ofstream out(path);
  for (int i = 0; i < count; ++i)
    out << R"({"_id": "doc-)" << i << R"(", "title": "Trial )" << i << " of drug " << i % 53
        << R"(", "text": "Patients with condition )" << i % 97 << " received drug " << i % 53 << " at dose "
        << (i % 9) * 10 << " mg; " << marker(i) << " outcome improved in " << i % 50 << " of 50.\"}\n";
}

int run_indexer(const std::string& db, const std::string& input, const std::string& log) {
  // Commits a few hundred milliseconds apart even under ASan (where a search with facets takes
  // ~0.4 s): a search that spans two commits of one shard is retried, but one slower than two
  // commit intervals fails with "the index changed too often" (docs/RELIABILITY.md, limits).
  const std::string command = (test::bin_dir() / "medsearch-index").string() + " --db '" + db +
                              "' --shards 2 --commit-every 300 --threads 1 --progress none -q '" + input + "' 2>'" +
                              log + "'";
  return std::system(command.c_str());
}

TEST(ConcurrencyTest, QueriesDuringCommitsNeverFailAndSeeTheLastCommit) {
  test::TempDir dir;
  const std::string db = dir.str("db");
  write_corpus(dir.str("first.jsonl"), kFirstRun);
  write_corpus(dir.str("all.jsonl"), kRecords);
  ASSERT_EQ(run_indexer(db, dir.str("first.jsonl"), dir.str("first.log")), 0);

  auto opened = searcher::Searcher::open(db);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto& searcher = **opened;

  std::atomic<bool> done{false};
  auto indexer = std::async(std::launch::async, [&] {
    int status = run_indexer(db, dir.str("all.jsonl"), dir.str("all.log"));
    done = true;
    return status;
  });

  int queries = 0, errors = 0, empty = 0, sizes_seen = 0;
  std::uint64_t last_records = 0;
  std::string first_error;
  searcher::SearchRequest request;
  request.query = "condition drug outcome improved";
  request.facets = true;
  while (!done) {
    ++queries;
    corpus::Status reopened = searcher.reopen();
    auto stats = searcher.stats();
    auto response = searcher.search(request);
    if (!reopened.ok() || !stats.ok() || !response.ok()) {
      ++errors;
      if (first_error.empty())
        first_error = !reopened.ok() ? reopened.error().message
                      : !stats.ok()  ? stats.error().message
                                     : response.error().message;
      continue;
    }
    if (response->hits.empty()) ++empty;
    // A reader sees whole commits in order: the record count never goes back.
    EXPECT_GE(stats->records, last_records) << "after " << queries << " queries";
    if (stats->records != last_records) ++sizes_seen;
    last_records = stats->records;
  }
  ASSERT_EQ(indexer.get(), 0) << "medsearch-index failed; see " << dir.str("all.log");
  EXPECT_EQ(errors, 0) << "first error: " << first_error;
  EXPECT_EQ(empty, 0);
  EXPECT_GT(queries, 10);
  // Commits were seen as they happened, not just at the end (2,700 new records over two
  // shards, a commit per 300 records of a shard: about 9 commits).
  EXPECT_GE(sizes_seen, 3) << queries << " queries";
  std::cout << "[ concurrency ] " << queries << " queries, " << sizes_seen << " index sizes seen, " << errors
            << " errors\n";

  // The last commit is visible after reopen: every record, and the last record by itself.
  ASSERT_TRUE(searcher.reopen().ok());
  auto stats = searcher.stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->records, static_cast<std::uint64_t>(kRecords));
  request.query = marker(kRecords - 1);
  request.facets = false;
  auto last = searcher.search(request);
  ASSERT_TRUE(last.ok()) << last.error().message;
  ASSERT_FALSE(last->hits.empty());
  EXPECT_EQ(last->hits[0].stored.passage.record_id, "doc-" + std::to_string(kRecords - 1));
}

}  // namespace
}  // namespace medsearch
