// corpus/: normalisation tables, sentence windows, records and readers.
#include <gtest/gtest.h>

#include <random>

#include <fstream>
#include <nlohmann/json.hpp>

#include "corpus/analysis.h"
#include "corpus/passage.h"
#include "corpus/reader.h"
#include "corpus/record.h"
#include "corpus/schema.h"
#include "tests/test_util.h"

namespace mc = medsearch::corpus;
using medsearch::test::TempDir;

namespace {

// The terms Xapian's TermGenerator makes of a text after our analysis, unprefixed and
// unstemmed, in order: what both sides of the index see.
std::vector<std::string> words(const std::string& text) {
  Xapian::Document doc;
  Xapian::TermGenerator gen;
  gen.set_document(doc);
  gen.index_text(mc::normalize_for_analysis(text));
  std::vector<std::pair<Xapian::termpos, std::string>> positioned;
  for (auto t = doc.termlist_begin(); t != doc.termlist_end(); ++t)
    for (auto p = t.positionlist_begin(); p != t.positionlist_end(); ++p) positioned.emplace_back(*p, *t);
  std::sort(positioned.begin(), positioned.end());
  std::vector<std::string> out;
  for (auto& [pos, term] : positioned) out.push_back(term);
  return out;
}

using Words = std::vector<std::string>;

}  // namespace

TEST(Normalize, AnalysisTable) {
  struct Row {
    const char* input;
    const char* expected;
  };
  const Row rows[] = {
      {"β-blocker", "beta-blocker"},
      {"TNF-α inhibitor", "TNF-alpha inhibitor"},
      {"Aβ plaques", "Abeta plaques"},
      {"HbA1c", "HbA1c"},
      {"5-FU", "5-FU"},
      {"COVID-19", "COVID-19"},
      {"COVID\u201119", "COVID-19"},         // non-breaking hyphen
      {"5\u2013FU", "5-FU"},                 // en dash
      {"a\u2212b", "a-b"},                   // minus sign
      {"\uFF15\uFF10 mg", "50 mg"},          // full-width digits
      {"m\u00B2", "m2"},                     // superscript two
      {"10\u00A0mg", "10 mg"},               // no-break space
      {"anti\u00ADcoagulant", "anticoagulant"},  // soft hyphen
      {"50mg  twice\tdaily\n", "50mg twice daily"},
      {"\uFB01brosis", "fibrosis"},          // fi ligature
      {"Alzheimer\u2019s", "Alzheimer's"},
      {"5 \u00B5g", "5 mcg"},                // micrograms are "mcg" in clinical text
      {"5 \u03BCg/kg", "5 mcg/kg"},
      {"2 \u00B5L", "2 microL"},             // other units keep "micro"
      {"10\u2079/L", "10^9/L"},              // a power after a digit keeps its '^', not "109/L"
      {"10\u00B9\u00B2 cells", "10^12 cells"},
      {"10\u207B\u00B3 M", "10^-3 M"},
      {"Ca\u00B2\u207A", "Ca2+"},             // after a letter, NFKC's plain digits
      {"mg\u00B7kg\u207B\u00B9", "mg kg-1"},   // middle dot between units
      {"Crohn\u00B4s disease", "Crohn's disease"},  // acute accent typed as an apostrophe
      {"\uFF21\uFF2C\uFF33", "ALS"},          // full-width letters
      {"mg/kg", "mg/kg"},
      {"10 \u03BCmol/L", "10 micromol/L"},   // Greek mu before a unit
      {"\u03BC-opioid", "mu-opioid"},         // mu as a letter
      {"Riluzole AND edaravone", "Riluzole AND edaravone"},  // case is kept for the parser
  };
  for (const Row& row : rows) EXPECT_EQ(mc::normalize_for_analysis(row.input), row.expected) << row.input;
}

TEST(Normalize, SameTermsBothSpellings) {
  EXPECT_EQ(words("β-blocker"), words("beta blocker"));
  EXPECT_EQ(words("COVID-19"), words("covid 19"));
  EXPECT_EQ(words("COVID\u201119"), words("COVID-19"));
  EXPECT_EQ(words("\uFF15\uFF10 mg"), words("50 mg"));
  EXPECT_EQ(words("5-FU"), (Words{"5", "fu"}));
  EXPECT_EQ(words("HbA1c"), (Words{"hba1c"}));
  EXPECT_EQ(words("riluzole 50 mg"), (Words{"riluzole", "50", "mg"}));
  EXPECT_EQ(words("50 \u00B5g"), words("50 mcg"));
  EXPECT_EQ(words("1 mg/kg"), (Words{"1", "mg", "kg"}));
  EXPECT_EQ(words("Crohn\u00B4s"), words("Crohn's"));
  EXPECT_EQ(words("\u03B1-synuclein"), words("alpha synuclein"));
}

