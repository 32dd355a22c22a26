// The semantic model (corpus/semantic.h, indexer/semantic.h) and its rerank feature: vectors
// that encode and compare as they should, a model that puts words of one topic together,
// every passage given its vector across shards, retraining when the index doubles, runs that
// resume after an interruption, and the feature the searcher computes from it.
#include "indexer/semantic.h"

#include <Eigen/Core>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>

#include "corpus/schema.h"
#include "corpus/semantic.h"
#include "searcher/rerank.h"
#include "searcher/searcher.h"
#include "tests/test_util.h"

namespace mi = medsearch::indexer;
namespace sem = medsearch::corpus::semantic;
namespace schema = medsearch::corpus::schema;
namespace rr = medsearch::searcher::rerank;
using medsearch::test::TempDir;

namespace {

// Two topics that share no words but the filler: a passage about one names a few of its
// topic's words, so words of a topic co-occur and words of different topics never do.
const std::vector<std::string> kHeart = {"cardiac",  "myocardial", "infarction", "coronary", "angina",
                                         "troponin", "arrhythmia", "ventricle",  "atrial",   "stent"};
const std::vector<std::string> kKidney = {"renal",      "dialysis",   "nephropathy", "glomerular", "creatinine",
                                          "proteinuria", "nephrology", "albuminuria", "ureter",     "nephron"};
const std::vector<std::string> kFiller = {"patients", "study", "outcome", "treatment", "cohort", "trial", "risk"};

// Writes `count` records (ids from `first`) to a native JSONL file, alternating topics; the
// same arguments give the same file.
void write_records(const std::string& path, int first, int count) {
  std::mt19937 random(static_cast<unsigned>(first * 7919 + count));
  std::ofstream out(path);
  for (int i = first; i < first + count; ++i) {
    const auto& topic = i % 2 == 0 ? kHeart : kKidney;
    std::string text;
    for (int w = 0; w < 6; ++w) text += topic[random() % topic.size()] + " ";
    for (int w = 0; w < 3; ++w) text += kFiller[random() % kFiller.size()] + " ";
    out << R"({"id":"r)" << i << R"(","source":"research","title":"Report )" << i
        << R"(","sections":[{"text":")" << text << R"("}],"citation":{"journal":"Test Journal","year":2020}})" << "\n";
  }
}

mi::Layout index_records(const TempDir& dir, const std::string& file, std::uint32_t shards) {
  auto layout = mi::open_layout(dir.str("db"), shards);
  EXPECT_TRUE(layout.ok());
  mi::BulkOptions options;
  options.threads = 1;
  auto summary = mi::index_files(*layout, {file}, medsearch::corpus::Format::automatic, options);
  EXPECT_TRUE(summary.ok());
  return *layout;
}

mi::SemanticOptions small_model() {
  mi::SemanticOptions options;
  options.dims = 6;
  options.min_passages = 50;
  return options;
}

// Every passage's vector, by passage id.
std::map<std::string, std::string> vectors_of(const std::string& dir) {
  Xapian::Database db(dir);
  std::map<std::string, std::string> out;
  for (auto p = db.postlist_begin(""); p != db.postlist_end(""); ++p) {
    const Xapian::Document doc = db.get_document(*p);
    out[doc.get_value(schema::kSlotPassageId)] = doc.get_value(schema::kSlotSemantic);
  }
  return out;
}

}  // namespace

