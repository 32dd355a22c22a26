// The PubMed readers (MEDLINE text and PubMed XML): the shared evidence-level, date and section
// rules as tables; the real MEDLINE sample in ../shared/data (plain and gzip); invented XML
// fixtures for structure, deletions and damage; both formats agreeing on one article; parsing
// from several threads; format detection.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "corpus/formats.h"
#include "corpus/pubmed_common.h"
#include "corpus/reader.h"
#include "tests/test_util.h"

namespace medsearch::corpus {
namespace {

using test::fixture;
using test::TempDir;

std::filesystem::path medline_sample() {
  return test::data_dir() / "pubmed-medline-sample" / "mesh-papers.medline.txt";
}

#define SKIP_WITHOUT_SAMPLE()                                                                       \
  if (!std::filesystem::exists(medline_sample()))                                                   \
  GTEST_SKIP() << "the MEDLINE sample is not in the shared data (" << medline_sample().string() \
               << "); see ../shared/data/pubmed-medline-sample/SOURCE.md"

// Everything one reader gives, in order.
struct ReadAll {
  std::vector<Record> records;
  std::vector<std::string> locations;  // of the records
  std::vector<ReadItem> rejects;
  std::vector<ReadItem> deletions;
};

ReadAll read_all(const std::filesystem::path& path, Format format) {
  ReadAll out;
  auto reader = open_reader(path.string(), format);
  EXPECT_TRUE(reader.ok()) << (reader.ok() ? "" : reader.error().message);
  if (!reader.ok()) return out;
  ReadItem item;
  while ((*reader)->next(item)) {
    if (item.record) {
      out.locations.push_back(item.location);
      out.records.push_back(std::move(*item.record));
    } else if (!item.deleted_ids.empty()) {
      out.deletions.push_back(std::move(item));
    } else {
      out.rejects.push_back(std::move(item));
    }
  }
  return out;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

void gzip_file(const std::filesystem::path& from, const std::string& to) {
  const std::string content = slurp(from);
  gzFile gz = gzopen(to.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, content.data(), static_cast<unsigned>(content.size())), static_cast<int>(content.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
}

// The 1-based number of the nth (0-based) line of a file that starts with `prefix`.
std::string line_of(const std::filesystem::path& path, const std::string& prefix, int nth = 0) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.rfind(prefix, 0) == 0 && nth-- == 0) return std::to_string(number);
  }
  return "?";
}

const Record* find_record(const ReadAll& all, const std::string& id) {
  for (const auto& r : all.records)
    if (r.id == id) return &r;
  return nullptr;
}

// ---- Shared rules ---------------------------------------------------------------------------

TEST(PubmedEvidence, GoldenTable) {
  struct Row {
    std::vector<std::string> types;
    std::string level;
  };
  const Row rows[] = {
      {{}, "other"},
      {{"Journal Article"}, "other"},
      {{"Practice Guideline"}, "practice_guideline"},
      {{"Journal Article", "Guideline"}, "practice_guideline"},
      {{"Consensus Development Conference, NIH"}, "practice_guideline"},
      {{"Review", "Meta-Analysis", "Practice Guideline"}, "practice_guideline"},
      {{"Meta-Analysis", "Systematic Review", "Review"}, "meta_analysis"},
      {{"Network Meta-Analysis"}, "meta_analysis"},
      {{"Systematic Review", "Review"}, "systematic_review"},
      {{"Clinical Trial, Phase III", "Randomized Controlled Trial", "Multicenter Study"}, "randomized_controlled_trial"},
      // A phase says nothing about randomisation.
      {{"Clinical Trial, Phase III"}, "clinical_trial"},
      {{"Clinical Trial, Phase I"}, "clinical_trial"},
      {{"Controlled Clinical Trial"}, "clinical_trial"},
      {{"Pragmatic Clinical Trial"}, "clinical_trial"},
      {{"Equivalence Trial"}, "clinical_trial"},
      {{"Adaptive Clinical Trial"}, "clinical_trial"},
      // Veterinary trials are not evidence for human care; they fall to whatever else is listed.
      {{"Randomized Controlled Trial, Veterinary"}, "other"},
      {{"Randomized Controlled Trial, Veterinary", "Review"}, "review"},
      {{"Clinical Trial, Veterinary"}, "other"},
      {{"Observational Study"}, "observational"},
      {{"Observational Study, Veterinary"}, "other"},
      {{"Twin Study"}, "observational"},
      // Broad or setting-only types say nothing of the design.
      {{"Comparative Study"}, "other"},
      {{"Multicenter Study"}, "other"},
      {{"Clinical Trial Protocol"}, "other"},
      {{"Case Reports", "Review"}, "case_report"},
      {{"Review"}, "review"},
      {{"Scoping Review"}, "review"},
      {{"review"}, "review"},  // case-insensitive
      {{"Letter", "Comment"}, "other"},
  };
  for (const auto& row : rows) {
    std::string joined;
    for (const auto& t : row.types) joined += "[" + t + "]";
    EXPECT_EQ(formats::evidence_level_for(row.types), row.level) << joined;
    EXPECT_NE(std::find(std::begin(kEvidenceLevels), std::end(kEvidenceLevels), row.level), std::end(kEvidenceLevels));
  }
  EXPECT_EQ(formats::source_for({"Journal Article", "Practice Guideline"}), Source::guideline);
  EXPECT_EQ(formats::source_for({"Guideline"}), Source::guideline);
  EXPECT_EQ(formats::source_for({"Consensus Development Conference"}), Source::research);
  EXPECT_EQ(formats::source_for({"Review"}), Source::research);
}

TEST(PubmedDates, Table) {
  struct Row {
    std::string text, expected;
  };
  const Row text_rows[] = {
      {"2017", "2017"},           {"2017 Apr", "2017-04"},       {"2017 Apr 17", "2017-04-17"},
      {"2017 Apr 7", "2017-04-07"}, {"2016 Jan-Feb", "2016"},   {"1998 Dec-1999 Jan", "1998"},
      {"2016 Apr 17-23", "2016-04"}, {"2015 Spring", "2015"},   {"2015 Fall-Winter", "2015"},
      {"1998-1999", "1998"},      {"Summer 2015", "2015"},      {"2019 Feb 30", "2019-02"},
      {"2020 Feb 29", "2020-02-29"}, {"1781 Jan", ""},          {"", ""},
      {"unknown", ""},
  };
  for (const auto& row : text_rows) EXPECT_EQ(formats::pubmed_text_date(row.text), row.expected) << row.text;
  EXPECT_EQ(formats::pubmed_date("2021", "Mar", "15"), "2021-03-15");
  EXPECT_EQ(formats::pubmed_date("2021", "03", "5"), "2021-03-05");
  EXPECT_EQ(formats::pubmed_date("2021", "September", ""), "2021-09");
  EXPECT_EQ(formats::pubmed_date("2021", "", "15"), "2021");
  EXPECT_EQ(formats::pubmed_date("21", "Mar", "15"), "");
}

TEST(PubmedCommon, MeshAndSectionKeys) {
  EXPECT_EQ(formats::mesh_descriptor("Prescription Drugs/*pharmacology"), "Prescription Drugs");
  EXPECT_EQ(formats::mesh_descriptor("*Drug Interactions"), "Drug Interactions");
  EXPECT_EQ(formats::mesh_descriptor("PubMed/*statistics & numerical data"), "PubMed");
  EXPECT_EQ(formats::mesh_descriptor("Humans"), "Humans");

  EXPECT_EQ(formats::abstract_section_key("BACKGROUND", "BACKGROUND"), "background");
  EXPECT_EQ(formats::abstract_section_key("PATIENTS AND METHODS", "METHODS"), "methods");
  EXPECT_EQ(formats::abstract_section_key("MATERIALS AND METHODS", ""), "methods");
  EXPECT_EQ(formats::abstract_section_key("CONCLUSION", ""), "conclusions");
  EXPECT_EQ(formats::abstract_section_key("TRIAL REGISTRATION", "UNASSIGNED"), "trial_registration");
  EXPECT_EQ(formats::abstract_section_key("MOTIVATION", ""), "motivation");
}

// ---- The real MEDLINE sample ----------------------------------------------------------------

TEST(MedlineSample, ReadsEveryRecord) {
  SKIP_WITHOUT_SAMPLE();
  const ReadAll all = read_all(medline_sample(), Format::medline);
  for (const auto& r : all.rejects) ADD_FAILURE() << r.location << ": " << r.error.message;
  EXPECT_EQ(all.records.size(), 284u);
  EXPECT_TRUE(all.rejects.empty());
  std::set<std::string> pmids;
  for (const auto& r : all.records) pmids.insert(r.citation.pmid);
  EXPECT_EQ(pmids.size(), 284u);
  // SOURCE.md: 86 records have no abstract; they keep their title as the text.
  const auto title_only = std::count_if(all.records.begin(), all.records.end(), [](const Record& r) {
    return r.sections.size() == 1 && r.sections[0].heading.empty() && r.sections[0].text == r.title;
  });
  EXPECT_EQ(title_only, 86);

  ASSERT_FALSE(all.records.empty());
  const Record& first = all.records.front();
  EXPECT_EQ(all.locations.front(), medline_sample().string() + ":2");  // the file opens with a blank line
  EXPECT_EQ(first.id, "pmid-28422961");
  EXPECT_EQ(first.source, Source::research);
  EXPECT_EQ(first.title.rfind("Characterization of the mechanism of drug-drug interactions from PubMed", 0), 0u);
  EXPECT_EQ(first.published, "2017");
  EXPECT_EQ(first.citation.year, 2017);
  EXPECT_EQ(first.citation.authors,
            (std::vector<std::string>{"Lu Y", "Figler B", "Huang H", "Tu YC", "Wang J", "Cheng F"}));
  EXPECT_EQ(first.citation.journal, "PLoS One");
  EXPECT_EQ(first.citation.volume, "12");
  EXPECT_EQ(first.citation.pages, "e0173548");
  EXPECT_EQ(first.citation.doi, "10.1371/journal.pone.0173548");
  EXPECT_EQ(first.citation.url, "https://pubmed.ncbi.nlm.nih.gov/28422961/");
  EXPECT_EQ(first.mesh_terms.size(), 8u);
  EXPECT_EQ(first.mesh_terms[2], "Drug Interactions");     // "*Drug Interactions"
  EXPECT_EQ(first.mesh_terms[5], "Prescription Drugs");    // "Prescription Drugs/*pharmacology"
  EXPECT_EQ(first.publication_types, std::vector<std::string>{"Journal Article"});
  EXPECT_EQ(first.evidence_level, "other");
  ASSERT_EQ(first.sections.size(), 1u);
  EXPECT_EQ(first.sections[0].heading, "");
  EXPECT_EQ(first.sections[0].text.rfind("Identifying drug-drug interaction (DDI) is an important topic", 0), 0u);
  // Continuation lines join with one space, trailing spaces dropped.
  EXPECT_NE(first.sections[0].text.find("thesaurus developed by the National Library"), std::string::npos);

  const Record* mesh_now = find_record(all, "pmid-28412964");
  ASSERT_NE(mesh_now, nullptr);
  EXPECT_EQ(mesh_now->published, "2017-04-17");
  EXPECT_EQ(mesh_now->citation.authors, (std::vector<std::string>{"Mao Y", "Lu Z"}));
  EXPECT_EQ(mesh_now->mesh_terms.size(), 6u);
  EXPECT_EQ(mesh_now->citation.doi, "10.1186/s13326-017-0123-3");
  ASSERT_EQ(mesh_now->sections.size(), 5u);
  const std::vector<std::string> headings = {"BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS", "AVAILABILITY"};
  const std::vector<std::string> keys = {"background", "methods", "results", "conclusions", "availability"};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(mesh_now->sections[i].heading, headings[i]);
    EXPECT_EQ(mesh_now->sections[i].key, keys[i]);
  }
  EXPECT_EQ(mesh_now->sections[0].text.rfind("MeSH indexing is the task", 0), 0u);
  EXPECT_EQ(mesh_now->sections[2].text.rfind("We assessed MeSH Now", 0), 0u);

