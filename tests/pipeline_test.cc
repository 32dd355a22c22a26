// indexer/pipeline: sharded layout, counts that add up, resumable re-runs, versions,
// duplicates in input order, dry runs, rejects files, compaction, and the promise that a
// sharded index answers exactly as one database holding the same records.
#include "indexer/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "searcher/facets.h"
#include "searcher/searcher.h"
#include "searcher/shards.h"
#include "searcher/trec.h"
#include "tests/test_util.h"

namespace mi = medsearch::indexer;
namespace ms = medsearch::searcher;
namespace mc = medsearch::corpus;
using medsearch::test::TempDir;
using medsearch::test::fixture;

namespace {

mi::BulkSummary run(const std::string& db, const std::vector<std::string>& inputs, std::optional<std::uint32_t> shards,
                    mi::BulkOptions options = {}) {
  auto layout = mi::open_layout(db, shards);
  EXPECT_TRUE(layout.ok()) << (layout.ok() ? "" : layout.error().message);
  auto summary = mi::index_files(*layout, inputs, mc::Format::automatic, options);
  EXPECT_TRUE(summary.ok()) << (summary.ok() ? "" : summary.error().message);
  return summary.ok() ? summary.value() : mi::BulkSummary{};
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string record_line(const std::string& id, const std::string& text, long long version = 0) {
  nlohmann::json j = {{"id", id}, {"source", "fda_label"}, {"title", "Label " + id}, {"text", text}};
  if (version) j["version"] = version;
  return j.dump() + "\n";
}

// Every passage id with its score for a query, in order.
std::vector<std::pair<std::string, double>> answer(ms::Searcher& searcher, const std::string& q, int per_record) {
  ms::SearchRequest request;
  request.query = q;
  request.limit = 100;
  request.per_record = per_record;
  request.snippet_bytes = 0;
  auto response = searcher.search(request);
  EXPECT_TRUE(response.ok()) << q;
  std::vector<std::pair<std::string, double>> out;
  if (response.ok())
    for (const auto& hit : response->hits) out.emplace_back(hit.stored.passage.id, hit.score);
  return out;
}

void expect_same_answers(ms::Searcher& a, ms::Searcher& b, const std::vector<std::string>& queries) {
  for (const auto& q : queries) {
    for (int per_record : {0, 1}) {
      auto x = answer(a, q, per_record);
      auto y = answer(b, q, per_record);
      ASSERT_EQ(x.size(), y.size()) << q;
      for (std::size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(x[i].first, y[i].first) << q << " rank " << i + 1 << " per_record " << per_record;
        ASSERT_NEAR(x[i].second, y[i].second, 1e-9) << q;
      }
    }
  }
}

void expect_same_answers(const std::string& single, const std::string& sharded, const std::vector<std::string>& queries) {
  auto a = ms::Searcher::open(single);
  auto b = ms::Searcher::open(sharded);
  ASSERT_TRUE(a.ok() && b.ok());
  expect_same_answers(**a, **b, queries);
}

// The same index's shards served by xapian-tcpsrv and searched over Xapian's remote backend,
// with the lexicon exported next to them.
void expect_remote_answers_as_one(const std::string& single, const std::string& sharded, std::size_t shards,
                                  const std::vector<std::string>& queries) {
  if (!medsearch::test::TcpShards::available()) GTEST_SKIP() << "xapian-tcpsrv not installed (xapian-tools)";
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < shards; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/shard-%03zu", i);
    paths.push_back(sharded + name);
  }
  medsearch::test::TcpShards servers(paths);
  ASSERT_TRUE(servers.ok());
  ASSERT_TRUE(mi::export_lexicon(sharded, sharded + "-lexicon").ok());
  ms::ShardOptions options;
  options.lexicon = sharded + "-lexicon";
  auto remote = ms::Searcher::open(servers.urls(), options);
  ASSERT_TRUE(remote.ok()) << remote.error().message;
  auto one = ms::Searcher::open(single);
  ASSERT_TRUE(one.ok());
  expect_same_answers(**one, **remote, queries);
}

}  // namespace