TEST(SemanticVectors, EncodeAndCompare) {
  const std::vector<float> v = {0.5f, -0.25f, 0.125f, 0.0f};
  std::vector<float> back;
  ASSERT_TRUE(sem::decode_term_vector(sem::encode_term_vector(v), back));
  ASSERT_EQ(back.size(), v.size());
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(back[i], v[i], 0.5 / 127);
  EXPECT_FALSE(sem::decode_term_vector("abc", back));  // shorter than its scale

  const std::string a = sem::encode_unit(v);
  const std::string minus = sem::encode_unit({-0.5f, 0.25f, -0.125f, 0.0f});
  const std::string across = sem::encode_unit({0.0f, 0.0f, 0.0f, 3.0f});
  EXPECT_NEAR(sem::cosine(a, a), 1.0, 1e-9);
  EXPECT_NEAR(sem::cosine(a, minus), -1.0, 1e-9);
  EXPECT_NEAR(sem::cosine(a, across), 0.0, 1e-9);
  EXPECT_NEAR(sem::cosine(a, sem::encode_unit({1.0f, 1.0f, 0.0f, 0.0f})), (0.5 - 0.25) / (std::sqrt(0.328125) * std::sqrt(2.0)),
              0.02);
  EXPECT_TRUE(sem::encode_unit({0.0f, 0.0f}).empty());
  EXPECT_EQ(sem::cosine(a, ""), 0.0);
  EXPECT_EQ(sem::cosine(a, sem::encode_unit({1.0f, 2.0f})), 0.0);  // other dimensions
}

TEST(SemanticVectors, ModelHeaderRoundTripsAndRejectsJunk) {
  sem::ModelInfo info;
  info.dims = 200;
  info.trained_on = 4000;
  info.passages = 4036;
  info.terms = 10725;
  info.seed = 1;
  info.complete = false;
  auto back = sem::ModelInfo::from_json(info.to_json());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->dims, 200u);
  EXPECT_EQ(back->trained_on, 4000u);
  EXPECT_EQ(back->passages, 4036u);
  EXPECT_EQ(back->terms, 10725u);
  EXPECT_FALSE(back->complete);
  EXPECT_FALSE(sem::ModelInfo::from_json("").has_value());
  EXPECT_FALSE(sem::ModelInfo::from_json("{\"dims\":0,\"trained_on\":1,\"passages\":1,\"terms\":1}").has_value());
  EXPECT_FALSE(sem::ModelInfo::from_json("{\"dims\":-3,\"trained_on\":1,\"passages\":1,\"terms\":1}").has_value());
  EXPECT_FALSE(sem::ModelInfo::from_json("[1,2]").has_value());
}

TEST(SemanticModel, PutsWordsOfOneTopicTogether) {
  TempDir dir;
  write_records(dir.str("a.jsonl"), 0, 200);
  const mi::Layout layout = index_records(dir, dir.str("a.jsonl"), 1);
  auto summary = mi::update_semantic(layout, small_model());
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->action, "trained");
  EXPECT_EQ(summary->vectors_written, 200u);
  EXPECT_EQ(summary->info.dims, 6u);

  Xapian::Database db(dir.str("db"));
  sem::Projector projector(db, 6);
  const std::string angina = projector.project({{"Zangina", 1.0}});
  const std::string dialysis = projector.project({{"Zdialysi", 1.0}});
  ASSERT_FALSE(angina.empty());
  ASSERT_FALSE(dialysis.empty());
  EXPECT_TRUE(projector.project({{"Zunknownword", 1.0}}).empty());
  // Passages of the heart topic that do not say "angina" are still near it; kidney ones are not.
  double heart_without = 0, kidney = 0;
  int heart_n = 0, kidney_n = 0;
  for (auto p = db.postlist_begin(""); p != db.postlist_end(""); ++p) {
    const Xapian::Document doc = db.get_document(*p);
    const std::string id = doc.get_value(schema::kSlotRecordId);
    const bool is_heart = std::stoi(id.substr(1)) % 2 == 0;
    auto t = doc.termlist_begin();
    t.skip_to("Zangina");
    const bool says_angina = t != doc.termlist_end() && *t == "Zangina";
    const double c = sem::cosine(angina, doc.get_value(schema::kSlotSemantic));
    if (is_heart && !says_angina) {
      heart_without += c;
      ++heart_n;
    } else if (!is_heart) {
      kidney += c;
      ++kidney_n;
    }
  }
  ASSERT_GT(heart_n, 0);
  ASSERT_GT(kidney_n, 0);
  EXPECT_GT(heart_without / heart_n, kidney / kidney_n + 0.2) << heart_without / heart_n << " " << kidney / kidney_n;
  EXPECT_LT(std::fabs(kidney / kidney_n), 0.05);  // the other topic: unrelated, on average
  EXPECT_LT(sem::cosine(angina, dialysis), 0.1);
}