  // A title-only editorial with a translated title: brackets kept, the title as the text.
  const Record* keywords = find_record(all, "pmid-26021099");
  ASSERT_NE(keywords, nullptr);
  EXPECT_EQ(keywords->title, "[Keywords, what are they for?].");
  EXPECT_EQ(keywords->published, "2014");  // "2014 Jul-Aug"
  EXPECT_EQ(keywords->citation.authors, std::vector<std::string>{"Villanueva-Lopez IS"});
  EXPECT_EQ(keywords->citation.journal, "Acta Ortop Mex");
  EXPECT_EQ(keywords->citation.doi, "");
  EXPECT_EQ(keywords->mesh_terms,
            (std::vector<std::string>{"Abstracting and Indexing as Topic", "Medical Subject Headings"}));
  ASSERT_EQ(keywords->sections.size(), 1u);
  EXPECT_EQ(keywords->sections[0].text, keywords->title);

  const auto count_level = [&](const std::string& level) {
    return std::count_if(all.records.begin(), all.records.end(),
                         [&](const Record& r) { return r.evidence_level == level; });
  };
  EXPECT_EQ(count_level("observational"), 1);
  EXPECT_EQ(count_level("case_report"), 1);
  EXPECT_GE(count_level("review"), 1);
}

TEST(MedlineSample, GzipGivesIdenticalRecords) {
  SKIP_WITHOUT_SAMPLE();
  TempDir dir;
  const std::string gz = dir.str("pubmed25n0001.medline.txt.gz");
  gzip_file(medline_sample(), gz);
  const ReadAll plain = read_all(medline_sample(), Format::medline);
  const ReadAll packed = read_all(gz, Format::automatic);
  EXPECT_TRUE(packed.rejects.empty());
  ASSERT_EQ(packed.records.size(), plain.records.size());
  for (std::size_t i = 0; i < plain.records.size(); ++i) {
    EXPECT_EQ(record_to_json(packed.records[i]), record_to_json(plain.records[i])) << plain.records[i].id;
    EXPECT_EQ(packed.locations[i], gz + plain.locations[i].substr(medline_sample().string().size()));
  }
}