TEST(Sharding, StableRouting) {
  // The routing hash is part of the on-disk format: pin a few values.
  EXPECT_EQ(mi::shard_of("anything", 1), 0u);
  EXPECT_EQ(mi::shard_of("pmid-8302340", 4), mi::shard_of("pmid-8302340", 4));
  std::vector<int> seen(4, 0);
  for (int i = 0; i < 1000; ++i) ++seen[mi::shard_of("rec-" + std::to_string(i), 4)];
  for (int n : seen) EXPECT_GT(n, 150);  // roughly even
}

TEST(Sharding, LayoutRefusesAWrongShardCount) {
  TempDir dir;
  run(dir.str("db"), {fixture("golden.jsonl").string()}, 3);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "db" / "XAPIANDB"));
  auto same = mi::open_layout(dir.str("db"), std::nullopt);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->shard_paths.size(), 3u);
  auto wrong = mi::open_layout(dir.str("db"), 2);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().param, "--shards");
  EXPECT_NE(wrong.error().message.find("has 3 shards"), std::string::npos) << wrong.error().message;
}

TEST(Sharding, GoldenFixtureAnswersAsOneDatabase) {
  TempDir dir;
  const std::vector<std::string> inputs = {fixture("golden.jsonl").string(), fixture("http.jsonl").string()};
  auto one = run(dir.str("one"), inputs, 1);
  auto three = run(dir.str("three"), inputs, 3);
  EXPECT_EQ(one.counts.passages, three.counts.passages);
  expect_same_answers(dir.str("one"), dir.str("three"),
                      {"riluzole", "riluzole dose", "metformin lactic acidosis", "zinc cold", "\"twice daily\"",
                       "What are the treatment options for ALS?", "drug:rilutek", "beta blockers hypertension"});
}

// The server reopens its Searcher before every request. Over a stub of shards that used to
// drop the term frequencies the feedback's ESet caches, every time; now they go only when the
// data changed: the shards' state is the same across a refresh that found nothing new and
// differs after a commit, and a reopened Searcher then answers as a freshly opened one.
TEST(Sharding, ReopenKeepsCachedFrequenciesOnlyWhileNothingChanged) {
  TempDir dir;
  run(dir.str("db"), {fixture("golden.jsonl").string()}, 2);
  auto set = ms::ShardSet::open({dir.str("db")}, ms::ShardOptions{});
  ASSERT_TRUE(set.ok()) << set.error().message;
  const ms::ShardSet::State before = set->state();
  ASSERT_EQ(before.revisions.size(), 2u);
  ASSERT_TRUE(set->refresh().ok());
  EXPECT_TRUE(set->state() == before);

  auto searcher = ms::Searcher::open(std::vector<std::string>{dir.str("db")}, ms::ShardOptions{});
  ASSERT_TRUE(searcher.ok()) << searcher.error().message;
  const std::vector<std::string> questions = {"riluzole", "riluzole dose", "What are the treatment options for ALS?",
                                              "zinc cold", "beta blockers hypertension"};
  for (const auto& q : questions) answer(**searcher, q, 1);  // fills the cache
  ASSERT_TRUE((*searcher)->reopen().ok());
  // Records that change the frequencies of the fixture's words (its own records again, under
  // other ids, three times over), committed to the shards.
  std::string more;
  {
    std::ifstream in(fixture("golden.jsonl"));
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      for (int copy = 0; copy < 3; ++copy) {
        nlohmann::json j = nlohmann::json::parse(line);
        j["id"] = j["id"].get<std::string>() + "-copy" + std::to_string(copy);
        more += j.dump() + "\n";
      }
    }
  }
  write_file(dir.str("more.jsonl"), more);
  run(dir.str("db"), {dir.str("more.jsonl")}, std::nullopt);
  ASSERT_TRUE(set->refresh().ok());
  EXPECT_FALSE(set->state() == before);
  ASSERT_TRUE((*searcher)->reopen().ok());
  auto fresh = ms::Searcher::open(std::vector<std::string>{dir.str("db")}, ms::ShardOptions{});
  ASSERT_TRUE(fresh.ok());
  for (const auto& q : questions) EXPECT_EQ(answer(**searcher, q, 1), answer(**fresh, q, 1)) << q;
}

