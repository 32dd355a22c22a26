// The search API's features at the library level, over the demonstration corpus
// (corpus/samples) on one database and on two shards: facets that add up, filters, spelling
// suggestions, name completion, section and evidence intent, and /context's follow-ups.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>

#include <nlohmann/json.hpp>

#include "indexer/indexer.h"
#include "indexer/pipeline.h"
#include "searcher/answer.h"
#include "searcher/context.h"
#include "searcher/searcher.h"
#include "searcher/spelling.h"
#include "tests/test_util.h"

namespace ms = medsearch::searcher;
namespace mi = medsearch::indexer;
namespace mc = medsearch::corpus;

namespace {

using medsearch::test::sample_files;

// Indexes the samples into `dir` with `shards` shards, as medsearch-index does.
void index_samples(const std::string& dir, std::uint32_t shards) {
  auto layout = mi::open_layout(dir, shards);
  ASSERT_TRUE(layout.ok()) << layout.error().message;
  mi::BulkOptions options;
  options.threads = 2;
  auto run = mi::index_files(*layout, sample_files(), mc::Format::automatic, options);
  ASSERT_TRUE(run.ok()) << run.error().message;
  ASSERT_EQ(run->counts.rejected, 0u);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// One database and a two-shard index of the samples, built once.
class ApiTest : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new medsearch::test::TempDir();
    index_samples(dir_->str("one"), 1);
    index_samples(dir_->str("two"), 2);
    // Three shards served by xapian-tcpsrv, searched over Xapian's remote backend with the
    // lexicon (spellings, synonyms) exported next to them.
    if (medsearch::test::TcpShards::available()) {
      index_samples(dir_->str("three"), 3);
      ASSERT_TRUE(mi::export_lexicon(dir_->str("three"), dir_->str("three-lexicon")).ok());
      remote_ = new medsearch::test::TcpShards(
          {dir_->str("three/shard-000"), dir_->str("three/shard-001"), dir_->str("three/shard-002")});
    }
  }
  static void TearDownTestSuite() {
    delete remote_;
    remote_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (GetParam() == 3) {
      if (!remote_) GTEST_SKIP() << "xapian-tcpsrv not installed (Debian package xapian-tools)";
      ASSERT_TRUE(remote_->ok());
      ms::ShardOptions options;
      options.lexicon = dir_->str("three-lexicon");
      auto opened = ms::Searcher::open(remote_->urls(), options);
      ASSERT_TRUE(opened.ok()) << opened.error().message;
      searcher_ = std::move(opened.value());
      return;
    }
    auto opened = ms::Searcher::open(dir_->str(GetParam() == 1 ? "one" : "two"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    searcher_ = std::move(opened.value());
  }
  ms::SearchResponse search(ms::SearchRequest request) {
    auto response = searcher_->search(request);
    EXPECT_TRUE(response.ok()) << (response.ok() ? "" : response.error().message);
    return response.ok() ? *response : ms::SearchResponse{};
  }

  static medsearch::test::TempDir* dir_;
  static medsearch::test::TcpShards* remote_;
  std::unique_ptr<ms::Searcher> searcher_;
};
medsearch::test::TempDir* ApiTest::dir_ = nullptr;
medsearch::test::TcpShards* ApiTest::remote_ = nullptr;

std::uint64_t sum(const std::vector<ms::FacetValue>& values) {
  return std::accumulate(values.begin(), values.end(), std::uint64_t{0},
                         [](std::uint64_t total, const ms::FacetValue& v) { return total + v.count; });
}

void expect_sorted_by_count(const std::vector<ms::FacetValue>& values, const std::string& what) {
  for (std::size_t i = 1; i < values.size(); ++i) {
    const auto& a = values[i - 1];
    const auto& b = values[i];
    EXPECT_TRUE(a.count > b.count || (a.count == b.count && a.value < b.value)) << what << ": " << a.value << " before " << b.value;
  }
}

TEST_P(ApiTest, FacetsCountRecordsAndAddUpToTheTotal) {
  for (const char* q : {"What are the treatment options for ALS?", "riluzole", "metformin kidney", "asthma inhaler"}) {
    ms::SearchRequest request;
    request.query = q;
    request.limit = 100;
    request.facets = true;
    request.rerank = false;  // feedback may widen to every record; the counts are checked against the hits
    ms::SearchResponse r = search(request);
    ASSERT_TRUE(r.facets) << q;
    const ms::Facets& f = *r.facets;
    EXPECT_TRUE(f.exact) << q;
    // per_record = 1: one hit per matching record, and each record has one source.
    EXPECT_EQ(r.total_estimate, r.hits.size()) << q;
    EXPECT_EQ(sum(f.source), r.total_estimate) << q;
    std::set<std::string> records;
    for (const auto& hit : r.hits) records.insert(hit.stored.passage.record_id);
    EXPECT_EQ(records.size(), r.hits.size()) << q;
    // Years and evidence levels are per record too: no more than the records.
    EXPECT_LE(sum(f.year), r.total_estimate) << q;
    EXPECT_LE(sum(f.evidence_level), r.total_estimate) << q;
    expect_sorted_by_count(f.source, "source");
    expect_sorted_by_count(f.drug, "drug");
    expect_sorted_by_count(f.section, "section");
    expect_sorted_by_count(f.evidence_level, "evidence_level");
    EXPECT_LE(f.drug.size(), ms::kMaxDrugFacetValues);
    for (std::size_t i = 1; i < f.year.size(); ++i) EXPECT_GT(f.year[i - 1].from, f.year[i].from) << "newest first";
    for (const auto& y : f.year) EXPECT_EQ(y.to - y.from + 1, ms::kYearBucketWidth);
    // Counted by hand from the hits: every year of a matching record is in its bucket.
    std::map<int, std::uint64_t> by_bucket;
    for (const auto& hit : r.hits)
      if (hit.stored.year > 0) ++by_bucket[hit.stored.year - hit.stored.year % 5];
    for (const auto& y : f.year) EXPECT_EQ(y.count, by_bucket[y.from]) << q << " " << y.value;
  }
}

// Feedback widens a plain question to passages that share none of its words (ranked below those
// that do); the total and the facets still describe what the question itself matches, so they
// are the same with the second stage on as with it off.
TEST_P(ApiTest, FacetsAndTotalCountTheQuestionNotItsExpansion) {
  for (const char* q : {"What are the treatment options for ALS?", "metformin kidney function", "asthma inhaler children"}) {
    ms::SearchRequest request;
    request.query = q;
    request.limit = 100;
    request.facets = true;
    request.rerank = false;
    const ms::SearchResponse plain = search(request);
    request.rerank = true;
    const ms::SearchResponse widened = search(request);
    ASSERT_TRUE(plain.facets && widened.facets) << q;
    EXPECT_GT(widened.hits.size(), plain.hits.size()) << q << ": the expansion brings in more passages";
    EXPECT_EQ(widened.total_estimate, plain.total_estimate) << q;
    EXPECT_EQ(widened.facets->exact, plain.facets->exact) << q;
    auto values = [](const std::vector<ms::FacetValue>& v) {
      std::vector<std::pair<std::string, std::uint64_t>> out;
      for (const auto& x : v) out.emplace_back(x.value, x.count);
      return out;
    };
    EXPECT_EQ(values(widened.facets->source), values(plain.facets->source)) << q;
    EXPECT_EQ(values(widened.facets->drug), values(plain.facets->drug)) << q;
    EXPECT_EQ(values(widened.facets->section), values(plain.facets->section)) << q;
    EXPECT_EQ(values(widened.facets->year), values(plain.facets->year)) << q;
    EXPECT_EQ(values(widened.facets->evidence_level), values(plain.facets->evidence_level)) << q;
  }
}

// Without facets (the command line's default) the total is an estimate, but still of the records
// the question matches: the widened query's count came from get_mset(0, 0), which cannot
// collapse, and said "About 80 matching records" for "riluzole" (9 records) and 500 for a
// question of stop words in an index of 107 records.
TEST_P(ApiTest, TotalWithoutFacetsCountsTheQuestionsRecords) {
  for (const char* q : {"riluzole", "edaravone", "metformin kidney function", "the of and"}) {
    ms::SearchRequest request;
    request.query = q;
    request.limit = 100;
    request.rerank = false;
    const ms::SearchResponse plain = search(request);
    request.rerank = true;
    request.limit = 10;
    const ms::SearchResponse widened = search(request);
    if (plain.hits.size() < 20) {  // every match checked: exact
      EXPECT_EQ(plain.total_estimate, plain.hits.size()) << q;
      EXPECT_EQ(widened.total_estimate, plain.total_estimate) << q;
    }
    // An estimate over shards may overshoot a little, never several times over.
    EXPECT_LE(widened.total_estimate, searcher_->stats()->records * 11 / 10) << q << ": more records than the index holds";
  }
}

// A caller that shows no total (a TREC run) skips the count: the same hits, in the same order.
TEST_P(ApiTest, SkippingTheTotalLeavesTheHitsAlone) {
  for (const char* q : {"riluzole", "what are the side effects of edaravone", "metformin kidney function"}) {
    ms::SearchRequest request;
    request.query = q;
    request.limit = 50;
    const ms::SearchResponse counted = search(request);
    request.count_total = false;
    const ms::SearchResponse skipped = search(request);
    ASSERT_EQ(counted.hits.size(), skipped.hits.size()) << q;
    for (std::size_t i = 0; i < counted.hits.size(); ++i)
      EXPECT_EQ(counted.hits[i].stored.passage.id, skipped.hits[i].stored.passage.id) << q << " rank " << i + 1;
  }
}

TEST_P(ApiTest, FacetsWithoutCollapseStillCountRecords) {
  ms::SearchRequest request;
  request.query = "riluzole";
  request.limit = 100;
  request.per_record = 0;
  request.facets = true;
  request.rerank = false;
  ms::SearchResponse r = search(request);
  ASSERT_TRUE(r.facets);
  EXPECT_EQ(r.total_estimate, r.hits.size());  // passages, counted exactly
  std::set<std::string> records;
  for (const auto& hit : r.hits) records.insert(hit.stored.passage.record_id);
  EXPECT_EQ(sum(r.facets->source), records.size());
  EXPECT_LT(records.size(), r.hits.size()) << "riluzole has several passages per record";
}

TEST_P(ApiTest, FiltersAreRespectedAndChangeTheFacets) {
  ms::SearchRequest request;
  request.query = "treatment";
  request.limit = 100;
  request.per_record = 0;
  request.facets = true;
  request.drugs = {"Riluzole"};  // matched lowercased
  ms::SearchResponse r = search(request);
  ASSERT_FALSE(r.hits.empty());
  for (const auto& hit : r.hits) {
    std::set<std::string> drugs;
    for (const auto& d : hit.stored.drugs) drugs.insert(lower(d));
    EXPECT_TRUE(drugs.count("riluzole")) << hit.stored.passage.id;
  }
  ASSERT_FALSE(r.facets->drug.empty());
  EXPECT_EQ(r.facets->drug.front().value, "riluzole");
  EXPECT_EQ(r.facets->drug.front().count, sum(r.facets->source)) << "every matching record lists riluzole";

  request.drugs = {};
  request.query = "riluzole";
  request.sections = {"adverse_reactions", "warnings_and_cautions"};
  request.evidence_levels = {};
  r = search(request);
  ASSERT_FALSE(r.hits.empty());
  for (const auto& hit : r.hits)
    EXPECT_TRUE(hit.stored.passage.section == "adverse_reactions" || hit.stored.passage.section == "warnings_and_cautions")
        << hit.stored.passage.id;
  for (const auto& s : r.facets->section) EXPECT_TRUE(s.value == "adverse_reactions" || s.value == "warnings_and_cautions");

  request.sections = {};
  request.evidence_levels = {"randomized_controlled_trial"};
  r = search(request);
  ASSERT_FALSE(r.hits.empty());
  for (const auto& hit : r.hits) EXPECT_EQ(hit.stored.evidence_level, "randomized_controlled_trial");
  ASSERT_EQ(r.facets->evidence_level.size(), 1u);
  EXPECT_EQ(r.facets->source.size(), 1u);
  EXPECT_EQ(r.facets->source.front().value, "research");
}

TEST_P(ApiTest, BadFilterValuesAreRefusedNamingTheParameter) {
  ms::SearchRequest request;
  request.query = "riluzole";
  request.sections = {"Adverse Reactions"};
  EXPECT_EQ(ms::validate(request).error().param, "section");
  request.sections = {};
  request.evidence_levels = {"rct"};
  EXPECT_EQ(ms::validate(request).error().param, "evidence");
  request.evidence_levels = {};
  request.drugs = {""};
  EXPECT_EQ(ms::validate(request).error().param, "drug");
}

struct SpellingRow {
  std::string query;
  std::string expected;  // empty: no suggestion
};

TEST_P(ApiTest, SpellingSuggestsCorrectedDrugAndDiseaseNames) {
  const SpellingRow rows[] = {
      {"amyotrophic lateral sclerossis", "amyotrophic lateral sclerosis"},
      {"riluzle dose", "riluzole dose"},
      {"rilutekk", "rilutek"},
      {"hypertenshun treatment", "hypertension treatment"},
      {"metforminn", "metformin"},
      {"parkinsons diseese", "parkinsons disease"},
      // Correct words, words that match passages, short words and syntax are left alone.
      {"rilutek", ""},
      {"What are the treatment options for ALS?", ""},
      {"riluzole AND edaravone", ""},
      {"aminotransferases", ""},
  };
  for (const auto& row : rows) {
    ms::SearchRequest request;
    request.query = row.query;
    ms::SearchResponse r = search(request);
    if (row.expected.empty()) {
      EXPECT_FALSE(r.spelling) << row.query << " -> " << r.spelling.value_or("");
    } else {
      ASSERT_TRUE(r.spelling) << row.query;
      EXPECT_EQ(*r.spelling, row.expected) << row.query;
    }
  }
}

TEST_P(ApiTest, SuggestCompletesDrugAndConditionNames) {
  auto ril = searcher_->suggest("ril", 8);
  ASSERT_TRUE(ril.ok()) << ril.error().message;
  ASSERT_FALSE(ril->suggestions.empty());
  EXPECT_EQ(ril->suggestions.front().text, "riluzole");
  EXPECT_EQ(ril->suggestions.front().kind, "drug");
  for (const auto& s : ril->suggestions) EXPECT_EQ(s.text.rfind("ril", 0), 0u) << s.text;
  for (std::size_t i = 1; i < ril->suggestions.size(); ++i)
    EXPECT_GE(ril->suggestions[i - 1].count, ril->suggestions[i].count);

  auto upper = searcher_->suggest("AMYOTROPHIC", 8);
  ASSERT_TRUE(upper.ok());
  ASSERT_FALSE(upper->suggestions.empty());
  EXPECT_EQ(upper->suggestions.front().text, "amyotrophic lateral sclerosis");
  EXPECT_EQ(upper->suggestions.front().kind, "condition");
  EXPECT_GT(upper->suggestions.front().count, 0u);

  auto one = searcher_->suggest("m", 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->suggestions.size(), 1u);
  EXPECT_TRUE(searcher_->suggest("zzzzqx", 8)->suggestions.empty());
  EXPECT_EQ(searcher_->suggest("", 8).error().param, "prefix");
  EXPECT_EQ(searcher_->suggest("ril", 0).error().param, "limit");
  EXPECT_EQ(searcher_->suggest("ril", 51).error().param, "limit");
}

TEST_P(ApiTest, SectionIntentLiftsTheAskedForSection) {
  struct Row {
    std::string query;
    std::string section;
  };
  const Row rows[] = {{"riluzole dose", "dosage_and_administration"},
                      {"riluzole side effects", "adverse_reactions"},
                      {"is riluzole contraindicated", "contraindications"},
                      {"riluzole drug interactions", "drug_interactions"},
                      {"how does riluzole work", "mechanism_of_action"}};
  for (const auto& row : rows) {
    ms::SearchRequest request;
    request.query = row.query;
    request.sources = {mc::Source::fda_label};
    request.per_record = 0;
    ms::SearchResponse r = search(request);
    ASSERT_FALSE(r.hits.empty()) << row.query;
    EXPECT_EQ(r.hits[0].stored.passage.record_id, "als-riluzole-label") << row.query;
    EXPECT_EQ(r.hits[0].stored.passage.section, row.section) << row.query;
    ASSERT_FALSE(r.intent.sections.empty());
    EXPECT_EQ(r.intent.sections.front().value, row.section);
  }
  // Off, the same words rank by BM25 alone and report no intent.
  ms::SearchRequest off;
  off.query = "riluzole dose";
  off.intent = false;
  EXPECT_TRUE(search(off).intent.empty());
}

// Issue 7: three shards over Xapian's remote backend answer as one database, whole responses
// alike: hits in order with scores to 1e-9, facets, spelling, intent, parsed query.
TEST_P(ApiTest, RemoteShardsAnswerAsOneDatabase) {
  if (GetParam() != 3) GTEST_SKIP() << "compares the remote shards with one database";
  auto one = ms::Searcher::open(dir_->str("one"));
  ASSERT_TRUE(one.ok());
  // Few questions: each costs hundreds of round trips over the remote backend (docs/SCALING.md).
  const std::vector<std::string> questions = {"What are the treatment options for ALS?", "rilutek side effects",
                                              "metformn lactic acidosis", "\"lactic acidosis\" NOT insulin"};
  for (const auto& q : questions) {
    for (int per_record : {0, 2}) {
      ms::SearchRequest request;
      request.query = q;
      request.limit = 30;
      request.per_record = per_record;
      request.facets = true;
      auto expected = (*one)->search(request);
      auto got = searcher_->search(request);
      ASSERT_TRUE(expected.ok() && got.ok()) << q;
      auto a = ms::to_json(*expected, ms::build_answer(*expected));
      auto b = ms::to_json(*got, ms::build_answer(*got));
      ASSERT_EQ(a["hits"].size(), b["hits"].size()) << q;
      for (std::size_t i = 0; i < a["hits"].size(); ++i) {
        EXPECT_EQ(a["hits"][i]["passage_id"], b["hits"][i]["passage_id"]) << q << " rank " << i + 1 << " per_record " << per_record;
        EXPECT_NEAR(a["hits"][i]["score"].get<double>(), b["hits"][i]["score"].get<double>(), 1e-9) << q;
        a["hits"][i].erase("score");
        b["hits"][i].erase("score");
      }
      a.erase("took_ms");
      b.erase("took_ms");
      EXPECT_EQ(a, b) << q << " per_record " << per_record;
    }
  }
}

TEST(Intent, DetectsSectionsAndEvidenceFromTheWords) {
  struct Row {
    std::string question;
    std::vector<std::string> sections;
    std::vector<std::string> evidence;
  };
  const Row rows[] = {
      {"What is the dose of riluzole?", {"dosage_and_administration", "dosage_forms_and_strengths"}, {}},
      {"How much metformin per day", {"dosage_and_administration", "dosage_forms_and_strengths"}, {}},
      {"what are its side effects?", {"adverse_reactions", "warnings_and_cautions"}, {}},
      {"Adverse events of edaravone", {"adverse_reactions", "warnings_and_cautions"}, {}},
      {"Is it contraindicated in liver disease", {"contraindications"}, {}},
      {"Does warfarin interact with aspirin", {"drug_interactions"}, {}},
      {"Can I take it while pregnant or breastfeeding", {"use_in_specific_populations", "pregnancy"}, {}},
      {"How does riluzole work?", {"mechanism_of_action", "clinical_pharmacology"}, {}},
      {"mechanism of action of metformin", {"mechanism_of_action", "clinical_pharmacology"}, {}},
      {"Does it have a boxed warning", {"warnings_and_cautions", "boxed_warning"}, {}},
      {"Guidelines for hypertension", {}, {"practice_guideline"}},
      {"randomised trials of riluzole", {}, {"randomized_controlled_trial", "clinical_trial"}},
      {"RCT evidence for statins", {}, {"randomized_controlled_trial", "clinical_trial"}},
      {"meta-analysis of SGLT2 inhibitors", {}, {"meta_analysis", "systematic_review"}},
      {"a systematic review of exercise", {}, {"systematic_review", "meta_analysis", "review"}},
      {"What are the treatment options for ALS?", {}, {}},
      {"contraindications", {"contraindications"}, {}},  // not "indications"
      {"How does it compare with placebo", {}, {}},       // "how does" without "work"
  };
  for (const auto& row : rows) {
    ms::Intent intent = ms::detect_intent(row.question);
    std::vector<std::string> sections, evidence;
    for (const auto& t : intent.sections) sections.push_back(t.value);
    for (const auto& t : intent.evidence_levels) evidence.push_back(t.value);
    EXPECT_EQ(sections, row.sections) << row.question;
    EXPECT_EQ(evidence, row.evidence) << row.question;
  }
}

ms::ContextResponse context(ms::Searcher& searcher, const ms::ContextRequest& request) {
  auto response = searcher.context(request);
  EXPECT_TRUE(response.ok()) << (response.ok() ? "" : response.error().message);
  return response.ok() ? *response : ms::ContextResponse{};
}

bool has_section(const ms::ContextResponse& r, const std::string& record, const std::string& section) {
  return std::any_of(r.passages.begin(), r.passages.end(), [&](const ms::ContextPassage& p) {
    return p.record_id == record && p.section == section;
  });
}

// The scenario: after the ALS question, "its side effects" and "the dose of riluzole"
// retrieve the riluzole label's adverse reactions and dosage sections.
TEST_P(ApiTest, ContextFollowUpsResolveAgainstTheHistory) {
  ms::ContextRequest first;
  first.question = "What are the treatment options for ALS?";
  ms::ContextResponse r1 = context(*searcher_, first);
  ASSERT_FALSE(r1.passages.empty());
  EXPECT_TRUE(r1.carried.empty());

  ms::ContextRequest side_effects;
  side_effects.question = "what are its side effects?";
  side_effects.history = {{first.question, ""}};
  ms::ContextResponse r2 = context(*searcher_, side_effects);
  EXPECT_NE(std::find(r2.carried.begin(), r2.carried.end(), "riluzole"), r2.carried.end()) << r2.resolved_query;
  EXPECT_NE(r2.resolved_query.find("amyotrophic lateral sclerosis"), std::string::npos) << r2.resolved_query;
  ASSERT_FALSE(r2.passages.empty());
  EXPECT_TRUE(has_section(r2, "als-riluzole-label", "adverse_reactions")) << r2.prompt_block;
  EXPECT_EQ(r2.passages[0].record_id, "als-riluzole-label");

  ms::ContextRequest dose;
  dose.question = "and the dose of riluzole?";
  dose.history = {{first.question, ""}, {side_effects.question, "Riluzole commonly causes asthenia and nausea."}};
  ms::ContextResponse r3 = context(*searcher_, dose);
  EXPECT_TRUE(r3.carried.empty()) << "a follow-up naming a drug focuses on it";
  ASSERT_FALSE(r3.passages.empty());
  EXPECT_EQ(r3.passages[0].record_id, "als-riluzole-label");
  EXPECT_EQ(r3.passages[0].section, "dosage_and_administration");

  // Without history the pronoun has nothing to point at: nothing is carried.
  ms::ContextRequest alone;
  alone.question = "what are its side effects?";
  EXPECT_TRUE(context(*searcher_, alone).carried.empty());
}

// Names as assistants write them: a possessive ("riluzole's", with the typographic apostrophe
// too), curly quotes, dashes and no-break spaces around a name, an emoji. Each once hid the
// name: "riluzole's side effects" after an epilepsy question carried epilepsy into the search,
// and an answer's "Edaravone’s benefit" made riluzole (its second drug) the topic.
TEST_P(ApiTest, ContextFindsNamesBesidePunctuationAndPossessives) {
  for (const char* question : {"riluzole's side effects", "riluzole\u2019s side effects", "\u201criluzole\u201d dose",
                               "riluzole\u00a0dose", "side effects of riluzole\u2026"}) {
    ms::ContextRequest request;
    request.question = question;
    request.history = {{"Which drugs treat epilepsy?", ""}};
    ms::ContextResponse r = context(*searcher_, request);
    EXPECT_TRUE(r.carried.empty()) << question << " -> " << r.resolved_query;
  }
  ms::ContextRequest answered;
  answered.question = "what are its side effects?";
  answered.history = {{"What are the treatment options for ALS?", "Edaravone\u2019s benefit is modest; riluzole is first line."}};
  EXPECT_EQ(context(*searcher_, answered).carried, std::vector<std::string>{"edaravone"});
  ms::ContextRequest quoted;
  quoted.question = "what are its side effects? \U0001F642";
  quoted.history = {{"Tell me about \u201criluzole\u201d\u2014the first drug", ""}};
  ms::ContextResponse r = context(*searcher_, quoted);
  EXPECT_EQ(r.carried, std::vector<std::string>{"riluzole"});
  EXPECT_EQ(r.resolved_query, "what are side effects riluzole");
  ms::ContextRequest condition;
  condition.question = "what are the first-line drugs?";
  condition.history = {{"Tell me about Parkinson\u2019s disease", ""}};
  EXPECT_EQ(context(*searcher_, condition).carried, std::vector<std::string>{"parkinson's disease"});
}

// "how does it compare with edaravone?" names a drug, but "it" (before the name) is the topic:
// it was searched as edaravone alone, and the assistant had nothing on riluzole to compare.
TEST_P(ApiTest, ContextPronounBeforeANamedDrugCarriesTheTopic) {
  ms::ContextRequest compare;
  compare.question = "how does it compare with edaravone?";
  compare.history = {{"What are the treatment options for ALS?", ""}};
  ms::ContextResponse r = context(*searcher_, compare);
  EXPECT_NE(std::find(r.carried.begin(), r.carried.end(), "riluzole"), r.carried.end()) << r.resolved_query;
  EXPECT_TRUE(std::any_of(r.passages.begin(), r.passages.end(), [](const ms::ContextPassage& p) { return p.record_id == "als-edaravone-label"; }));
  EXPECT_TRUE(std::any_of(r.passages.begin(), r.passages.end(), [](const ms::ContextPassage& p) { return p.record_id == "als-riluzole-label"; }));
  // After the name, the pronoun is the name's; "that" introducing a clause points nowhere.
  for (const char* question : {"is riluzole safe and what are its side effects?", "is there evidence that riluzole prolongs survival?"}) {
    ms::ContextRequest own;
    own.question = question;
    own.history = {{"Tell me about edaravone", ""}};
    EXPECT_TRUE(context(*searcher_, own).carried.empty()) << question;
  }
  // The topic's drug named again is not carried twice.
  ms::ContextRequest again;
  again.question = "how does it compare with riluzole?";
  again.history = {{"Tell me about riluzole in amyotrophic lateral sclerosis", ""}};
  EXPECT_EQ(context(*searcher_, again).carried, std::vector<std::string>{"amyotrophic lateral sclerosis"});
}

// An empty prompt block says why: nothing matched (a misspelt drug: with the suggestion), no
// passage fits the budget. It was empty with no word of why, and
// an assistant read it as "the literature says nothing".
TEST_P(ApiTest, ContextSaysWhyThePromptBlockIsEmpty) {
  auto said = [](const ms::ContextResponse& r, const std::string& words) {
    return std::any_of(r.warnings.begin(), r.warnings.end(), [&](const std::string& w) { return w.find(words) != std::string::npos; });
  };
  ms::ContextRequest misspelt;
  misspelt.question = "what are the side effects of rilozole?";
  ms::ContextResponse r = context(*searcher_, misspelt);
  EXPECT_TRUE(r.passages.empty());
  EXPECT_TRUE(said(r, "did you mean: what are the side effects of riluzole")) << testing::PrintToString(r.warnings);
  EXPECT_TRUE(said(r, "no passage matches the question")) << testing::PrintToString(r.warnings);
  ms::ContextRequest small;
  small.question = "What are the treatment options for ALS?";
  small.budget_tokens = ms::kMinBudgetTokens;
  r = context(*searcher_, small);
  EXPECT_TRUE(r.passages.empty());
  EXPECT_TRUE(said(r, "no passage fits budget_tokens 50 (the shortest needs ")) << testing::PrintToString(r.warnings);
  ms::ContextRequest fine;
  fine.question = "riluzole";
  EXPECT_TRUE(context(*searcher_, fine).warnings.empty());
  EXPECT_TRUE(ms::context_to_json(context(*searcher_, fine))["warnings"].is_array());
}

TEST_P(ApiTest, ContextFitsTheBudgetWithDiverseCitedPassages) {
  for (int budget : {60, 300, 1500, 4000}) {
    ms::ContextRequest request;
    request.question = "riluzole liver tests aminotransferases";
    request.budget_tokens = budget;
    ms::ContextResponse r = context(*searcher_, request);
    EXPECT_LE(r.used_tokens, budget);
    EXPECT_EQ(r.used_tokens, ms::estimate_tokens(r.prompt_block));
    std::map<std::string, int> per_record;
    std::set<int> refs;
    for (const auto& p : r.passages) {
      EXPECT_LE(++per_record[p.record_id], ms::kDefaultPassagesPerRecord) << p.record_id;
      // Built with append: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string here.
      std::string numbered = "[";
      numbered.append(std::to_string(p.ref)).append("] ").append(p.text);
      std::string source = "(Source: ";
      source.append(p.citation).append(")");
      EXPECT_NE(r.prompt_block.find(numbered), std::string::npos);
      EXPECT_NE(r.prompt_block.find(source), std::string::npos);
      refs.insert(p.ref);
    }
    EXPECT_EQ(refs.size(), r.references.size());
    for (std::size_t i = 0; i < r.references.size(); ++i) EXPECT_EQ(r.references[i].number, static_cast<int>(i) + 1);
    if (budget >= 300) {
      EXPECT_FALSE(r.passages.empty()) << budget;
    }
  }
  ms::ContextRequest big;
  big.question = "riluzole";
  big.budget_tokens = 16000;
  big.per_record = 1;
  ms::ContextResponse r = context(*searcher_, big);
  std::set<std::string> records;
  for (const auto& p : r.passages) EXPECT_TRUE(records.insert(p.record_id).second) << p.record_id;
}

TEST_P(ApiTest, ContextIsDeterministic) {
  ms::ContextRequest request;
  request.question = "what about pregnancy?";
  request.history = {{"Which drugs treat epilepsy?", ""}};
  nlohmann::json a = ms::context_to_json(context(*searcher_, request));
  nlohmann::json b = ms::context_to_json(context(*searcher_, request));
  a.erase("took_ms");
  b.erase("took_ms");
  EXPECT_EQ(a.dump(), b.dump());
}

// "Show more" asks for the same ranking with a larger limit: every passage already shown must
// keep its [n], and [n] must still name its record. Before numbering went block by block, the
// ALS question's label and research passages all moved (riluzole's label from [3] to [6]).
TEST_P(ApiTest, ReferenceNumbersStayWhenMoreResultsAreAsked) {
  for (const char* q : {"What are the treatment options for ALS?", "riluzole", "side effects of metformin",
                        "SGLT2 inhibitors in heart failure"}) {
    std::map<std::string, int> shown;  // passage id -> [n], from the shorter lists
    std::map<int, std::string> named;  // [n] -> record id
    for (int limit : {10, 20, 30}) {
      ms::SearchRequest request;
      request.query = q;
      request.limit = limit;
      const ms::SearchResponse r = search(request);
      const ms::Answer a = ms::build_answer(r);
      if (limit > 10) {
        ASSERT_GT(r.hits.size(), 10u) << q;  // a second block to number
      }
      for (std::size_t i = 0; i < r.hits.size(); ++i) {
        const auto& id = r.hits[i].stored.passage.id;
        const int ref = a.hit_refs[i];
        const auto& record = a.references[static_cast<std::size_t>(ref - 1)].record_id;
        EXPECT_EQ(record, r.hits[i].stored.passage.record_id) << q << " " << id;
        if (auto it = shown.find(id); it != shown.end()) {
          EXPECT_EQ(ref, it->second) << q << " limit " << limit << " " << id;
        }
        if (auto it = named.find(ref); it != named.end()) {
          EXPECT_EQ(record, it->second) << q << " [" << ref << "]";
        }
        shown.emplace(id, ref);
        named.emplace(ref, record);
      }
    }
  }
}

TEST(Context, ValidationNamesTheField) {
  ms::ContextRequest r;
  EXPECT_EQ(ms::validate(r).error().param, "question");
  r.question = "riluzole";
  r.budget_tokens = 10;
  EXPECT_EQ(ms::validate(r).error().param, "budget_tokens");
  r.budget_tokens = 1500;
  r.history.resize(ms::kMaxHistoryTurns + 1, {"q", ""});
  EXPECT_EQ(ms::validate(r).error().param, "history");
  r.history = {{"", ""}};
  EXPECT_EQ(ms::validate(r).error().param, "history");
  r.history = {};
  r.per_record = 0;
  EXPECT_EQ(ms::validate(r).error().param, "per_record");
}

TEST(Context, TokensAreBytesOverFourRoundedUp) {
  EXPECT_EQ(ms::estimate_tokens(""), 0);
  EXPECT_EQ(ms::estimate_tokens("abcd"), 1);
  EXPECT_EQ(ms::estimate_tokens("abcde"), 2);
}

INSTANTIATE_TEST_SUITE_P(OneDatabaseTwoShardsThreeRemote, ApiTest, ::testing::Values(1, 2, 3),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return p.param == 1 ? std::string("one") : p.param == 2 ? std::string("two_shards")
                                                                                   : std::string("three_remote_shards");
                         });

}  // namespace