TEST(SemanticModel, EveryShardHoldsOneModelAndRunsOnlyAddWhatIsMissing) {
  TempDir dir;
  write_records(dir.str("a.jsonl"), 0, 120);
  const mi::Layout layout = index_records(dir, dir.str("a.jsonl"), 2);
  ASSERT_EQ(layout.shard_paths.size(), 2u);
  auto first = mi::update_semantic(layout, small_model());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->action, "trained");
  EXPECT_EQ(first->vectors_written, 120u);
  const std::string header = Xapian::Database(layout.shard_paths[0]).get_metadata(std::string(schema::kMetaSemantic));
  EXPECT_EQ(Xapian::Database(layout.shard_paths[1]).get_metadata(std::string(schema::kMetaSemantic)), header);
  ASSERT_TRUE(sem::ModelInfo::from_json(header).has_value());
  EXPECT_TRUE(sem::ModelInfo::from_json(header)->complete);
  auto before = vectors_of(dir.str("db"));
  for (const auto& [id, v] : before) EXPECT_EQ(v.size(), 6u) << id;

  // Nothing new: nothing written.
  auto again = mi::update_semantic(layout, small_model());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->action, "updated");
  EXPECT_EQ(again->vectors_written, 0u);

  // Fewer new passages than the index held: folded into the model as it is.
  write_records(dir.str("b.jsonl"), 120, 60);
  index_records(dir, dir.str("b.jsonl"), 2);
  auto more = mi::update_semantic(layout, small_model());
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->action, "updated");
  EXPECT_EQ(more->vectors_written, 60u);
  auto after = vectors_of(dir.str("db"));
  EXPECT_EQ(after.size(), 180u);
  for (const auto& [id, v] : before) EXPECT_EQ(after[id], v) << id;  // the old ones untouched
  for (const auto& [id, v] : after) EXPECT_EQ(v.size(), 6u) << id;

  // Doubled since training: a new model.
  write_records(dir.str("c.jsonl"), 180, 60);
  index_records(dir, dir.str("c.jsonl"), 2);
  auto doubled = mi::update_semantic(layout, small_model());
  ASSERT_TRUE(doubled.ok());
  EXPECT_EQ(doubled->action, "retrained");
  EXPECT_EQ(doubled->info.passages, 240u);

  // Rebuilding the same passages with the same options gives the same vectors.
  const auto trained = vectors_of(dir.str("db"));
  auto rebuild = small_model();
  rebuild.mode = mi::SemanticOptions::Mode::rebuild;
  auto rebuilt = mi::update_semantic(layout, rebuild);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(rebuilt->action, "retrained");
  EXPECT_EQ(vectors_of(dir.str("db")), trained);
}

// The model is the index's, not the machine's: Eigen blocks its dense products by the cache
// sizes it reads from the CPU, and trained on a CPU with other caches the same passages gave
// other vectors (in the last bits, enough to move a rerank model fitted on them). Two
// machines' caches, as Eigen would have read them, must give the same model to the bit.
TEST(SemanticModel, IsTheSameWhateverCachesTheMachineHas) {
  TempDir dir;
  {
    // Large enough for Eigen's blocked products: 3,000 passages over a few hundred words.
    std::mt19937 random(7);
    const char* syllables[] = {"ba", "ke", "mi", "no", "ru", "sa", "te", "vi", "lo", "pe", "du", "ga"};
    std::vector<std::string> words;
    for (const char* a : syllables)
      for (const char* b : syllables)
        for (const char* c : {"x", "m", "l"}) words.push_back(std::string(a) + b + c);
    std::ofstream out(dir.str("a.jsonl"));
    for (int i = 0; i < 3000; ++i) {
      std::string text;
      const std::size_t topic = random() % 24;  // a passage draws most of its words near its topic's
      for (int w = 0; w < 30; ++w)
        text += words[(topic * 18 + (random() % 3 == 0 ? random() % words.size() : random() % 40)) % words.size()] + " ";
      out << R"({"id":"r)" << i << R"(","source":"research","title":"Report )" << i << R"(","sections":[{"text":")"
          << text << R"("}],"citation":{"journal":"Test Journal","year":2020}})" << "\n";
    }
  }
  index_records(dir, dir.str("a.jsonl"), 1);
  Xapian::Database db(dir.str("db"));
  mi::SemanticOptions options;
  options.dims = 64;
  options.min_passages = 50;
  Eigen::setCpuCacheSizes(16 * 1024, 256 * 1024, 4 * 1024 * 1024);
  auto small_caches = mi::train_semantic(db, options);
  Eigen::setCpuCacheSizes(48 * 1024, 2 * 1024 * 1024, 320 * 1024 * 1024);
  auto large_caches = mi::train_semantic(db, options);
  ASSERT_TRUE(small_caches.ok()) << small_caches.error().message;
  ASSERT_TRUE(large_caches.ok()) << large_caches.error().message;
  ASSERT_GT(small_caches->vectors.size(), 300u);
  std::size_t differ = 0;
  for (const auto& [term, v] : small_caches->vectors) {
    auto other = large_caches->vectors.find(term);
    ASSERT_NE(other, large_caches->vectors.end()) << term;
    if (other->second != v) ++differ;
  }
  EXPECT_EQ(differ, 0u) << "of " << small_caches->vectors.size() << " term vectors";
}