TEST(Sharding, RemoteShardsAnswerAsOneDatabase) {
  TempDir dir;
  const std::vector<std::string> inputs = {fixture("golden.jsonl").string(), fixture("http.jsonl").string()};
  run(dir.str("one"), inputs, 1);
  run(dir.str("three"), inputs, 3);
  expect_remote_answers_as_one(dir.str("one"), dir.str("three"), 3,
                               {"riluzole", "riluzole dose", "metformin lactic acidosis", "zinc cold", "\"twice daily\"",
                                "What are the treatment options for ALS?", "drug:rilutek", "beta blockers hypertension"});
}

TEST(Sharding, SciFactRemoteShardsAnswerAsOneDatabase) {
  const auto corpus = medsearch::test::data_dir() / "scifact" / "corpus.jsonl";
  const auto queries_path = medsearch::test::data_dir() / "scifact" / "queries.jsonl";
  if (!std::filesystem::exists(corpus)) GTEST_SKIP() << "SciFact not found at " << corpus << " (set MEDSEARCH_DATA_DIR)";
  TempDir dir;
  // The first 1,000 records under the sanitizers (test::sanitized()), all 5,183 otherwise.
  const auto records = medsearch::test::slice_when_sanitized(corpus, dir, 1000).string();
  run(dir.str("one"), {records}, 1);
  run(dir.str("three"), {records}, 3);
  auto queries = ms::read_beir_queries(queries_path.string(), [](const std::string&) {});
  ASSERT_TRUE(queries.ok());
  std::vector<std::string> texts;
  // Every 200th query: 5 questions, each hundreds of round trips over the remote backend
  // (scripts/cluster-demo.sh compares 50 over HTTP).
  for (std::size_t i = 0; i < queries->size(); i += 200) texts.push_back((*queries)[i].text);
  expect_remote_answers_as_one(dir.str("one"), dir.str("three"), 3, texts);
}

TEST(Sharding, SciFactAnswersAsOneDatabase) {
  const auto corpus = medsearch::test::data_dir() / "scifact" / "corpus.jsonl";
  const auto queries_path = medsearch::test::data_dir() / "scifact" / "queries.jsonl";
  if (!std::filesystem::exists(corpus)) GTEST_SKIP() << "SciFact not found at " << corpus << " (set MEDSEARCH_DATA_DIR)";
  TempDir dir;
  const auto records = medsearch::test::slice_when_sanitized(corpus, dir, 1000).string();
  run(dir.str("one"), {records}, 1);
  run(dir.str("two"), {records}, 2);
  auto queries = ms::read_beir_queries(queries_path.string(), [](const std::string&) {});
  ASSERT_TRUE(queries.ok());
  std::vector<std::string> texts;
  // Every 8th: ~100 questions (every 16th under the sanitizers).
  const std::size_t step = medsearch::test::sanitized() ? 16 : 8;
  for (std::size_t i = 0; i < queries->size(); i += step) texts.push_back((*queries)[i].text);
  expect_same_answers(dir.str("one"), dir.str("two"), texts);
}