// ---- MEDLINE text edge cases ----------------------------------------------------------------

TEST(Medline, RejectsBadLinesWithTheirLine) {
  TempDir dir;
  const std::string path = dir.str("bad.medline.txt");
  write_file(path,
             "PMID- 90000101\nTI  - Good record.\nDP  - 2020\n\n"
             "PMID- 90000102\nTI  - A record with a broken line.\nthis line has no tag\n\n"
             "TI  - A record without a PMID.\n\n"
             "PMID- 90000103\nTI  - Bad bytes \xC3\x28 here.\n\n"
             "PMID- 90000104\nTI  - A record whose blank line is missing.\n"
             "PMID- 90000105\nTI  - The next record.\r\n");
  const ReadAll all = read_all(path, Format::medline);
  ASSERT_EQ(all.records.size(), 3u);
  EXPECT_EQ(all.records[0].id, "pmid-90000101");
  EXPECT_EQ(all.records[1].id, "pmid-90000104");
  EXPECT_EQ(all.records[2].id, "pmid-90000105");
  EXPECT_EQ(all.records[2].title, "The next record.");
  EXPECT_EQ(all.locations[2], path + ":16");
  ASSERT_EQ(all.rejects.size(), 3u);
  EXPECT_EQ(all.rejects[0].location, path + ":5");
  EXPECT_NE(all.rejects[0].error.message.find("line 7"), std::string::npos) << all.rejects[0].error.message;
  EXPECT_NE(all.rejects[0].raw.find("this line has no tag"), std::string::npos);
  EXPECT_EQ(all.rejects[1].location, path + ":9");
  EXPECT_EQ(all.rejects[1].error.param, "PMID");
  EXPECT_EQ(all.rejects[2].location, path + ":11");
  EXPECT_NE(all.rejects[2].error.message.find("invalid UTF-8 at line 12"), std::string::npos)
      << all.rejects[2].error.message;
}