TEST(Synonyms, KeysAndTermsMatchTheQueryParser) {
  const Xapian::Stem stem("english");
  EXPECT_EQ(mc::synonym_key("Rilutek", stem), "Zrilutek");
  EXPECT_EQ(mc::synonym_term("riluzole", stem), "Zriluzol");
  EXPECT_EQ(mc::synonym_key("Lou Gehrig\u2019s disease", stem), "lou gehrig's disease");
  EXPECT_EQ(mc::synonym_term("sodium phenylbutyrate and taurursodiol", stem), "");  // not one term
  EXPECT_EQ(mc::synonym_key("   ", stem), "");
  // The parser looks up exactly these keys.
  TempDir dir;
  Xapian::WritableDatabase db(dir.str("db"), Xapian::DB_CREATE);
  db.add_synonym(mc::synonym_key("Rilutek", stem), mc::synonym_term("riluzole", stem));
  db.commit();
  Xapian::QueryParser parser;
  mc::configure_query_parser(parser);
  parser.set_database(db);
  EXPECT_EQ(parser.parse_query("rilutek", Xapian::QueryParser::FLAG_AUTO_SYNONYMS).get_description(),
            "Query((Zrilutek@1 SYNONYM Zriluzol@1))");
}

// is_stop_word is the query side's stop list (stopper()) without building a string.
TEST(StopWords, IsStopWordAgreesWithTheStopper) {
  for (const char* w : {"the", "a", "of", "because", "options", "what's", "whats", "yourselves", "riluzole", "als",
                        "The", "", "thee", "ofs", "dose", "x"}) {
    EXPECT_EQ(mc::is_stop_word(w), mc::stopper()(w)) << w;
  }
  EXPECT_TRUE(mc::is_stop_word("the"));
  EXPECT_FALSE(mc::is_stop_word("riluzole"));
}

TEST(CleanText, WhitespaceAndControls) {
  EXPECT_EQ(mc::clean_text("  a \t b  "), "a b");
  EXPECT_EQ(mc::clean_text("line one\nline two"), "line one\nline two");
  EXPECT_EQ(mc::clean_text("para one\n\n\n\npara two"), "para one\n\npara two");
  EXPECT_EQ(mc::clean_text("bell\x07 here"), "bell here");
  EXPECT_EQ(mc::clean_text("e\u0301"), "\u00E9");  // NFC composes
  EXPECT_EQ(mc::clean_text("\uFF15\uFF10 mg"), "\uFF15\uFF10 mg");  // display text keeps full-width forms
}

// has_text answers whether clean_text keeps anything, on strings built from the characters
// clean_text treats specially (spaces, newlines, controls, soft hyphen, BOM, ZWSP, combining
// marks) and ordinary ones, valid UTF-8 as validate() sees it.
TEST(CleanText, HasTextAgreesWithCleanText) {
  const std::vector<std::string> pieces = {" ",      "\t",      "\n",      "\r",      "\x07",     "\x7F",
                                           "\u00A0", "\u2028", "\u2029", "\u00AD", "\uFEFF", "\u200B",
                                           "\u3000", "\u0301", "a",      "\u00E9", "\u03B2", "\U0001F600"};
  std::mt19937 rng(7);
  for (int round = 0; round < 5000; ++round) {
    std::string text;
    const int length = static_cast<int>(rng() % 6);
    for (int i = 0; i < length; ++i) text += pieces[rng() % pieces.size()];
    EXPECT_EQ(mc::has_text(text), !mc::clean_text(text).empty()) << "text: '" << text << "'";
  }
  EXPECT_FALSE(mc::has_text(""));
  EXPECT_FALSE(mc::has_text(" \n\u00AD\u200B "));
  EXPECT_TRUE(mc::has_text(" \n x"));
}