// Exact facets (an index of at most kExactFacetsMaxPassages) are counted by a boolean pass of
// their own, so asking for them leaves the hits as they are without: the same passages, the
// same scores. When they rode on the scored matches instead (every match checked), an index
// in shards scored some questions differently with facets than without ("mortality" here: the
// same order, scores five decimals in apart). A mixed index in two shards (medsearch-index's default on two cores): the
// demonstration corpus, the SPL labels, the MEDLINE sample and NFCorpus, each question searched
// with and without facets, collapsed and not.
TEST(Facets, ExactFacetsLeaveTheHitsAsWithout) {
  const auto data = medsearch::test::data_dir();
  const auto nfcorpus = data / "nfcorpus" / "corpus.jsonl";
  const auto labels = data / "fda-spl-labels-sample";
  const auto medline = data / "pubmed-medline-sample" / "mesh-papers.medline.txt";
  for (const auto& p : {nfcorpus, labels, medline})
    if (!std::filesystem::exists(p)) GTEST_SKIP() << p << " not found (set MEDSEARCH_DATA_DIR)";
  TempDir dir;
  std::vector<std::string> inputs;
  std::vector<std::filesystem::path> found;
  for (const auto& e : std::filesystem::directory_iterator(medsearch::test::source_dir() / "corpus" / "samples"))
    if (e.path().extension() == ".jsonl") found.push_back(e.path());
  for (const auto& e : std::filesystem::directory_iterator(labels))
    if (e.path().extension() == ".xml") found.push_back(e.path());
  std::sort(found.begin(), found.end());
  for (const auto& p : found) inputs.push_back(p.string());
  inputs.push_back(medline.string());
  inputs.push_back(medsearch::test::slice_when_sanitized(nfcorpus, dir, 1000).string());
  const auto summary = run(dir.str("db"), inputs, 2);
  ASSERT_EQ(summary.counts.rejected, 0u);
  ASSERT_LE(summary.counts.passages, ms::kExactFacetsMaxPassages);
  auto searcher = ms::Searcher::open(dir.str("db"));
  ASSERT_TRUE(searcher.ok());
  std::vector<std::string> questions = {"mortality", "riluzole", "What are the treatment options for ALS?",
                                        "adalimumab boxed warning", "statins", "vitamin D", "cancer"};
  for (const char* q : {"breast cancer", "diet", "metformin dose", "coffee", "heart disease", "obesity"})
    questions.emplace_back(q);
  for (const auto& q : questions) {
    for (int per_record : {0, 1}) {
      ms::SearchRequest request;
      request.query = q;
      request.limit = 20;
      request.per_record = per_record;
      request.snippet_bytes = 0;
      auto without = (*searcher)->search(request);
      request.facets = true;
      auto with = (*searcher)->search(request);
      ASSERT_TRUE(without.ok() && with.ok()) << q;
      ASSERT_TRUE(with->facets.has_value()) << q;
      EXPECT_TRUE(with->facets->exact) << q;
      ASSERT_EQ(with->hits.size(), without->hits.size()) << q;
      for (std::size_t i = 0; i < with->hits.size(); ++i) {
        EXPECT_EQ(with->hits[i].stored.passage.id, without->hits[i].stored.passage.id) << q << " rank " << i + 1;
        EXPECT_EQ(with->hits[i].score, without->hits[i].score) << q << " rank " << i + 1;
      }
    }
  }
}

TEST(Pipeline, CountsAddUpAndRerunsSkipUnchangedRecords) {
  TempDir dir;
  const std::vector<std::string> inputs = {fixture("golden.jsonl").string(), fixture("mixed.jsonl").string()};
  std::vector<std::string> rejects;
  mi::BulkOptions options;
  options.on_reject = [&](const std::string& line) { rejects.push_back(line); };
  auto first = run(dir.str("db"), inputs, 2, options);
  EXPECT_EQ(first.counts.read, 15u);
  EXPECT_EQ(first.counts.rejected, 3u);
  EXPECT_EQ(first.counts.indexed, 12u);
  EXPECT_EQ(first.counts.added, 12u);
  EXPECT_EQ(first.counts.read, first.counts.indexed + first.counts.rejected);
  ASSERT_EQ(first.inputs.size(), 2u);
  EXPECT_EQ(first.inputs[1].read, 5u);
  EXPECT_EQ(first.inputs[1].rejected, 3u);
  // Reports come in input order whatever the thread timing.
  ASSERT_EQ(rejects.size(), 3u);
  EXPECT_NE(rejects[0].find("mixed.jsonl:2:"), std::string::npos);
  EXPECT_NE(rejects[1].find("mixed.jsonl:3:"), std::string::npos);
  EXPECT_NE(rejects[2].find("mixed.jsonl:5:"), std::string::npos);

  auto second = run(dir.str("db"), inputs, std::nullopt);
  EXPECT_EQ(second.counts.unchanged, 12u);
  EXPECT_EQ(second.counts.added + second.counts.replaced, 0u);
  EXPECT_EQ(second.counts.passages, 0u);
  auto searcher = ms::Searcher::open(dir.str("db"));
  ASSERT_TRUE(searcher.ok());
  EXPECT_EQ((*searcher)->stats()->records, 12u);
}