TEST(SemanticModel, SmallIndexGetsNoneAndOffDoesNothing) {
  TempDir dir;
  write_records(dir.str("a.jsonl"), 0, 30);
  const mi::Layout layout = index_records(dir, dir.str("a.jsonl"), 1);
  auto small = mi::update_semantic(layout, small_model());  // min_passages 50
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->action, "skipped");
  EXPECT_NE(small->reason.find("fewer than 50 passages"), std::string::npos) << small->reason;
  EXPECT_FALSE(sem::read_info(Xapian::Database(dir.str("db"))).has_value());

  auto off = small_model();
  off.mode = mi::SemanticOptions::Mode::off;
  auto none = mi::update_semantic(layout, off);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->action, "none");

  // Asked for explicitly, too few passages for the dimensions is an error, not a crash.
  auto rebuild = small_model();
  rebuild.mode = mi::SemanticOptions::Mode::rebuild;
  rebuild.dims = 64;
  auto refused = mi::update_semantic(layout, rebuild);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("needs more"), std::string::npos) << refused.error().message;
}

TEST(SemanticModel, AnInterruptedRunIsFinishedByTheNext) {
  TempDir dir;
  write_records(dir.str("a.jsonl"), 0, 100);
  const mi::Layout layout = index_records(dir, dir.str("a.jsonl"), 2);
  auto options = small_model();
  options.commit_every = 10;
  int asked = 0;
  options.stop_requested = [&asked] { return ++asked > 35; };
  auto stopped = mi::update_semantic(layout, options);
  ASSERT_TRUE(stopped.ok());
  EXPECT_TRUE(stopped->interrupted);
  EXPECT_EQ(stopped->vectors_written, 35u);
  auto header = sem::read_info(Xapian::Database(dir.str("db")));
  ASSERT_TRUE(header.has_value());
  EXPECT_FALSE(header->complete);

  // As if a kill had come between the two shards' commits of the model: the second shard
  // still holds another one.
  {
    Xapian::WritableDatabase second(layout.shard_paths[1], Xapian::DB_OPEN);
    sem::ModelInfo other = *header;
    other.seed = 99;
    other.complete = true;
    second.set_metadata(std::string(schema::kMetaSemantic), other.to_json());
    second.set_metadata(std::string(schema::kMetaSemanticTerm) + "Zangina", sem::encode_term_vector({1, 2, 3, 4, 5, 6}));
    second.commit();
  }

  options.stop_requested = nullptr;
  auto resumed = mi::update_semantic(layout, options);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->action, "updated");
  EXPECT_TRUE(sem::read_info(Xapian::Database(dir.str("db")))->complete);
  for (const std::string& key : {std::string(schema::kMetaSemantic), std::string(schema::kMetaSemanticTerm) + "Zangina"})
    EXPECT_EQ(Xapian::Database(layout.shard_paths[1]).get_metadata(key), Xapian::Database(layout.shard_paths[0]).get_metadata(key))
        << key;
  for (const auto& [id, v] : vectors_of(dir.str("db"))) EXPECT_EQ(v.size(), 6u) << id;
  // The same vectors as an uninterrupted run.
  TempDir other;
  write_records(other.str("a.jsonl"), 0, 100);
  const mi::Layout whole = index_records(other, other.str("a.jsonl"), 2);
  ASSERT_TRUE(mi::update_semantic(whole, small_model()).ok());
  EXPECT_EQ(vectors_of(other.str("db")), vectors_of(dir.str("db")));
}