TEST(Utf8, Validity) {
  EXPECT_TRUE(mc::is_valid_utf8("plain"));
  EXPECT_TRUE(mc::is_valid_utf8("β-blocker \U0001F600"));
  EXPECT_FALSE(mc::is_valid_utf8("\xFF"));
  EXPECT_FALSE(mc::is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(mc::is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(mc::is_valid_utf8("abc\xE2\x82"));       // truncated
  EXPECT_EQ(mc::find_invalid_utf8("ab\xFF"), 2u);
}

TEST(Sentences, Boundaries) {
  const std::string text = "Riluzole is indicated for ALS. Take 50 mg twice daily, e.g. at 8 a.m. and 8 p.m. Monitor liver tests.";
  auto ranges = mc::sentence_ranges(text);
  std::vector<std::string> sentences;
  for (auto [b, e] : ranges) sentences.push_back(text.substr(b, e - b));
  ASSERT_GE(sentences.size(), 3u);
  EXPECT_EQ(sentences.front(), "Riluzole is indicated for ALS. ");
  EXPECT_EQ(sentences.back(), "Monitor liver tests.");
  // Ranges cover the text without gaps.
  std::size_t at = 0;
  for (auto [b, e] : ranges) {
    EXPECT_EQ(b, at);
    at = e;
  }
  EXPECT_EQ(at, text.size());
}

TEST(Sentences, MultibyteOffsets) {
  const std::string text = "β-blockers lower heart rate. Use with care in asthma.";
  auto ranges = mc::sentence_ranges(text);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(text.substr(ranges[1].first), "Use with care in asthma.");
}

namespace {
mc::Record record_with(std::vector<mc::Section> sections) {
  mc::Record r;
  r.id = "rec-1";
  r.source = mc::Source::guideline;
  r.title = "Title";
  r.sections = std::move(sections);
  return r;
}
}  // namespace

TEST(Passages, ShortSectionsStayWhole) {
  auto r = record_with({{"Indications", "indications", "Short text one."}, {"Dosage", "dosage", "Short text two."},
                        {"Empty", "empty", "   "}});
  auto passages = mc::split_into_passages(r);
  ASSERT_EQ(passages.size(), 2u);
  EXPECT_EQ(passages[0].id, "rec-1:p0");
  EXPECT_EQ(passages[1].id, "rec-1:p1");
  EXPECT_EQ(passages[1].section_index, 1);
  EXPECT_EQ(passages[1].section, "dosage");
  EXPECT_EQ(passages[1].heading, "Dosage");
  EXPECT_EQ(passages[1].text, "Short text two.");
  EXPECT_EQ(passages[1].start, 0u);
  EXPECT_EQ(passages[1].end, r.sections[1].text.size());
}

TEST(Passages, LongTextBecomesSentenceWindows) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "Sentence number " + std::to_string(i) + " says something about riluzole dosing. ";
  auto r = record_with({{"", "", text}});
  mc::PassageOptions options;
  options.max_bytes = 300;
  options.min_bytes = 100;
  auto passages = mc::split_into_passages(r, options);
  ASSERT_GT(passages.size(), 5u);
  for (const auto& p : passages) {
    EXPECT_LE(p.text.size(), options.max_bytes + options.min_bytes) << p.id;
    // Every window is whole sentences: it starts a sentence and ends with a full stop.
    EXPECT_EQ(p.text.rfind("Sentence number ", 0), 0u) << p.text;
    EXPECT_EQ(p.text.back(), '.') << p.text;
    // Offsets point at the passage text inside the section text.
    EXPECT_EQ(text.substr(p.start, p.end - p.start), p.text);
  }
  // Windows are in order and do not overlap.
  for (std::size_t i = 1; i < passages.size(); ++i) EXPECT_GE(passages[i].start, passages[i - 1].end);
}

TEST(Passages, OverlongSentenceIsCutAtSpaces) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "word" + std::to_string(i) + " ";
  auto r = record_with({{"", "", text}});
  mc::PassageOptions options;
  options.max_bytes = 200;
  auto passages = mc::split_into_passages(r, options);
  ASSERT_GT(passages.size(), 5u);
  for (const auto& p : passages) {
    EXPECT_LE(p.text.size(), options.max_bytes + options.min_bytes);
    EXPECT_EQ(p.text.rfind("word", 0), 0u) << "cut inside a word: " << p.text;
  }
}

TEST(Passages, Deterministic) {
  auto r = record_with({{"A", "a", std::string(3000, 'x') + ". Tail sentence."}});
  EXPECT_EQ(mc::split_into_passages(r).size(), mc::split_into_passages(r).size());
  auto a = mc::split_into_passages(r);
  auto b = mc::split_into_passages(r);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].text, b[i].text);
  }
}

TEST(Records, SectionKeys) {
  EXPECT_EQ(mc::section_key("Dosage and Administration"), "dosage_and_administration");
  EXPECT_EQ(mc::section_key("Warnings & Precautions"), "warnings_precautions");
  EXPECT_EQ(mc::section_key("  5 WARNINGS  "), "5_warnings");
  EXPECT_EQ(mc::section_key("Patient's Guide"), "patients_guide");
}