// ---- PubMed XML fixtures --------------------------------------------------------------------

TEST(PubmedXml, ArticlesFixture) {
  const auto path = fixture("pubmed/articles.xml");
  const ReadAll all = read_all(path, Format::pubmed_xml);
  for (const auto& r : all.rejects) ADD_FAILURE() << r.location << ": " << r.error.message;
  ASSERT_EQ(all.records.size(), 5u);
  ASSERT_EQ(all.deletions.size(), 1u);
  EXPECT_EQ(all.deletions[0].deleted_ids, (std::vector<std::string>{"pmid-90000998", "pmid-90000999"}));
  EXPECT_FALSE(all.deletions[0].rejected());
  EXPECT_EQ(all.deletions[0].location, path.string() + ":" + line_of(path, "<DeleteCitation>"));
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(all.locations[i], path.string() + ":" + line_of(path, "<PubmedArticle>", i)) << i;

  // A structured abstract: labels as given, keys from NlmCategory; the copyright is not text.
  const Record& trial = all.records[0];
  EXPECT_EQ(trial.id, "pmid-90000001");
  EXPECT_EQ(trial.source, Source::research);
  EXPECT_EQ(trial.evidence_level, "randomized_controlled_trial");
  EXPECT_EQ(trial.published, "2021-03-15");
  EXPECT_EQ(trial.citation.journal, "J Test Fixtures");  // MedlineTA, as MEDLINE's TA
  EXPECT_EQ(trial.citation.pages, "101-9");
  EXPECT_EQ(trial.citation.doi, "10.5555/fixture.2021.001");
  EXPECT_EQ(trial.citation.authors, (std::vector<std::string>{"Doe J", "Roe RS", "Smith JA Jr"}));
  EXPECT_EQ(trial.mesh_terms, (std::vector<std::string>{"Amyotrophic Lateral Sclerosis", "Humans", "Riluzole"}));
  ASSERT_EQ(trial.sections.size(), 5u);
  const std::vector<std::pair<std::string, std::string>> parts = {{"BACKGROUND", "background"},
                                                                  {"PATIENTS AND METHODS", "methods"},
                                                                  {"RESULTS", "results"},
                                                                  {"CONCLUSIONS", "conclusions"},
                                                                  {"TRIAL REGISTRATION", "trial_registration"}};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(trial.sections[i].heading, parts[i].first);
    EXPECT_EQ(trial.sections[i].key, parts[i].second);
  }
  for (const auto& s : trial.sections) EXPECT_EQ(s.text.find("Copyright"), std::string::npos);

  // No abstract: the title is the text; MedlineDate ranges give the year; collective names kept.
  const Record& letter = all.records[1];
  EXPECT_EQ(letter.title, "[A fictional letter about fixture design].");
  ASSERT_EQ(letter.sections.size(), 1u);
  EXPECT_EQ(letter.sections[0].heading, "");
  EXPECT_EQ(letter.sections[0].text, letter.title);
  EXPECT_EQ(letter.published, "1998");
  EXPECT_EQ(letter.citation.year, 1998);
  EXPECT_EQ(letter.citation.authors, (std::vector<std::string>{"Martin P", "Fixture Study Group"}));
  EXPECT_EQ(letter.citation.doi, "");

  // A practice guideline: source guideline; inline markup and CDATA flattened into the text;
  // an author NLM marked invalid is left out; initials derived from the fore name.
  const Record& guideline = all.records[2];
  EXPECT_EQ(guideline.source, Source::guideline);
  EXPECT_EQ(guideline.evidence_level, "practice_guideline");
  EXPECT_EQ(guideline.title, "Management of Helicobacter pylori infection in adults: a practice guideline for fixtures.");
  EXPECT_EQ(guideline.published, "2023-09");
  EXPECT_EQ(guideline.citation.authors, std::vector<std::string>{"Nguyen T"});
  ASSERT_EQ(guideline.sections.size(), 1u);
  EXPECT_NE(guideline.sections[0].text.find("for H. pylori and treating"), std::string::npos);
  EXPECT_NE(guideline.sections[0].text.find("20 mg/m2;"), std::string::npos);
  EXPECT_NE(guideline.sections[0].text.find("with </PubmedArticle> inside"), std::string::npos);

  // Meta-analysis outranks systematic review and review; the DOI from the ArticleIdList; a
  // Season date is the year; unlabelled paragraphs make one plain section.
  const Record& meta = all.records[3];
  EXPECT_EQ(meta.evidence_level, "meta_analysis");
  EXPECT_EQ(meta.citation.doi, "10.5555/fixture.2019.meta");
  EXPECT_EQ(meta.citation.journal, "Fixture reviews");
  EXPECT_EQ(meta.citation.pages, "e100");
  EXPECT_EQ(meta.published, "2019");
  ASSERT_EQ(meta.sections.size(), 1u);
  EXPECT_EQ(meta.sections[0].text, "We pooled 12 invented trials. Statins reduced fictional events by 25%.");

  // A book chapter: the book is the cited work; editors are not authors.
  const Record& book = all.records[4];
  EXPECT_EQ(book.id, "pmid-90000005");
  EXPECT_EQ(book.title, "Fixture Syndrome");
  EXPECT_EQ(book.citation.title, "Fixture Reviews");
  EXPECT_EQ(book.citation.publisher, "Fixture Press");
  EXPECT_EQ(book.citation.authors, std::vector<std::string>{"Author A"});
  EXPECT_EQ(book.published, "2020-06-04");
  EXPECT_EQ(book.evidence_level, "review");
  ASSERT_EQ(book.sections.size(), 2u);
  EXPECT_EQ(book.sections[1].heading, "DIAGNOSIS");
  EXPECT_EQ(book.sections[1].key, "diagnosis");

  for (const auto& r : all.records) EXPECT_TRUE(validate(r).ok()) << r.id;
}

