// The vocabulary through the whole chain: index a few records on disk (the in-memory backend
// has no synonym table), then search by other names of the concepts they mention.
#include <gtest/gtest.h>

#include <set>

#include "corpus/schema.h"
#include "corpus/vocabulary.h"
#include "indexer/indexer.h"
#include "searcher/searcher.h"
#include "tests/test_util.h"

namespace ms = medsearch::searcher;
namespace mi = medsearch::indexer;
namespace mc = medsearch::corpus;

namespace {

mc::Record research(const std::string& id, const std::string& title, const std::string& text) {
  mc::Record r;
  r.id = id;
  r.source = mc::Source::research;
  r.title = title;
  r.sections.push_back({"", "", text});
  return r;
}

class VocabularySearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = dir_.str("db");
    {
      auto indexer = mi::Indexer::open(path);
      ASSERT_TRUE(indexer.ok()) << indexer.error().message;
      const mc::Record records[] = {
          research("full-name", "Survival in a cohort", "Riluzole prolonged survival in amyotrophic lateral sclerosis."),
          research("spanish", "Resumen", "Los pacientes con als y sus familias."),
          research("mi-words", "Outcomes", "Aspirin after myocardial infarction reduced events."),
          research("mi-caps", "Registry", "Patients admitted with an MI were followed for a year."),
          research("mi-lay", "Survey", "Knowledge of heart attack warning signs was poor."),
          research("ms-caps", "Imaging", "Relapses in MS were counted on imaging."),
          research("beta", "Drugs", "A beta blocker lowered the heart rate."),
          research("covid", "Pandemic", "Outcomes of covid 19 in care homes."),
          research("covid-long", "Care homes", "Coronavirus disease 2019 spread through care homes."),
          research("beta-long", "Rate control", "A beta-adrenergic antagonist slowed the ventricular rate."),
          research("follow", "Cohort", "Follow up lasted a year."),
      };
      for (const auto& r : records) ASSERT_TRUE((*indexer)->add(r).ok()) << r.id;
      mc::Record label;
      label.id = "exservan-label";
      label.source = mc::Source::fda_label;
      label.title = "EXSERVAN (riluzole) oral film";
      label.sections.push_back({"Indications and Usage", "indications_and_usage", "EXSERVAN is indicated for ALS."});
      label.drugs = {"riluzole", "Exservan"};
      ASSERT_TRUE((*indexer)->add(label).ok());
      ASSERT_TRUE((*indexer)->commit().ok());
    }
    auto searcher = ms::Searcher::open(path);
    ASSERT_TRUE(searcher.ok()) << searcher.error().message;
    searcher_ = std::move(searcher.value());
  }

  std::set<std::string> found(const std::string& q) {
    ms::SearchRequest r;
    r.query = q;
    r.limit = 50;
    r.rerank = false;  // what the words match; feedback could widen a plain question
    auto response = searcher_->search(r);
    EXPECT_TRUE(response.ok()) << q;
    std::set<std::string> ids;
    if (!response.ok()) return ids;
    parsed_ = response->parsed_query;
    for (const auto& h : response->hits) ids.insert(h.stored.passage.record_id);
    return ids;
  }

  medsearch::test::TempDir dir_;
  std::unique_ptr<ms::Searcher> searcher_;
  std::string parsed_;
};

}  // namespace

using Ids = std::set<std::string>;

// The example: a lay name finds a passage that only has the full name.
TEST_F(VocabularySearchTest, LouGehrigsDiseaseFindsAmyotrophicLateralSclerosis) {
  EXPECT_TRUE(found("Lou Gehrig's disease").count("full-name")) << parsed_;
  EXPECT_NE(parsed_.find("XYals"), std::string::npos) << parsed_;
  EXPECT_TRUE(found("ALS").count("full-name")) << parsed_;
}

// "als" in running Spanish text is not the disease: the passage is not tagged.
TEST_F(VocabularySearchTest, LowercaseAlsInRunningTextIsNotTagged) {
  EXPECT_EQ(found("amyotrophic lateral sclerosis").count("spanish"), 0u) << parsed_;
  Xapian::Database db(dir_.str("db"));
  EXPECT_EQ(db.get_termfreq("XYals"), 2u);  // full-name and the label ("ALS" in capitals)
}