TEST(Records, ParseValidRecord) {
  auto r = mc::parse_medsearch_line(
      R"({"id":"x-1","source":"fda_label","title":"T","sections":[{"heading":"Dosage and Administration","text":"50 mg"}],)"
      R"("citation":{"organisation":"FDA","year":2020,"set_id":"abc"},"published":"2020-04-01","drugs":"riluzole"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->source, mc::Source::fda_label);
  EXPECT_EQ(r->sections[0].key, "dosage_and_administration");
  EXPECT_EQ(r->drugs, std::vector<std::string>{"riluzole"});
  EXPECT_EQ(r->year(), 2020);
  EXPECT_EQ(r->citation.link(), "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=abc");
}

TEST(Records, RejectionTable) {
  struct Row {
    const char* line;
    mc::ErrorCode code;
    const char* param;
  };
  const Row rows[] = {
      {R"({"source":"research","title":"t","text":"x"})", mc::ErrorCode::invalid_argument, "id"},
      {R"({"id":"a","title":"t","text":"x"})", mc::ErrorCode::invalid_argument, "source"},
      {R"({"id":"a","source":"blog","title":"t","text":"x"})", mc::ErrorCode::invalid_argument, "source"},
      {R"({"id":"a b","source":"research","title":"t","text":"x"})", mc::ErrorCode::invalid_argument, "id"},
      {R"({"id":"a","source":"research","title":"t"})", mc::ErrorCode::invalid_argument, "text"},
      {R"({"id":"a","source":"research","title":"t","text":"   "})", mc::ErrorCode::invalid_argument, "text"},
      {R"({"id":"a","source":"research","title":7,"text":"x"})", mc::ErrorCode::parse, "title"},
      {R"({"id":"a","source":"research","title":"t","text":"x","published":"2024-13"})", mc::ErrorCode::invalid_argument, "published"},
      {R"({"id":"a","source":"research","title":"t","text":"x","evidence_level":"anecdote"})", mc::ErrorCode::invalid_argument, "evidence_level"},
      {R"({"id":"a","source":"research","title":"t","text":"x","citation":{"year":"last year"}})", mc::ErrorCode::parse, "citation.year"},
      {R"({"id":"a","source":"research","title":"t","text":"x","sections":[{"text":"y"}]})", mc::ErrorCode::invalid_argument, "text"},
      {R"({"id":"a","source":"research","text":"x"})", mc::ErrorCode::invalid_argument, "title"},
      {R"({"id":"a","source":"research","title":"  ","text":"x"})", mc::ErrorCode::invalid_argument, "title"},
      {R"({"id":"a","source":"research","title":"t","text":"x","citation":{"year":4294969296}})", mc::ErrorCode::parse, "citation.year"},
      {R"({"id":"a","source":"research","title":"t","text":"x","citation":{"year":1066}})", mc::ErrorCode::invalid_argument, "citation.year"},
      {R"([1,2,3])", mc::ErrorCode::parse, ""},
      {R"({"id":"a","source":"research",)", mc::ErrorCode::parse, ""},
      {"{\"id\":\"a\",\"source\":\"research\",\"title\":\"t\xFF\",\"text\":\"x\"}", mc::ErrorCode::parse, ""},
  };
  for (const Row& row : rows) {
    auto r = mc::parse_medsearch_line(row.line);
    ASSERT_FALSE(r.ok()) << row.line;
    EXPECT_EQ(r.error().code, row.code) << row.line << " -> " << r.error().message;
    EXPECT_EQ(r.error().param, row.param) << row.line << " -> " << r.error().message;
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST(Records, LenientForms) {
  // Forms real data uses that the reader accepts: numeric PMIDs, string years, one drug as a string.
  auto r = mc::parse_medsearch_line(
      R"({"id":7,"source":"research","title":"t","text":"x","citation":{"pmid":8302340,"year":"1994","organization":"Org"},"drugs":"riluzole"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->id, "7");
  EXPECT_EQ(r->citation.pmid, "8302340");
  EXPECT_EQ(r->citation.year, 1994);
  EXPECT_EQ(r->citation.organisation, "Org");
  EXPECT_EQ(r->drugs, std::vector<std::string>{"riluzole"});
  // BEIR records may have no title.
  auto beir = mc::parse_beir_line(R"({"_id":"MED-1","title":"","text":"abstract text"})");
  ASSERT_TRUE(beir.ok()) << beir.error().message;
  EXPECT_EQ(beir->title, "");
}

TEST(Records, JsonRoundTrip) {
  auto records = medsearch::test::load_records(medsearch::test::fixture("golden.jsonl"));
  ASSERT_EQ(records.size(), 10u);
  for (const auto& r : records) {
    auto again = mc::record_from_json(mc::record_to_json(r));
    ASSERT_TRUE(again.ok()) << r.id << ": " << again.error().message;
    EXPECT_EQ(mc::record_to_json(*again), mc::record_to_json(r)) << r.id;
  }
}

TEST(Citations, Format) {
  mc::Citation c;
  c.authors = {"Bensimon G", "Lacomblez L", "Meininger V"};
  c.journal = "N Engl J Med";
  c.year = 1994;
  c.volume = "330";
  c.pages = "585-591";
  EXPECT_EQ(c.format("A controlled trial of riluzole in amyotrophic lateral sclerosis"),
            "Bensimon G, Lacomblez L, Meininger V. A controlled trial of riluzole in amyotrophic lateral sclerosis. "
            "N Engl J Med. 1994;330:585-591.");
  mc::Citation org;
  org.organisation = "National Academies of Sciences, Engineering, and Medicine";
  org.year = 2024;
  EXPECT_EQ(org.format("Living with ALS"), "National Academies of Sciences, Engineering, and Medicine. Living with ALS. 2024.");
  mc::Citation label;
  label.organisation = "U.S. Food and Drug Administration";
  label.publisher = "AbbVie Inc.";
  label.year = 2013;
  EXPECT_EQ(label.format("HUMIRA (adalimumab) injection"),
            "U.S. Food and Drug Administration. HUMIRA (adalimumab) injection. AbbVie Inc. 2013.");
  mc::Citation many;
  many.authors = {"A A", "B B", "C C", "D D", "E E", "F F", "G G"};
  many.year = 2000;
  EXPECT_EQ(many.format("T"), "A A, B B, C C, et al. T. 2000.");
}

TEST(StoredPassage, RoundTrip) {
  auto records = medsearch::test::load_records(medsearch::test::fixture("golden.jsonl"));
  const auto& r = records[1];
  auto passages = mc::split_into_passages(r);
  auto stored = mc::schema::make_stored_passage(r, passages[1]);
  auto decoded = mc::schema::decode_document_data(mc::schema::encode_document_data(stored));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->passage.id, "l-riluzole:p1");
  EXPECT_EQ(decoded->passage.text, passages[1].text);
  EXPECT_EQ(decoded->citation.set_id, r.citation.set_id);
  EXPECT_EQ(decoded->year, 2020);
  EXPECT_FALSE(mc::schema::decode_document_data("not json").ok());
  EXPECT_EQ(mc::schema::decode_document_data("{}").error().code, mc::ErrorCode::corrupt);
}

// decode_document_data reads the canonical form with simdjson and hands anything else to
// nlohmann's DOM (detail::decode_document_data_dom): both must give the same passage, or the
// same error, for any input.
namespace {

void expect_same_decoding(std::string_view data) {
  auto fast = mc::schema::decode_document_data(data);
  auto dom = mc::schema::detail::decode_document_data_dom(data);
  ASSERT_EQ(fast.ok(), dom.ok()) << data;
  if (fast.ok()) {
    EXPECT_EQ(mc::schema::encode_document_data(*fast), mc::schema::encode_document_data(*dom)) << data;
  } else {
    EXPECT_EQ(fast.error().code, dom.error().code) << data;
    EXPECT_EQ(fast.error().message, dom.error().message) << data;
  }
}

}  // namespace

namespace {

// Random strings for the JSON writers' tests: what JSON must escape (quotes, backslashes,
// control characters), multi-byte UTF-8, and look-alikes of JSON syntax.
struct RandomText {
  std::mt19937 rng{20261205};
  std::string text(std::size_t max_pieces) {
    static const std::vector<std::string> pieces = {
        "a", "riluzole", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\x7f",
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\u0041", "{}", "[", ","};
    std::string out;
    const std::size_t n = rng() % (max_pieces + 1);
    for (std::size_t i = 0; i < n; ++i) out += pieces[rng() % pieces.size()];
    return out;
  }
  std::vector<std::string> texts() {
    std::vector<std::string> out(rng() % 4);
    for (auto& t : out) t = text(4);
    return out;
  }
};

}  // namespace

TEST(StoredPassage, EveryPassageReadsBackAsWrittenAndAsTheDomParserReadsIt) {
  RandomText random;
  auto& rng = random.rng;
  auto text = [&](std::size_t max_pieces) { return random.text(max_pieces); };
  auto texts = [&] { return random.texts(); };
  for (int round = 0; round < 500; ++round) {
    mc::schema::StoredPassage s;
    s.passage.id = text(6);
    s.passage.record_id = text(6);
    s.passage.ordinal = static_cast<int>(rng() % 1000);
    s.passage.section_index = static_cast<int>(rng() % 50);
    s.passage.heading = text(5);
    s.passage.section = text(3);
    s.passage.text = text(60);
    s.passage.start = rng() % 100000;
    s.passage.end = s.passage.start + rng() % 2000;
    s.source = static_cast<mc::Source>(rng() % 3);
    s.title = text(10);
    s.citation.organisation = text(3);
    s.citation.authors = texts();
    s.citation.title = text(3);
    s.citation.journal = text(3);
    s.citation.volume = text(2);
    s.citation.pages = text(2);
    s.citation.publisher = text(2);
    s.citation.year = rng() % 3 == 0 ? 0 : static_cast<int>(1900 + rng() % 130);
    s.citation.pmid = text(2);
    s.citation.doi = text(2);
    s.citation.set_id = text(2);
    s.citation.url = text(2);
    s.year = rng() % 3 == 0 ? 0 : static_cast<int>(1900 + rng() % 130);
    s.published = text(2);
    s.updated = text(2);
    s.evidence_level = text(2);
    s.review_status = text(2);
    s.drugs = texts();
    s.conditions = texts();
    s.mesh_terms = texts();
    s.publication_types = texts();
    s.version = rng() % 2 ? 0 : static_cast<long long>(rng());
    const std::string data = mc::schema::encode_document_data(s);
    ASSERT_EQ(data, mc::schema::detail::encode_document_data_dom(s));
    auto decoded = mc::schema::decode_document_data(data);
    ASSERT_TRUE(decoded.ok()) << data;
    EXPECT_EQ(mc::schema::encode_document_data(*decoded), data);
    EXPECT_EQ(decoded->passage.text, s.passage.text);
    EXPECT_EQ(decoded->citation.authors, s.citation.authors);
    expect_same_decoding(data);
  }
}

TEST(StoredPassage, WhatIsNotTheCanonicalFormReadsAsTheDomParserReadsIt) {
  const std::string base = R"("id":"r:p0","record_id":"r","source":"research")";
  for (const std::string& data : std::vector<std::string>{
           "{" + base + "}",
           "{" + base + R"(,"citation":{"pmid":8302340}})",          // a numeric PMID: read leniently
           "{" + base + R"(,"citation":{"organization":"NICE"}})",   // the other spelling
           "{" + base + R"(,"citation":{"year":"2019"}})",           // a year as a string
           "{" + base + R"(,"citation":{"year":12345}})",            // a citation nlohmann drops
           "{" + base + R"(,"citation":[]})",
           "{" + base + R"(,"citation":{"doi":"a","doi":"b"}})",     // a repeated key: the last wins
           "{" + base + R"(,"title":"a","title":"b"})",
           "{" + base + R"(,"unknown":1})",
           "{" + base + R"(,"ordinal":1.5})",
           "{" + base + R"(,"ordinal":"1"})",
           "{" + base + R"(,"start":-1})",
           "{" + base + R"(,"year":99999999999})",
           "{" + base + R"(,"drugs":["a",1]})",
           "{" + base + R"(,"version":"7"})",
           "{" + base + "} x",                                         // trailing content
           "{" + base + "} 1",
           "{" + base + "} {}",
           "{" + base + "}  \n",                                       // trailing white space
           "{" + base + ",}",
           "{" + base,                                                 // truncated
           R"({"record_id":"r","source":"research"})",                 // no id
           R"({"id":"r:p0","record_id":"r"})",                         // no source
           R"({"id":"r:p0","record_id":"r","source":"blog"})",
           "{" + base + ",\"title\":\"\xff\"}",                        // invalid UTF-8
           "[]", "null", "", "{}", "not json"}) {
    expect_same_decoding(data);
  }
  EXPECT_TRUE(mc::schema::decode_document_data("{" + base + R"(,"citation":{"pmid":8302340}})")->citation.pmid == "8302340");
  EXPECT_EQ(mc::schema::decode_document_data("{" + base + R"(,"title":"a","title":"b"})")->title, "b");
  EXPECT_FALSE(mc::schema::decode_document_data("{" + base + "} x").ok());
}

// The packed facet value (schema::kSlotFacets): any fields come back as written, including
// empty ones, long ones (multi-byte lengths), names outside the source and evidence codes and
// bytes such as '\n' and '\0'; anything that is not exactly one encoding is refused rather
// than misread; the encoding written before the compact one still reads.
TEST(FacetFields, RoundTripAndRefusal) {
  std::mt19937_64 rng(7);
  auto random_text = [&rng](std::size_t max) {
    std::string s(rng() % (max + 1), ' ');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    return s;
  };
  for (int i = 0; i < 500; ++i) {
    const std::uint64_t key = rng();
    const std::string source = i % 3 == 0 ? random_text(10) : std::string(mc::to_string(mc::kAllSources[i % 3]));
    const std::string evidence = i % 5 == 0 ? random_text(30)
                                 : i % 5 == 1 ? std::string()
                                              : std::string(mc::kEvidenceLevels[i % std::size(mc::kEvidenceLevels)]);
    const std::string drugs = random_text(i % 10 == 0 ? 5000 : 60), section = random_text(30);
    const int year = i % 4 == 0 ? 0 : 1900 + static_cast<int>(rng() % 200);
    const std::string packed = mc::schema::encode_facet_fields({key, source, year, evidence, drugs, section});
    mc::schema::FacetFields f;
    ASSERT_TRUE(mc::schema::decode_facet_fields(packed, f)) << i;
    EXPECT_EQ(f.record_key, key);
    EXPECT_EQ(f.source, source);
    EXPECT_EQ(f.year, year);
    EXPECT_EQ(f.evidence, evidence);
    EXPECT_EQ(f.drugs, drugs);
    EXPECT_EQ(f.section, section);
    // Cut short, or with bytes after the end: not an encoding.
    mc::schema::FacetFields g;
    for (std::size_t cut = 0; cut < packed.size(); cut += 1 + packed.size() / 50)
      EXPECT_FALSE(mc::schema::decode_facet_fields(std::string_view(packed).substr(0, cut), g)) << i << " cut " << cut;
    EXPECT_FALSE(mc::schema::decode_facet_fields(packed + "x", g)) << i;
  }
  mc::schema::FacetFields f;
  EXPECT_FALSE(mc::schema::decode_facet_fields("", f));
  // Small: the counter reads whole chunks of this value's stream. A research abstract's
  // passage (no drugs) in 23 bytes, where the earlier encoding took 12 more than its record id.
  const std::string abstract = mc::schema::encode_facet_fields(
      {mc::schema::facet_record_key("pmid-12345678"), "research", 2021, "randomized_controlled_trial", "", "abstract"});
  EXPECT_EQ(abstract.size(), 23u);
  // An unknown source or evidence code byte is refused (3 and 10 are past the codes).
  std::string bad_source = abstract, bad_evidence = abstract;
  bad_source[9] = 3;
  bad_evidence[12] = 10;
  EXPECT_FALSE(mc::schema::decode_facet_fields(bad_source, f));
  EXPECT_FALSE(mc::schema::decode_facet_fields(bad_evidence, f));
  // The earlier encoding, written by hand: record id "a", year "20", the rest empty; then a
  // year that is not digits. (The views point into the bytes decoded: they must outlive the checks.)
  const std::string by_hand("\x01" "a" "\x00" "\x02" "20" "\x00\x00\x00", 9);
  ASSERT_TRUE(mc::schema::decode_facet_fields(by_hand, f));
  EXPECT_EQ(f.record_key, mc::schema::facet_record_key("a"));
  EXPECT_EQ(f.year, 20);
  EXPECT_EQ(f.source, "");
  const std::string bad_year("\x01" "a" "\x00" "\x02" "2x" "\x00\x00\x00", 9);
  EXPECT_FALSE(mc::schema::decode_facet_fields(bad_year, f));
}

TEST(Readers, DetectsFormatsAndReportsLines) {
  TempDir dir;
  {
    std::ofstream beir(dir.str("corpus.jsonl"));
    beir << R"({"_id": "101", "title": "T1", "text": "Aspirin lowers fever."})" << "\n\n"
         << "not json\n"
         << R"({"_id": "102", "title": "", "text": ""})" << "\n"
         << R"({"_id": "103", "title": "", "text": "Ibuprofen too."})" << "\r\n";
  }
  auto reader = mc::open_reader(dir.str("corpus.jsonl"), mc::Format::automatic);
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> ok, bad;
  mc::ReadItem item;
  while ((*reader)->next(item)) {
    if (item.record) ok.push_back(item.record->id + "@" + item.location.substr(item.location.rfind(':') + 1));
    else bad.push_back(item.location.substr(item.location.rfind(':') + 1) + " " + item.error.message);
  }
  EXPECT_EQ(ok, (std::vector<std::string>{"101@1", "103@5"}));
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[0].substr(0, 2), "3 ");
  EXPECT_NE(bad[0].find("invalid JSON"), std::string::npos) << bad[0];
  EXPECT_EQ(bad[1].substr(0, 2), "4 ");
}

// Detection reads the first 64 KiB; a first line longer than that (a long full text) left no
// complete line to decide on, and the file was skipped as "cannot detect the format".
TEST(Readers, DetectsJsonLinesWhoseFirstLineIsLongerThanTheHead) {
  TempDir dir;
  const std::string long_text(300000, 'a');
  {
    std::ofstream beir(dir.str("beir.jsonl"));
    beir << "\xEF\xBB\xBF" << R"({"_id": "201", "title": "Long", "text": ")" << long_text << " fever\"}\n"
         << R"({"_id": "202", "title": "", "text": "Short."})" << "\n";
    std::ofstream native(dir.str("native.jsonl"));
    native << R"({"id": "n-1", "source": "research", "title": "Long", "text": ")" << long_text << " fever\"}";
  }
  mc::Format chosen = mc::Format::automatic;
  auto beir = mc::open_reader(dir.str("beir.jsonl"), mc::Format::automatic, &chosen);
  ASSERT_TRUE(beir.ok()) << beir.error().message;
  EXPECT_EQ(chosen, mc::Format::beir);
  std::vector<std::string> ids;
  mc::ReadItem item;
  while ((*beir)->next(item)) ids.push_back(item.record ? item.record->id : item.error.message);
  EXPECT_EQ(ids, (std::vector<std::string>{"201", "202"}));

  auto native = mc::open_reader(dir.str("native.jsonl"), mc::Format::automatic, &chosen);
  ASSERT_TRUE(native.ok()) << native.error().message;
  EXPECT_EQ(chosen, mc::Format::medsearch);
  ASSERT_TRUE((*native)->next(item));
  ASSERT_TRUE(item.record) << item.error.message;
  EXPECT_EQ(item.record->id, "n-1");
}

// Detection ignored an incomplete last line, so a one-record file without a final newline
// (echo -n, many editors and API dumps) could not be detected.
TEST(Readers, DetectsAOneLineFileWithoutAFinalNewline) {
  TempDir dir;
  {
    std::ofstream(dir.str("native.jsonl")) << R"({"id": "n-2", "source": "research", "title": "T", "text": "Aspirin."})";
    std::ofstream(dir.str("beir.jsonl")) << R"({"_id": "203", "title": "", "text": "Aspirin."})";
  }
  mc::Format chosen = mc::Format::automatic;
  auto native = mc::open_reader(dir.str("native.jsonl"), mc::Format::automatic, &chosen);
  ASSERT_TRUE(native.ok()) << native.error().message;
  EXPECT_EQ(chosen, mc::Format::medsearch);
  auto beir = mc::open_reader(dir.str("beir.jsonl"), mc::Format::automatic, &chosen);
  ASSERT_TRUE(beir.ok()) << beir.error().message;
  EXPECT_EQ(chosen, mc::Format::beir);
  mc::ReadItem item;
  ASSERT_TRUE((*beir)->next(item));
  ASSERT_TRUE(item.record) << item.error.message;
  EXPECT_EQ(item.record->id, "203");
}

TEST(Readers, MissingFileAndUndetectableFormat) {
  TempDir dir;
  auto missing = mc::open_reader(dir.str("nope.jsonl"), mc::Format::automatic);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, mc::ErrorCode::unavailable);
  {
    std::ofstream f(dir.str("other.jsonl"));
    f << R"({"name": "not a record"})" << "\n";
  }
  auto unknown = mc::open_reader(dir.str("other.jsonl"), mc::Format::automatic);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, mc::ErrorCode::parse);
}

