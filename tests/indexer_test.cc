// indexer/: counts that add up, rejects with locations, idempotent re-indexing, deletes.
#include "indexer/indexer.h"
#include "indexer/pipeline.h"

#include <gtest/gtest.h>

#include <fstream>

#include "corpus/schema.h"
#include "corpus/spelling.h"
#include "tests/test_util.h"

namespace mi = medsearch::indexer;
namespace mc = medsearch::corpus;
namespace schema = medsearch::corpus::schema;
using medsearch::test::TempDir;
using medsearch::test::fixture;
using medsearch::test::load_records;

namespace {

std::vector<std::string> passage_ids(const Xapian::Database& db) {
  std::vector<std::string> ids;
  const std::string prefix(schema::kPrefixPassageId);
  for (auto t = db.allterms_begin(prefix); t != db.allterms_end(prefix); ++t) ids.push_back((*t).substr(prefix.size()));
  return ids;
}

}  // namespace

TEST(Indexer, IndexesPassagesWithTermsAndValues) {
  mi::Indexer indexer(Xapian::WritableDatabase(std::string(), Xapian::DB_BACKEND_INMEMORY));
  for (const auto& r : load_records(fixture("golden.jsonl"))) ASSERT_TRUE(indexer.add(r).ok());
  ASSERT_TRUE(indexer.commit().ok());
  Xapian::Database& db = indexer.database();
  EXPECT_EQ(db.get_doccount(), 14u);  // 2 + 3 + 1 + 1 + 2 + 1 + 1 + 1 + 1 + 1 passages
  EXPECT_EQ(db.get_termfreq("XSfda_label"), 5u);
  EXPECT_EQ(db.get_termfreq("XRl-riluzole"), 3u);
  EXPECT_EQ(db.get_termfreq("XKdosage_and_administration"), 1u);
  EXPECT_EQ(db.get_termfreq("XDriluzole"), 6u);
  EXPECT_EQ(db.get_termfreq("XDrilutek"), 3u);  // drug names are lowercased
  EXPECT_EQ(db.get_termfreq("Y2024"), 3u);
  EXPECT_EQ(db.get_termfreq("XEpractice_guideline"), 4u);
  // Title words are searchable in the S field and in the body.
  EXPECT_GT(db.get_termfreq("ZScontrol"), 0u);
  EXPECT_EQ(db.get_metadata(std::string(schema::kMetaSchemaVersion)), std::to_string(schema::kVersion));
  // The stored data decodes into the passage with its citation.
  auto post = db.postlist_begin("Ql-riluzole:p1");
  ASSERT_NE(post, db.postlist_end("Ql-riluzole:p1"));
  auto stored = schema::decode_document_data(schema::stored_document_data(db.get_document(*post)));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->passage.heading, "Dosage and Administration");
  EXPECT_EQ(stored->citation.organisation, "Golden Test Agency");
  EXPECT_EQ(db.get_document(*post).get_value(schema::kSlotRecordId), "l-riluzole");
}

TEST(Indexer, ReindexingIsIdempotentAndShrinkingRecordsLeaveNothingBehind) {
  mi::Indexer indexer(Xapian::WritableDatabase(std::string(), Xapian::DB_BACKEND_INMEMORY));
  auto records = load_records(fixture("golden.jsonl"));
  for (const auto& r : records) ASSERT_TRUE(indexer.add(r).ok());
  ASSERT_TRUE(indexer.commit().ok());
  const auto before = passage_ids(indexer.database());
  for (const auto& r : records) ASSERT_TRUE(indexer.add(r).ok());
  ASSERT_TRUE(indexer.commit().ok());
  EXPECT_EQ(passage_ids(indexer.database()), before);
  EXPECT_EQ(indexer.database().get_doccount(), before.size());

  // The label loses two sections: its old passages p1 and p2 must go.
  mc::Record label = records[1];
  label.sections.resize(1);
  auto added = indexer.add(label);
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added.value(), 1u);
  ASSERT_TRUE(indexer.commit().ok());
  EXPECT_EQ(indexer.database().get_termfreq("XRl-riluzole"), 1u);
  EXPECT_EQ(indexer.database().get_termfreq("Ql-riluzole:p2"), 0u);
}

TEST(Indexer, DeleteRemovesEveryPassage) {
  mi::Indexer indexer(Xapian::WritableDatabase(std::string(), Xapian::DB_BACKEND_INMEMORY));
  for (const auto& r : load_records(fixture("golden.jsonl"))) ASSERT_TRUE(indexer.add(r).ok());
  auto removed = indexer.remove("l-riluzole");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed.value(), 3u);
  ASSERT_TRUE(indexer.commit().ok());
  EXPECT_EQ(indexer.database().get_termfreq("XRl-riluzole"), 0u);
  EXPECT_EQ(indexer.database().get_doccount(), 11u);
  auto again = indexer.remove("l-riluzole");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, mc::ErrorCode::not_found);
}

TEST(Indexer, RejectsInvalidRecords) {
  mi::Indexer indexer(Xapian::WritableDatabase(std::string(), Xapian::DB_BACKEND_INMEMORY));
  mc::Record r;
  r.id = "bad\xFFid";
  r.title = "t";
  r.sections.push_back({"", "", "text"});
  auto added = indexer.add(r);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().param, "id");
  r.id = "ok";
  r.sections[0].text = "caf\xC3";
  added = indexer.add(r);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().param, "sections[0].text");
  EXPECT_EQ(indexer.database().get_doccount(), 0u);
}