// Ambiguous abbreviations are not expanded through the synonym table.
TEST_F(VocabularySearchTest, AmbiguousMsIsNotExpanded) {
  EXPECT_EQ(found("MS"), (Ids{"ms-caps"}));
  EXPECT_EQ(parsed_.find("SYNONYM"), std::string::npos) << parsed_;
  EXPECT_EQ(found("multiple sclerosis").count("ms-caps"), 0u) << parsed_;
}

TEST_F(VocabularySearchTest, MyocardialInfarctionMiAndHeartAttackFindEachOther) {
  const Ids all{"mi-words", "mi-caps", "mi-lay"};
  for (const char* q : {"myocardial infarction", "MI", "heart attack"}) {
    const Ids ids = found(q);
    for (const auto& id : all) EXPECT_TRUE(ids.count(id)) << q << " misses " << id << ": " << parsed_;
  }
}

TEST_F(VocabularySearchTest, SpellingsOfOneName) {
  EXPECT_TRUE(found("\u03B2-blocker").count("beta")) << parsed_;
  // Multi-word names expand when typed as words; Xapian's parser makes hyphenated words a
  // phrase and looks up no synonyms for phrases ("beta-adrenergic blocking agent" does not).
  EXPECT_TRUE(found("beta adrenergic blocking agent").count("beta")) << parsed_;
  EXPECT_TRUE(found("COVID-19").count("covid")) << parsed_;
  EXPECT_TRUE(found("coronavirus disease 2019").count("covid")) << parsed_;
}

// A hyphenated word that is a multi-word name of a concept finds the concept, as the spaced
// form does ("COVID-19" = "covid 19"), while its own words still match only as a phrase.
TEST_F(VocabularySearchTest, HyphenatedNamesFindTheirConcept) {
  for (const char* q : {"COVID-19", "covid-19 care homes"}) {
    const Ids ids = found(q);
    EXPECT_TRUE(ids.count("covid-long")) << q << ": " << parsed_;
    EXPECT_TRUE(ids.count("covid")) << q << ": " << parsed_;
    EXPECT_NE(parsed_.find("XYcovid19"), std::string::npos) << parsed_;
    EXPECT_NE(parsed_.find("PHRASE"), std::string::npos) << parsed_;
  }
  EXPECT_TRUE(found("beta-blocker").count("beta-long")) << parsed_;
  // A hyphenated word that names no concept stays a phrase, no synonyms; as "up" is a stop
  // word, ORed with "follow" (with_phrases_over_unindexed_words), which "followed" matches too.
  EXPECT_EQ(found("follow-up"), (Ids{"follow", "mi-caps"}));
  EXPECT_EQ(parsed_.find("SYNONYM"), std::string::npos) << parsed_;
  EXPECT_NE(parsed_.find("PHRASE"), std::string::npos) << parsed_;
  // A phrase the user quoted is searched exactly as written.
  EXPECT_EQ(found("\"covid 19\"").count("covid-long"), 0u) << parsed_;
}

// A brand the vocabulary lacks, learned from a label, reaches the drug's concept.
TEST_F(VocabularySearchTest, LabelBrandJoinsTheDrugConcept) {
  Xapian::Database db(dir_.str("db"));
  bool linked = false;
  for (auto t = db.synonyms_begin("Zexservan"); t != db.synonyms_end("Zexservan"); ++t) linked |= *t == "XYriluzole";
  EXPECT_TRUE(linked);
  EXPECT_EQ(db.get_metadata(std::string(mc::schema::kMetaVocabulary)), std::to_string(mc::builtin_vocabulary().hash()));
  EXPECT_TRUE(found("Exservan").count("full-name")) << parsed_;
}