// The indexer's content hash reads record_json_text: it must be nlohmann's dump of
// record_to_json byte for byte, or every record of an existing index would look changed.
TEST(RecordJsonText, IsNlohmannsDumpByteForByte) {
  RandomText random;
  auto& rng = random.rng;
  auto text = [&](std::size_t max_pieces) { return random.text(max_pieces); };
  auto texts = [&] { return random.texts(); };
  for (int round = 0; round < 500; ++round) {
    mc::Record r;
    r.id = text(4);
    r.source = static_cast<mc::Source>(rng() % 3);
    r.title = text(8);
    r.sections.resize(rng() % 4);
    for (auto& s : r.sections) s = {text(3), rng() % 2 ? text(2) : std::string(), text(40)};
    r.citation.organisation = text(2);
    r.citation.authors = texts();
    r.citation.journal = text(2);
    r.citation.year = rng() % 3 == 0 ? 0 : static_cast<int>(1900 + rng() % 130);
    r.citation.pmid = text(1);
    r.citation.doi = text(1);
    r.published = text(1);
    r.updated = text(1);
    r.drugs = texts();
    r.conditions = texts();
    r.mesh_terms = texts();
    r.publication_types = texts();
    r.evidence_level = text(1);
    r.review_status = text(1);
    r.version = rng() % 2 ? 0 : static_cast<long long>(rng()) - (1LL << 31);
    ASSERT_EQ(mc::record_json_text(r), mc::record_to_json(r).dump());
  }
  // Invalid UTF-8 is nlohmann's to refuse, as before: at the top, in a section, in the citation.
  mc::Record bad;
  bad.title = "\xff";
  EXPECT_THROW(mc::record_json_text(bad), nlohmann::json::exception);
  bad.title = "t";
  bad.sections = {{"", "", "ok \xc3"}};
  EXPECT_THROW(mc::record_json_text(bad), nlohmann::json::exception);
  bad.sections = {{"", "", "ok"}};
  bad.citation.authors = {"A", "\xe2\x82"};
  EXPECT_THROW(mc::record_json_text(bad), nlohmann::json::exception);
  mc::schema::StoredPassage passage;
  passage.citation.journal = "\xff";
  EXPECT_THROW(mc::schema::encode_document_data(passage), nlohmann::json::exception);
}