// Xapian checks the length of spelling and synonym keys only at commit, where one record's
// over-long word failed the whole commit (and every record since the last one with it).
TEST(Indexer, OverlongWordsDoNotFailTheCommit) {
  TempDir dir;
  auto indexer = mi::Indexer::open(dir.str("db"));
  ASSERT_TRUE(indexer.ok());
  const std::string word(300, 'a');
  std::string multiword_brand;
  for (int i = 0; i < 40; ++i) multiword_brand += "Longbrand ";
  mc::Record r;
  r.id = "long-words";
  r.source = mc::Source::fda_label;
  r.title = "Title with " + word;
  r.sections.push_back({"Heading " + word, "", "Aspirin text."});
  r.drugs = {"Brand" + word, multiword_brand, "generic" + word, "aspirin"};
  r.conditions = {"condition " + word};
  auto added = (*indexer)->add(r);
  ASSERT_TRUE(added.ok()) << added.error().message;
  const auto committed = (*indexer)->commit();
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  Xapian::Database reader(dir.str("db"));
  EXPECT_EQ(reader.get_termfreq("XRlong-words"), 1u);
  for (auto w = reader.spellings_begin(); w != reader.spellings_end(); ++w) EXPECT_LE((*w).size(), 64u) << *w;
  EXPECT_TRUE(mc::is_spelling_word(std::string(64, 'a')));
  EXPECT_FALSE(mc::is_spelling_word(word));
}

TEST(IndexFiles, CountsAddUpAndRejectsNameFileAndLine) {
  TempDir dir;
  const std::string input = dir.str("mixed.jsonl");
  {
    std::ofstream f(input);
    f << R"({"id":"a","source":"research","title":"Alpha","text":"Aspirin for fever."})" << "\n"
      << R"({"id":"b","source":"blog","title":"Beta","text":"No."})" << "\n"
      << "\n"
      << R"({"id":"c","source":"research","title":"Gamma",)" << "\n"
      << R"({"id":"d","source":"guideline","title":"Delta","text":"Ibuprofen for pain."})" << "\n"
      << "{\"id\":\"e\",\"source\":\"research\",\"title\":\"\xFF\",\"text\":\"x\"}" << "\n";
  }
  auto indexer = mi::Indexer::open(dir.str("db"));
  ASSERT_TRUE(indexer.ok());
  std::vector<std::string> reports;
  mi::BulkOptions options;
  options.on_reject = [&](const std::string& line) { reports.push_back(line); };
  auto run = mi::index_files(std::vector<mi::Indexer*>{indexer->get()}, {input, dir.str("missing.jsonl")},
                             mc::Format::automatic, options);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->counts.read, 5u);
  EXPECT_EQ(run->counts.indexed, 2u);
  EXPECT_EQ(run->counts.rejected, 3u);
  EXPECT_EQ(run->counts.read, run->counts.indexed + run->counts.rejected);
  ASSERT_EQ(run->inputs.size(), 2u);
  EXPECT_EQ(run->inputs[0].read, 5u);
  EXPECT_TRUE(run->inputs[0].error.empty());
  EXPECT_FALSE(run->inputs[1].error.empty());
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_EQ(reports[0].rfind(input + ":2: ", 0), 0u) << reports[0];
  EXPECT_NE(reports[0].find("unknown source 'blog'"), std::string::npos) << reports[0];
  EXPECT_EQ(reports[1].rfind(input + ":4: invalid JSON", 0), 0u) << reports[1];
  EXPECT_EQ(reports[2].rfind(input + ":6: invalid UTF-8", 0), 0u) << reports[2];
  EXPECT_NE(reports[3].find("missing.jsonl: cannot open"), std::string::npos) << reports[3];
  // What was indexed is committed and readable by a new reader.
  Xapian::Database reader(dir.str("db"));
  EXPECT_EQ(reader.get_doccount(), 2u);
}

TEST(IndexerOpen, RefusesSecondWriterAndForeignIndex) {
  TempDir dir;
  auto first = mi::Indexer::open(dir.str("db"));
  ASSERT_TRUE(first.ok());
  auto second = mi::Indexer::open(dir.str("db"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, mc::ErrorCode::unavailable);
  EXPECT_NE(second.error().message.find("locked"), std::string::npos) << second.error().message;

  first->reset();

  // A lock file that cannot be opened (here a folder in its place; in practice a read-only
  // folder) is not another writer: it was reported as "locked by another writer".
  std::filesystem::create_directory(dir.str("db") + "/flintlock-dir");
  std::filesystem::remove(dir.str("db") + "/flintlock");
  std::filesystem::rename(dir.str("db") + "/flintlock-dir", dir.str("db") + "/flintlock");
  auto unlockable = mi::Indexer::open(dir.str("db"));
  ASSERT_FALSE(unlockable.ok());
  EXPECT_EQ(unlockable.error().code, mc::ErrorCode::unavailable);
  EXPECT_EQ(unlockable.error().message.find("another writer"), std::string::npos) << unlockable.error().message;
  EXPECT_NE(unlockable.error().message.find("cannot lock the index for writing"), std::string::npos)
      << unlockable.error().message;

  {
    Xapian::WritableDatabase foreign(dir.str("foreign"), Xapian::DB_CREATE_OR_OPEN);
    Xapian::Document doc;
    doc.add_term("hello");
    foreign.add_document(doc);
    foreign.commit();
  }
  auto other = mi::Indexer::open(dir.str("foreign"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, mc::ErrorCode::corrupt);
}