TEST(PubmedXml, GzipGivesIdenticalRecords) {
  TempDir dir;
  const std::string gz = dir.str("pubmed25n0001.xml.gz");
  gzip_file(fixture("pubmed/articles.xml"), gz);
  const ReadAll plain = read_all(fixture("pubmed/articles.xml"), Format::pubmed_xml);
  const ReadAll packed = read_all(gz, Format::automatic);
  ASSERT_EQ(packed.records.size(), plain.records.size());
  for (std::size_t i = 0; i < plain.records.size(); ++i)
    EXPECT_EQ(record_to_json(packed.records[i]), record_to_json(plain.records[i]));
  ASSERT_EQ(packed.deletions.size(), 1u);
}

// A pipe (zcat ... | medsearch-index /dev/stdin, or <(zcat ...)) cannot be rewound: the two
// bytes read to look for gzip's magic were lost, so the format was not detected, or the first
// record was rejected; a gzip stream through a pipe lost the start of its data to stdio's buffer.
TEST(PubmedXml, PipeReadsLikeTheFile) {
  TempDir dir;
  gzip_file(fixture("pubmed/articles.xml"), dir.str("articles.xml.gz"));
  const ReadAll plain = read_all(fixture("pubmed/articles.xml"), Format::pubmed_xml);
  ASSERT_FALSE(plain.records.empty());
  const std::vector<std::string> sources = {fixture("pubmed/articles.xml").string(), dir.str("articles.xml.gz")};
  for (const auto& source : sources) {
    const std::string fifo = dir.str("pipe");
    std::filesystem::remove(fifo);
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    const std::string bytes = slurp(source);
    std::thread writer([&] { std::ofstream(fifo, std::ios::binary) << bytes; });
    const ReadAll piped = read_all(fifo, Format::automatic);
    writer.join();
    EXPECT_TRUE(piped.rejects.empty()) << source << ": " << (piped.rejects.empty() ? "" : piped.rejects[0].error.message);
    ASSERT_EQ(piped.records.size(), plain.records.size()) << source;
    for (std::size_t i = 0; i < plain.records.size(); ++i)
      EXPECT_EQ(record_to_json(piped.records[i]), record_to_json(plain.records[i])) << source;
    EXPECT_EQ(piped.deletions.size(), plain.deletions.size()) << source;
  }
}

TEST(PubmedXml, TruncatedFileRejectsOnlyTheLastArticle) {
  const auto path = fixture("pubmed/truncated.xml");
  const ReadAll all = read_all(path, Format::pubmed_xml);
  ASSERT_EQ(all.records.size(), 2u);
  EXPECT_EQ(all.records[0].id, "pmid-90000011");
  EXPECT_EQ(all.records[0].evidence_level, "case_report");
  EXPECT_EQ(all.records[1].id, "pmid-90000012");
  EXPECT_EQ(all.records[1].evidence_level, "observational");
  ASSERT_EQ(all.rejects.size(), 1u);
  const ReadItem& reject = all.rejects[0];
  EXPECT_EQ(reject.location, path.string() + ":" + line_of(path, "<PubmedArticle>", 2));
  EXPECT_EQ(reject.error.message,
            "<PubmedArticle> has no closing </PubmedArticle>: the file ends at line 33 (truncated?)");
  EXPECT_NE(reject.raw.find("90000013"), std::string::npos);
}