// Reopening for writing does not rewrite the table; a changed vocabulary replaces its entries.
TEST_F(VocabularySearchTest, SynonymsWrittenOncePerVocabulary) {
  const std::string path = dir_.str("db");
  searcher_.reset();
  {
    Xapian::WritableDatabase db(path, Xapian::DB_OPEN);
    db.set_metadata(std::string(mc::schema::kMetaVocabulary), "stale");
    db.add_synonym("Zobsolete", "XYgone");
    db.commit();
  }
  {
    auto indexer = mi::Indexer::open(path);
    ASSERT_TRUE(indexer.ok());
    ASSERT_TRUE((*indexer)->commit().ok());
  }
  Xapian::Database db(path);
  EXPECT_EQ(db.synonyms_begin("Zobsolete"), db.synonyms_end("Zobsolete"));
  EXPECT_NE(db.synonyms_begin("lou gehrig's disease"), db.synonyms_end("lou gehrig's disease"));
  EXPECT_EQ(db.get_metadata(std::string(mc::schema::kMetaVocabulary)), std::to_string(mc::builtin_vocabulary().hash()));
}

// Stop words between spaces are not indexed (corpus::unindexed_words); they still count in a
// passage's length (its id term's wdf), and phrases over them still match: "follow-up" finds
// "Follow up" (the exact form first), a quoted "quality of life" its words in order.
TEST(StopWordsLeftOut, LengthsKeepEveryWordAndPhrasesStillMatch) {
  medsearch::test::TempDir dir;
  const std::string path = dir.str("db");
  {
    auto indexer = mi::Indexer::open(path);
    ASSERT_TRUE(indexer.ok()) << indexer.error().message;
    for (const auto& r : {research("follow-spaced", "Cohort", "Follow up lasted a year."),
                          research("follow-hyph", "Cohort", "Follow-up lasted a year."),
                          research("qol", "Outcomes", "Quality of life improved after treatment."),
                          research("qol-apart", "Outcomes", "Quality improved, and life went on."),
                          research("vit-a", "Nutrition", "Vitamin A deficiency causes night blindness."),
                          research("vit-d", "Nutrition", "Vitamin D and a diet rich in calcium.")})
      ASSERT_TRUE((*indexer)->add(r).ok()) << r.id;
    ASSERT_TRUE((*indexer)->commit().ok());
  }
  Xapian::Database db(path);
  EXPECT_EQ(db.get_termfreq("Zof"), 0u);
  EXPECT_EQ(db.get_termfreq("Zup"), 1u);  // joined by a hyphen: kept
  EXPECT_EQ(db.get_termfreq("Za"), 1u);   // "Vitamin A": capitals, kept; "a year", "a diet": not
  auto doc_of = [&db](const std::string& passage) { return *db.postlist_begin("Q" + passage); };
  auto id_wdf = [&db](Xapian::docid did) {
    for (auto t = db.termlist_begin(did); t != db.termlist_end(did); ++t)
      if ((*t)[0] == 'Q') return t.get_wdf();
    return Xapian::termcount{999};
  };
  const Xapian::docid spaced = doc_of("follow-spaced:p0"), hyph = doc_of("follow-hyph:p0");
  EXPECT_EQ(id_wdf(spaced), 2u);  // "up", "a"
  EXPECT_EQ(id_wdf(hyph), 1u);    // "a"
  // Both say five words under a one-word title (indexed twice: title field and body).
  EXPECT_EQ(db.get_doclength(spaced), db.get_doclength(hyph));
  EXPECT_EQ(db.get_doclength(spaced), 7u);

  auto searcher = ms::Searcher::open(path);
  ASSERT_TRUE(searcher.ok()) << searcher.error().message;
  auto ranked = [&](const std::string& q) {
    ms::SearchRequest r;
    r.query = q;
    r.limit = 10;
    r.rerank = false;
    auto response = (*searcher)->search(r);
    EXPECT_TRUE(response.ok()) << q;
    std::vector<std::string> ids;
    if (response.ok())
      for (const auto& h : response->hits) ids.push_back(h.stored.passage.record_id);
    return ids;
  };
  EXPECT_EQ(ranked("follow-up"), (std::vector<std::string>{"follow-hyph", "follow-spaced"}));
  EXPECT_EQ(ranked("\"quality of life\""), (std::vector<std::string>{"qol"}));
  EXPECT_EQ(ranked("\"vitamin A\""), (std::vector<std::string>{"vit-a"}));
}