TEST(SemanticFeature, RanksTheQuestionsTopicAboveTheOther) {
  TempDir dir;
  write_records(dir.str("a.jsonl"), 0, 200);
  const mi::Layout layout = index_records(dir, dir.str("a.jsonl"), 1);
  ASSERT_TRUE(mi::update_semantic(layout, small_model()).ok());
  Xapian::Database db(dir.str("db"));
  // "angina patients": every passage says "patients" or not; the feature tells the topics apart.
  const Xapian::Query query(Xapian::Query::OP_OR, Xapian::Query("Zangina"), Xapian::Query("Zpatient"));
  Xapian::Enquire enquire(db);
  enquire.set_query(query);
  const Xapian::MSet mset = enquire.get_mset(0, 100);
  ASSERT_GT(mset.size(), 20u);
  rr::FeatureExtractor extractor(db, query);
  const auto features = extractor.compute(mset, mset.size(), false, {}, {}, false);
  double heart = 0, kidney = 0;
  int heart_n = 0, kidney_n = 0;
  std::size_t i = 0;
  for (auto it = mset.begin(); it != mset.end(); ++it, ++i) {
    const bool is_heart = std::stoi(it.get_document().get_value(schema::kSlotRecordId).substr(1)) % 2 == 0;
    (is_heart ? heart : kidney) += features[i][rr::kSemantic];
    ++(is_heart ? heart_n : kidney_n);
  }
  ASSERT_GT(heart_n, 0);
  ASSERT_GT(kidney_n, 0);
  EXPECT_GT(heart / heart_n, kidney / kidney_n + 0.3);

  // Skipped when the model gives it no weight: 0 everywhere.
  extractor.skip_semantic(true);
  for (const auto& f : extractor.compute(mset, mset.size(), false, {}, {}, false)) EXPECT_EQ(f[rr::kSemantic], 0.0);
}

// The shipped model over an index with a semantic model, its lexical twin over one without
// (the trees of the first were not fitted for a feature that is 0 everywhere); a model the
// caller sets is used as it is.
TEST(SemanticFeature, SearcherChoosesTheModelByTheIndex) {
  TempDir dir;
  write_records(dir.str("a.jsonl"), 0, 120);
  const mi::Layout layout = index_records(dir, dir.str("a.jsonl"), 1);
  auto searcher = medsearch::searcher::Searcher::open(dir.str("db"));
  ASSERT_TRUE(searcher.ok());
  EXPECT_EQ(&(*searcher)->model(), &rr::Model::builtin_lexical());
  EXPECT_FALSE(rr::Model::builtin_lexical().uses(rr::kSemantic));
  EXPECT_TRUE(rr::Model::builtin().uses(rr::kSemantic));

  ASSERT_TRUE(mi::update_semantic(layout, small_model()).ok());
  ASSERT_TRUE((*searcher)->reopen().ok());
  EXPECT_EQ((*searcher)->model().description, rr::Model::builtin().description);
  EXPECT_TRUE((*searcher)->model().uses(rr::kSemantic));
  medsearch::searcher::SearchRequest request;
  request.query = "angina patients";
  auto response = (*searcher)->search(request);
  ASSERT_TRUE(response.ok());
  EXPECT_FALSE(response->hits.empty());

  (*searcher)->set_model(rr::Model::identity());
  EXPECT_EQ((*searcher)->model().description, rr::Model::identity().description);
}