TEST(PubmedXml, BrokenArticlesRejectOnlyThemselves) {
  const auto path = fixture("pubmed/broken.xml");
  const ReadAll all = read_all(path, Format::pubmed_xml);
  ASSERT_EQ(all.records.size(), 2u);
  EXPECT_EQ(all.records[0].id, "pmid-90000021");
  EXPECT_EQ(all.records[1].id, "pmid-90000024");
  EXPECT_EQ(all.locations[1], path.string() + ":" + line_of(path, "<PubmedArticle>", 3));
  ASSERT_EQ(all.rejects.size(), 2u);
  EXPECT_EQ(all.rejects[0].location, path.string() + ":" + line_of(path, "<PubmedArticle>", 1));
  EXPECT_EQ(all.rejects[0].error.code, ErrorCode::parse);
  EXPECT_EQ(all.rejects[0].error.message,
            "invalid XML at line " + line_of(path, "    <Article><ArticleTitle>Mismatched") + ": Start-end tags mismatch");
  EXPECT_EQ(all.rejects[1].location, path.string() + ":" + line_of(path, "<PubmedArticle>", 2));
  EXPECT_EQ(all.rejects[1].error.message, "<PubmedArticle> has no closing </PubmedArticle>: <PubmedArticle> at line " +
                                               line_of(path, "<PubmedArticle>", 3) + " comes first");
}

std::string article_xml(const std::string& pmid, const std::string& abstract) {
  return "<PubmedArticle><MedlineCitation><PMID Version=\"1\">" + pmid +
         "</PMID>\n<Article><ArticleTitle>Generated fixture " + pmid +
         "</ArticleTitle>\n<Abstract><AbstractText>" + abstract +
         "</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>\n";
}

TEST(PubmedXml, InvalidUtf8RejectsTheArticle) {
  TempDir dir;
  const std::string path = dir.str("bad-utf8.xml");
  write_file(path, "<?xml version=\"1.0\"?>\n<PubmedArticleSet>\n" + article_xml("90000031", "fine") +
                       article_xml("90000032", "Latin-1 caf\xE9 is not UTF-8") + article_xml("90000033", "fine too") +
                       "</PubmedArticleSet>\n");
  const ReadAll all = read_all(path, Format::pubmed_xml);
  ASSERT_EQ(all.records.size(), 2u);
  EXPECT_EQ(all.records[1].id, "pmid-90000033");
  ASSERT_EQ(all.rejects.size(), 1u);
  EXPECT_EQ(all.rejects[0].location, path + ":6");  // each generated article takes three lines
  EXPECT_EQ(all.rejects[0].error.message, "invalid UTF-8 at line 8");
}

TEST(PubmedXml, HugeAbstractIsRejectedClearly) {
  TempDir dir;
  const std::string path = dir.str("huge.xml");
  {
    std::ofstream out(path, std::ios::binary);
    out << "<PubmedArticleSet>\n" << article_xml("90000041", "small");
    std::string sentence = "A generated sentence that repeats to make a fifty megabyte abstract. ";
    std::string chunk;
    while (chunk.size() < (1u << 20)) chunk += sentence;
    out << "<PubmedArticle><MedlineCitation><PMID Version=\"1\">90000042</PMID><Article><ArticleTitle>Huge"
           "</ArticleTitle><Abstract><AbstractText>";
    for (int i = 0; i < 50; ++i) out << chunk;
    out << "</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>\n"
        << article_xml("90000043", "small after the huge one") << "</PubmedArticleSet>\n";
  }
  const ReadAll all = read_all(path, Format::pubmed_xml);
  ASSERT_EQ(all.records.size(), 2u);
  EXPECT_EQ(all.records[0].id, "pmid-90000041");
  EXPECT_EQ(all.records[1].id, "pmid-90000043");
  EXPECT_EQ(all.locations[1], path + ":6");
  ASSERT_EQ(all.rejects.size(), 1u);
  EXPECT_EQ(all.rejects[0].location, path + ":5");
  EXPECT_EQ(all.rejects[0].error.message, "<PubmedArticle> is larger than 32 MiB; skipped");
  EXPECT_LE(all.rejects[0].raw.size(), corpus::kMaxRawBytes);
  EXPECT_EQ(all.rejects[0].raw.rfind("<PubmedArticle>", 0), 0u);
}

// A baseline-sized run of articles crosses the scanner's buffer refills and compactions; every
// location must still be the line of its start tag.
TEST(PubmedXml, ManyArticlesKeepTheirLines) {
  TempDir dir;
  const std::string path = dir.str("many.xml");
  constexpr int kArticles = 20000;
  {
    std::ofstream out(path, std::ios::binary);
    out << "<?xml version=\"1.0\" ?>\n<PubmedArticleSet>\n";
    for (int i = 0; i < kArticles; ++i) {
      out << article_xml(std::to_string(91000000 + i), "Generated abstract number " + std::to_string(i) + ".");
      if (i % 1000 == 0) out << "<!-- a comment between articles, with <PubmedArticle> in it -->\n";
    }
    out << "</PubmedArticleSet>\n";
  }
  const ReadAll all = read_all(path, Format::automatic);
  EXPECT_TRUE(all.rejects.empty());
  ASSERT_EQ(all.records.size(), static_cast<std::size_t>(kArticles));
  int line = 3;
  for (int i = 0; i < kArticles; ++i) {
    ASSERT_EQ(all.locations[i], path + ":" + std::to_string(line)) << i;
    ASSERT_EQ(all.records[i].id, "pmid-" + std::to_string(91000000 + i));
    line += 3 + (i % 1000 == 0 ? 1 : 0);
  }
}