TEST(Pipeline, NewestVersionWinsAndDuplicatesResolveInInputOrder) {
  TempDir dir;
  write_file(dir.str("a.jsonl"), record_line("lab-1", "version five text", 5) + record_line("lab-1", "version three text", 3) +
                                     record_line("dup", "first text") + record_line("dup", "second text"));
  auto summary = run(dir.str("db"), {dir.str("a.jsonl")}, 2);
  EXPECT_EQ(summary.counts.read, 4u);
  EXPECT_EQ(summary.counts.superseded, 1u);
  auto searcher = ms::Searcher::open(dir.str("db"));
  ASSERT_TRUE(searcher.ok());
  EXPECT_EQ((*searcher)->passage("lab-1:p0")->passage.text, "version five text");
  EXPECT_EQ((*searcher)->passage("dup:p0")->passage.text, "second text");
  // A newer version in a later run replaces it; an older one does not.
  write_file(dir.str("b.jsonl"), record_line("lab-1", "version two text", 2));
  run(dir.str("db"), {dir.str("b.jsonl")}, std::nullopt);
  EXPECT_EQ((*searcher)->reopen().ok(), true);
  EXPECT_EQ((*searcher)->passage("lab-1:p0")->passage.text, "version five text");
  write_file(dir.str("c.jsonl"), record_line("lab-1", "version six text", 6));
  run(dir.str("db"), {dir.str("c.jsonl")}, std::nullopt);
  EXPECT_TRUE((*searcher)->reopen().ok());
  EXPECT_EQ((*searcher)->passage("lab-1:p0")->passage.text, "version six text");
}

TEST(Pipeline, DryRunWritesNothingAndRejectsFileHoldsRawRecords) {
  TempDir dir;
  mi::BulkOptions options;
  options.dry_run = true;
  options.rejects_path = dir.str("rejects.jsonl");
  auto summary = run(dir.str("db"), {fixture("mixed.jsonl").string()}, 2, options);
  EXPECT_EQ(summary.counts.read, 5u);
  EXPECT_EQ(summary.counts.rejected, 3u);
  EXPECT_FALSE(mi::index_exists(dir.str("db")));
  std::ifstream in(dir.str("rejects.jsonl"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("\"newsletter\""), std::string::npos);  // the raw line, fixable by hand
  auto json = nlohmann::json::parse(mi::summary_json(summary));
  EXPECT_EQ(json["read"], 5);
  EXPECT_EQ(json["rejected"], 3);
  EXPECT_EQ(json["dry_run"], true);
}

TEST(Pipeline, ProgressIsReportedAndFinal) {
  TempDir dir;
  std::vector<mi::Progress> seen;
  mi::BulkOptions options;
  options.on_progress = [&](const mi::Progress& p) { seen.push_back(p); };
  run(dir.str("db"), {fixture("golden.jsonl").string()}, 1, options);
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(seen.back().done);
  EXPECT_EQ(seen.back().read, 10u);
  EXPECT_EQ(seen.back().bytes_read, seen.back().bytes_total);
}

TEST(Pipeline, DeleteRoutesToTheRightShardAndCompactKeepsAnswers) {
  TempDir dir;
  run(dir.str("db"), {fixture("golden.jsonl").string()}, 3);
  auto layout = mi::open_layout(dir.str("db"), std::nullopt);
  ASSERT_TRUE(layout.ok());
  auto deleted = mi::delete_records(*layout, {"l-riluzole", "no-such"}, {});
  ASSERT_TRUE(deleted[0].ok());
  EXPECT_EQ(deleted[0].value(), 3u);
  EXPECT_EQ(deleted[1].error().code, mc::ErrorCode::not_found);

  auto before = ms::Searcher::open(dir.str("db"));
  ASSERT_TRUE(before.ok());
  auto expected = answer(**before, "riluzole metformin zinc", 0);
  before.value().reset();
  ASSERT_TRUE(mi::compact(*layout).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "db" / "XAPIANDB"));
  auto after = ms::Searcher::open(dir.str("db"));
  ASSERT_TRUE(after.ok());
  auto got = answer(**after, "riluzole metformin zinc", 0);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, expected[i].first);
    EXPECT_NEAR(got[i].second, expected[i].second, 1e-9);
  }
  // The compacted index is one database now and takes further runs.
  auto again = mi::open_layout(dir.str("db"), std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->shard_paths.size(), 1u);
}