// Corrupt compressed data ends the file: what came before is read, the damage is reported once.
TEST(PubmedXml, TruncatedGzipReportsTheDamage) {
  TempDir dir;
  const std::string whole = dir.str("whole.xml.gz");
  gzip_file(fixture("pubmed/articles.xml"), whole);
  std::string bytes = slurp(whole);
  write_file(dir.str("cut.xml.gz"), bytes.substr(0, bytes.size() * 2 / 3));
  const ReadAll all = read_all(dir.str("cut.xml.gz"), Format::automatic);
  EXPECT_LT(all.records.size(), 5u);
  ASSERT_EQ(all.rejects.size(), 1u);
  EXPECT_NE(all.rejects[0].error.message.find("gzip"), std::string::npos) << all.rejects[0].error.message;
}

TEST(PubmedXml, MissingPmidAndUnknownRoot) {
  TempDir dir;
  const std::string path = dir.str("odd.xml");
  write_file(path,
             "<PubmedArticleSet>\n"
             "<PubmedArticle><MedlineCitation><Article><ArticleTitle>No PMID</ArticleTitle></Article>"
             "</MedlineCitation></PubmedArticle>\n"
             "<PubmedArticle><MedlineCitation><PMID>12x</PMID><Article><ArticleTitle>Bad PMID</ArticleTitle>"
             "</Article></MedlineCitation></PubmedArticle>\n"
             "<PubmedArticle><MedlineCitation><PMID>90000051</PMID><Article><ArticleTitle> </ArticleTitle>"
             "</Article></MedlineCitation></PubmedArticle>\n"
             "<DeleteCitation/>\n"
             "</PubmedArticleSet>\n");
  const ReadAll all = read_all(path, Format::pubmed_xml);
  EXPECT_TRUE(all.records.empty());
  EXPECT_TRUE(all.deletions.empty());  // an empty DeleteCitation deletes nothing
  ASSERT_EQ(all.rejects.size(), 3u);
  EXPECT_EQ(all.rejects[0].error.message, "field 'PMID': is required");
  EXPECT_EQ(all.rejects[1].error.message, "field 'PMID': must be a number, not '12x'");
  EXPECT_EQ(all.rejects[2].error.message, "field 'title': the article has neither a title nor an abstract");
  EXPECT_EQ(all.rejects[2].location, path + ":4");
}

TEST(PubmedXml, OtherXmlIsReportedNotSilentlyEmpty) {
  TempDir dir;
  const std::string path = dir.str("spl.xml");
  write_file(path, "<?xml version=\"1.0\"?>\n<document xmlns=\"urn:hl7-org:v3\"><title>Not PubMed</title></document>\n");
  const ReadAll all = read_all(path, Format::pubmed_xml);
  EXPECT_TRUE(all.records.empty());
  ASSERT_EQ(all.rejects.size(), 1u);
  EXPECT_EQ(all.rejects[0].location, path + ":1");
  EXPECT_EQ(all.rejects[0].error.code, ErrorCode::parse);
  EXPECT_NE(all.rejects[0].error.message.find("is this PubMed XML?"), std::string::npos);

  // An empty set is a valid (if dull) file.
  write_file(path, "<?xml version=\"1.0\"?>\n<PubmedArticleSet></PubmedArticleSet>\n");
  const ReadAll empty = read_all(path, Format::pubmed_xml);
  EXPECT_TRUE(empty.records.empty());
  EXPECT_TRUE(empty.rejects.empty());
}

// ---- Both formats, one article --------------------------------------------------------------

TEST(PubmedFormats, MedlineAndXmlGiveTheSameRecord) {
  const ReadAll xml = read_all(fixture("pubmed/articles.xml"), Format::pubmed_xml);
  const ReadAll medline = read_all(fixture("pubmed/articles.medline.txt"), Format::medline);
  EXPECT_TRUE(medline.rejects.empty());
  ASSERT_EQ(medline.records.size(), 2u);
  for (const Record& m : medline.records) {
    const Record* x = find_record(xml, m.id);
    ASSERT_NE(x, nullptr) << m.id;
    // Field by field first, for readable failures; then everything.
    EXPECT_EQ(m.title, x->title);
    EXPECT_EQ(m.source, x->source);
    EXPECT_EQ(m.published, x->published);
    EXPECT_EQ(m.citation.authors, x->citation.authors);
    EXPECT_EQ(m.citation.journal, x->citation.journal);
    EXPECT_EQ(m.citation.doi, x->citation.doi);
    EXPECT_EQ(m.mesh_terms, x->mesh_terms);
    EXPECT_EQ(m.publication_types, x->publication_types);
    EXPECT_EQ(m.evidence_level, x->evidence_level);
    ASSERT_EQ(m.sections.size(), x->sections.size()) << m.id;
    for (std::size_t i = 0; i < m.sections.size(); ++i) {
      EXPECT_EQ(m.sections[i].heading, x->sections[i].heading);
      EXPECT_EQ(m.sections[i].key, x->sections[i].key);
      EXPECT_EQ(m.sections[i].text, x->sections[i].text);
    }
    EXPECT_EQ(record_to_json(m), record_to_json(*x));
  }
}

// ---- Threads --------------------------------------------------------------------------------

// Frames every item, then parses them on two threads (interleaved) and sequentially.
void expect_parallel_equals_sequential(const std::filesystem::path& path, Format format) {
  auto reader = open_reader(path.string(), format);
  ASSERT_TRUE(reader.ok());
  std::vector<RawItem> raws;
  RawItem raw;
  while ((*reader)->next_raw(raw)) raws.push_back(raw);
  ASSERT_FALSE(raws.empty());

  std::vector<std::vector<ReadItem>> sequential(raws.size()), parallel(raws.size());
  for (std::size_t i = 0; i < raws.size(); ++i) (*reader)->parse(raws[i], sequential[i]);
  auto work = [&](std::size_t first) {
    for (std::size_t i = first; i < raws.size(); i += 2) (*reader)->parse(raws[i], parallel[i]);
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  for (std::size_t i = 0; i < raws.size(); ++i) {
    ASSERT_EQ(parallel[i].size(), sequential[i].size());
    for (std::size_t j = 0; j < sequential[i].size(); ++j) {
      const ReadItem& s = sequential[i][j];
      const ReadItem& p = parallel[i][j];
      EXPECT_EQ(p.location, s.location);
      ASSERT_EQ(p.record.has_value(), s.record.has_value());
      if (s.record) {
        EXPECT_EQ(record_to_json(*p.record), record_to_json(*s.record));
      }
      EXPECT_EQ(p.error.message, s.error.message);
      EXPECT_EQ(p.deleted_ids, s.deleted_ids);
    }
  }
}

TEST(PubmedThreads, ParallelParseEqualsSequential) {
  expect_parallel_equals_sequential(fixture("pubmed/articles.xml"), Format::pubmed_xml);
  expect_parallel_equals_sequential(fixture("pubmed/broken.xml"), Format::pubmed_xml);
  if (std::filesystem::exists(medline_sample()))
    expect_parallel_equals_sequential(medline_sample(), Format::medline);
}

// ---- Detection ------------------------------------------------------------------------------

Format detect_file(const std::filesystem::path& path) {
  auto in = InputFile::open(path.string());
  EXPECT_TRUE(in.ok());
  if (!in.ok()) return Format::automatic;
  return detect_format((*in)->peek(1 << 16), path.string());
}

TEST(PubmedDetection, Files) {
  EXPECT_EQ(detect_file(fixture("pubmed/articles.xml")), Format::pubmed_xml);
  EXPECT_EQ(detect_file(fixture("pubmed/truncated.xml")), Format::pubmed_xml);
  EXPECT_EQ(detect_file(fixture("pubmed/broken.xml")), Format::pubmed_xml);
  EXPECT_EQ(detect_file(fixture("pubmed/articles.medline.txt")), Format::medline);
  const Format golden = detect_file(fixture("golden.jsonl"));
  EXPECT_NE(golden, Format::medline);
  EXPECT_NE(golden, Format::pubmed_xml);
  if (std::filesystem::exists(medline_sample())) {
    EXPECT_EQ(detect_file(medline_sample()), Format::medline);
  }
}

TEST(PubmedDetection, Heads) {
  using formats::looks_like_medline;
  using formats::looks_like_pubmed_xml;
  EXPECT_TRUE(looks_like_medline("PMID- 1\nTI  - x\n"));
  EXPECT_TRUE(looks_like_medline("\xEF\xBB\xBF\n\r\n  \nPMID- 1\n"));
  EXPECT_FALSE(looks_like_medline("TI  - x\nPMID- 1\n"));
  EXPECT_FALSE(looks_like_medline("{\"id\": \"PMID- 1\"}\n"));
  EXPECT_FALSE(looks_like_medline(""));

  EXPECT_TRUE(looks_like_pubmed_xml(
      "<?xml version=\"1.0\" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC \"x\" \"y\">\n<PubmedArticleSet>"));
  EXPECT_TRUE(looks_like_pubmed_xml("<PubmedArticleSet>\n<PubmedArticle>"));
  EXPECT_TRUE(looks_like_pubmed_xml("\xEF\xBB\xBF<?xml version=\"1.0\"?><!-- c --><PubmedArticle><MedlineCitation>"));
  EXPECT_TRUE(looks_like_pubmed_xml("<!DOCTYPE PubmedArticleSet[<!ENTITY x \"y\">]><PubmedArticleSet>"));
  EXPECT_FALSE(looks_like_pubmed_xml("<?xml version=\"1.0\"?>\n<document xmlns=\"urn:hl7-org:v3\">"));
  EXPECT_FALSE(looks_like_pubmed_xml("<PubmedArticleSetX>"));
  EXPECT_FALSE(looks_like_pubmed_xml("<?xml version=\"1.0\"?>\n<!-- never closed"));
}

}  // namespace
}  // namespace medsearch::corpus
