// Tests of the FDA drug label readers: openFDA JSON (bulk files and JSON Lines) on fixtures
// written for these tests, and DailyMed SPL XML on the six real labels in
// ../shared/data/fda-spl-labels-sample (skipped when absent) and a small invented label.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "corpus/formats.h"
#include "corpus/label_sections.h"
#include "corpus/reader.h"
#include "tests/test_util.h"

namespace medsearch::test {
namespace {

using corpus::Format;
using corpus::ReadItem;
using corpus::Record;
using corpus::Section;

struct ReadResult {
  std::vector<Record> records;
  std::vector<std::string> record_locations;
  std::vector<ReadItem> rejects;
};

ReadResult read_file(const std::filesystem::path& path, Format format = Format::automatic) {
  ReadResult out;
  auto reader = corpus::open_reader(path.string(), format);
  EXPECT_TRUE(reader.ok()) << path << ": " << (reader.ok() ? "" : reader.error().message);
  if (!reader.ok()) return out;
  ReadItem item;
  while ((*reader)->next(item)) {
    if (item.record) {
      out.records.push_back(*item.record);
      out.record_locations.push_back(item.location);
    } else {
      out.rejects.push_back(item);
    }
  }
  return out;
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Compresses a file with zlib in-process.
void gzip_file(const std::filesystem::path& from, const std::string& to) {
  const std::string bytes = read_bytes(from);
  gzFile gz = gzopen(to.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
}

std::string lower(std::string s) { return corpus::label::lower_ascii(s); }

const Section* find_section(const Record& r, std::string_view key) {
  for (const auto& s : r.sections)
    if (s.key == key) return &s;
  return nullptr;
}

std::vector<const Section*> sections_with_key(const Record& r, std::string_view key) {
  std::vector<const Section*> out;
  for (const auto& s : r.sections)
    if (s.key == key) out.push_back(&s);
  return out;
}

bool has_drug(const Record& r, std::string_view drug) {
  return std::find(r.drugs.begin(), r.drugs.end(), drug) != r.drugs.end();
}

Format detect(const std::filesystem::path& path) {
  auto in = corpus::InputFile::open(path.string());
  EXPECT_TRUE(in.ok()) << path;
  if (!in.ok()) return Format::automatic;
  return corpus::detect_format((*in)->peek(1 << 16), path.string());
}

std::filesystem::path fda_fixture(const std::string& name) { return fixture("fda/" + name); }

// ---- section table ----------------------------------------------------------------------------

TEST(LabelSections, KeysAndCodesAreUniqueAndKeysAreSlugs) {
  const auto table = corpus::label::label_sections();
  for (std::size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(corpus::section_key(table[i].key), table[i].key) << table[i].key;
    for (std::size_t j = i + 1; j < table.size(); ++j) {
      EXPECT_NE(table[i].key, table[j].key);
      if (!table[i].loinc.empty()) {
        EXPECT_NE(table[i].loinc, table[j].loinc) << table[i].key << " " << table[j].key;
      }
    }
  }
}

TEST(LabelSections, MapsTheCodesBothReadersNeed) {
  const std::pair<std::string_view, std::string_view> expected[] = {
      {"34066-1", "boxed_warning"},      {"34067-9", "indications_and_usage"},
      {"34068-7", "dosage_and_administration"}, {"34070-3", "contraindications"},
      {"43685-7", "warnings_and_cautions"}, {"34071-1", "warnings"},
      {"42232-9", "precautions"},        {"34084-4", "adverse_reactions"},
      {"34073-7", "drug_interactions"},  {"43684-0", "use_in_specific_populations"},
      {"42228-7", "pregnancy"},          {"34088-5", "overdosage"},
      {"34089-3", "description"},        {"34090-1", "clinical_pharmacology"},
      {"43679-0", "mechanism_of_action"}, {"34092-7", "clinical_studies"},
      {"34069-5", "how_supplied"},       {"34076-0", "information_for_patients"},
      {"55106-9", "active_ingredient"},  {"55105-1", "purpose"},
      {"50570-1", "do_not_use"},         {"50569-3", "ask_doctor"},
      {"50568-5", "ask_doctor_or_pharmacist"}, {"50566-9", "stop_use"},
      {"50567-7", "when_using"},         {"50565-1", "keep_out_of_reach_of_children"},
      {"60561-8", "other_safety_information"}, {"51727-6", "inactive_ingredient"},
      {"53413-1", "questions"},          {"42229-5", "spl_unclassified_section"},
      {"42231-1", "spl_medguide"},       {"51945-4", "package_label_principal_display_panel"},
  };
  for (const auto& [code, key] : expected) {
    const auto* s = corpus::label::find_section_by_loinc(code);
    ASSERT_NE(s, nullptr) << code;
    EXPECT_EQ(s->key, key) << code;
  }
  EXPECT_FALSE(corpus::label::find_section_by_loinc("51945-4")->indexed);
  EXPECT_TRUE(corpus::label::is_openfda_metadata_field("dosage_and_administration_table"));
  EXPECT_TRUE(corpus::label::is_openfda_metadata_field("spl_product_data_elements"));
  EXPECT_FALSE(corpus::label::is_openfda_metadata_field("boxed_warning"));
  EXPECT_EQ(corpus::label::heading_from_field("drug_and_or_laboratory_test"), "Drug and or Laboratory Test");
}

// Every LOINC code in openFDA's own section tables (shared data) is in ours.
TEST(LabelSections, CoversOpenFdaSectionTables) {
  const auto dir = data_dir() / "fda-spl-labels-sample";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " not found";
  for (const char* name : {"sections.csv", "loinc.csv"}) {
    std::ifstream in(dir / name);
    std::string line;
    int codes = 0;
    while (std::getline(in, line)) {
      std::string code = line.substr(0, line.find(','));
      code.erase(std::remove(code.begin(), code.end(), '"'), code.end());
      if (code.empty() || code == "loinc") continue;
      ++codes;
      EXPECT_NE(corpus::label::find_section_by_loinc(code), nullptr) << name << ": " << line;
    }
    EXPECT_EQ(codes, 88) << name;
  }
}

// ---- openFDA ----------------------------------------------------------------------------------

TEST(OpenFda, BulkFileReadsEveryResultIncludingTwoVersionsOfOneLabel) {
  const auto path = fda_fixture("labels-bulk.json");
  const ReadResult got = read_file(path);
  ASSERT_EQ(got.records.size(), 3u);
  EXPECT_EQ(got.rejects.size(), 0u);
  EXPECT_EQ(got.record_locations[0], path.string() + ":results[0]");
  EXPECT_EQ(got.record_locations[2], path.string() + ":results[2]");

  const Record& a1 = got.records[0];
  EXPECT_EQ(a1.id, "fda-0a1b2c3d-0000-4000-8000-000000000001");
  EXPECT_EQ(a1.source, corpus::Source::fda_label);
  EXPECT_EQ(a1.version, 1);
  EXPECT_EQ(a1.updated, "2019-03-15");
  EXPECT_EQ(a1.title, "Examplinib label");
  EXPECT_EQ(a1.citation.organisation, "U.S. Food and Drug Administration");
  EXPECT_EQ(a1.citation.title, "Examplinib label");
  EXPECT_EQ(a1.citation.publisher, "Testwell Pharma Inc.");
  EXPECT_EQ(a1.citation.year, 2019);
  EXPECT_EQ(a1.citation.set_id, "0a1b2c3d-0000-4000-8000-000000000001");
  EXPECT_EQ(a1.citation.url,
            "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=0a1b2c3d-0000-4000-8000-000000000001");
  EXPECT_EQ(a1.drugs, (std::vector<std::string>{"Examplinib"}));  // generic and substance fold into it
  // Table order; *_table, package label and product data are not sections.
  ASSERT_EQ(a1.sections.size(), 3u);
  EXPECT_EQ(a1.sections[0].key, "boxed_warning");
  EXPECT_EQ(a1.sections[0].heading, "Boxed Warning");
  EXPECT_EQ(a1.sections[1].key, "indications_and_usage");
  EXPECT_EQ(a1.sections[2].key, "dosage_and_administration");
  EXPECT_EQ(a1.sections[2].heading, "Dosage and Administration");
  EXPECT_EQ(a1.sections[2].text,
            "The recommended dose is 20 mg orally once daily with food.\n\n"
            "Reduce the dose to 10 mg once daily in hepatic impairment.");

  // The same set id again, a later version: the indexer keeps the higher one.
  const Record& a2 = got.records[2];
  EXPECT_EQ(a2.id, a1.id);
  EXPECT_EQ(a2.version, 2);
  EXPECT_EQ(a2.updated, "2020-01-10");

  // Unknown text fields follow the known ones, sorted by name, with readable headings.
  const Record& b = got.records[1];
  ASSERT_EQ(b.sections.size(), 5u);
  EXPECT_EQ(b.sections[3].key, "abuse_potential_notes");
  EXPECT_EQ(b.sections[3].heading, "Abuse Potential Notes");
  EXPECT_EQ(b.sections[4].key, "zz_investigational_notes");
  EXPECT_EQ(b.title, "Samplozide label");
  EXPECT_EQ(b.version, 4);
}

TEST(OpenFda, JsonLinesReadWithLineLocationsAndIdFallback) {
  const auto path = fda_fixture("labels.jsonl");
  const ReadResult got = read_file(path);
  ASSERT_EQ(got.records.size(), 2u);
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.record_locations[0], path.string() + ":1");
  EXPECT_EQ(got.record_locations[1], path.string() + ":3");  // line 2 is blank
  EXPECT_EQ(got.records[0].title, "Demoxetine (demoxetine hydrochloride) label");
  EXPECT_EQ(got.records[0].drugs, (std::vector<std::string>{"Demoxetine", "demoxetine hydrochloride"}));
  EXPECT_EQ(got.records[0].version, 7);
  // No set_id: the document id names the record; no names: a title from the id.
  EXPECT_EQ(got.records[1].id, "fda-doc-d1");
  EXPECT_EQ(got.records[1].title, "FDA drug label doc-d1");
  EXPECT_NE(find_section(got.records[1], "purpose"), nullptr);
  EXPECT_NE(find_section(got.records[1], "keep_out_of_reach_of_children"), nullptr);

  EXPECT_EQ(got.rejects[0].location, path.string() + ":4");
  EXPECT_NE(got.rejects[0].error.message.find("neither 'set_id' nor 'id'"), std::string::npos)
      << got.rejects[0].error.message;
  EXPECT_NE(got.rejects[0].raw.find("Nameless"), std::string::npos);
}

TEST(OpenFda, BadResultsAreRejectedAloneWithTheirLocations) {
  const auto path = fda_fixture("labels-bad.json");
  const ReadResult got = read_file(path);
  ASSERT_EQ(got.records.size(), 2u);
  ASSERT_EQ(got.rejects.size(), 3u);
  EXPECT_EQ(got.record_locations[0], path.string() + ":results[0]");
  EXPECT_EQ(got.record_locations[1], path.string() + ":results[4]");
  EXPECT_EQ(got.records[1].id, "fda-0a1b2c3d-0000-4000-8000-000000000005");

  EXPECT_EQ(got.rejects[0].location, path.string() + ":results[1]");
  EXPECT_EQ(got.rejects[0].error.message,
            "field 'set_id': is required (the label has neither 'set_id' nor 'id' to make a record id from)");
  EXPECT_EQ(got.rejects[1].location, path.string() + ":results[2]");
  EXPECT_EQ(got.rejects[1].error.code, corpus::ErrorCode::parse);
  EXPECT_NE(got.rejects[1].error.message.find("invalid UTF-8 at byte"), std::string::npos);
  EXPECT_EQ(got.rejects[2].location, path.string() + ":results[3]");
  EXPECT_NE(got.rejects[2].error.message.find("invalid JSON at line 1, column"), std::string::npos)
      << got.rejects[2].error.message;
  for (const auto& r : got.rejects) EXPECT_FALSE(r.raw.empty());
}

TEST(OpenFda, TruncatedBulkFileRejectsOnlyItsLastResult) {
  const auto path = fda_fixture("labels-truncated.json");
  const ReadResult got = read_file(path);
  EXPECT_EQ(got.records.size(), 2u);
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.rejects[0].location, path.string() + ":results[2]");
  EXPECT_NE(got.rejects[0].error.message.find("ends inside results[2]"), std::string::npos);
  EXPECT_NE(got.rejects[0].raw.find("doc-a2"), std::string::npos);
}

TEST(OpenFda, GzipBulkFileReadsTheSame) {
  TempDir dir;
  gzip_file(fda_fixture("labels-bulk.json"), dir.str("labels-bulk.json.gz"));
  EXPECT_EQ(detect(dir.str("labels-bulk.json.gz")), Format::openfda);
  const ReadResult plain = read_file(fda_fixture("labels-bulk.json"));
  const ReadResult gz = read_file(dir.str("labels-bulk.json.gz"));
  ASSERT_EQ(gz.records.size(), 3u);
  EXPECT_EQ(gz.rejects.size(), 0u);
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_EQ(corpus::record_to_json(gz.records[i]), corpus::record_to_json(plain.records[i]));
  EXPECT_EQ(gz.record_locations[1], dir.str("labels-bulk.json.gz") + ":results[1]");
}

// A 50 MB field is read, not rejected: nothing in a Record limits a section's size, the framer
// copies the element once, and the limit on one element (256 MiB) is far above it. Cutting the
// text would lose data silently; the indexer splits it into passages like any long section.
TEST(OpenFda, FiftyMegabyteFieldReads) {
  TempDir dir;
  const std::string sentence = "Test data: an overlong description sentence for the reader test. ";
  std::string big;
  big.reserve(50u << 20);
  while (big.size() < (50u << 20)) big += sentence;
  const std::string text = "{\"meta\": {}, \"results\": [{\"set_id\": \"big-0001\", \"openfda\": {\"brand_name\": [\"Hugeol\"]}, "
                           "\"description\": [\"" + big + "\"]}, {\"set_id\": \"small-0002\", \"purpose\": [\"After the big one.\"]}]}";
  write_bytes(dir.str("big.json"), text);
  const ReadResult got = read_file(dir.str("big.json"));
  ASSERT_EQ(got.rejects.size(), 0u);
  ASSERT_EQ(got.records.size(), 2u);
  EXPECT_EQ(got.records[0].id, "fda-big-0001");
  ASSERT_EQ(got.records[0].sections.size(), 1u);
  EXPECT_EQ(got.records[0].sections[0].text.size(), big.size());
  EXPECT_EQ(got.records[1].id, "fda-small-0002");
}

TEST(OpenFda, NotABulkObjectIsRejectedClearly) {
  TempDir dir;
  write_bytes(dir.str("meta-only.json"), "{\"meta\": {\"results\": {\"total\": 0}}}\n");
  ReadResult got = read_file(dir.str("meta-only.json"));
  EXPECT_EQ(got.records.size(), 0u);
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.rejects[0].error.message, "the file has no \"results\" array");

  write_bytes(dir.str("empty-results.json"), "{\"meta\": {}, \"results\": []}");
  got = read_file(dir.str("empty-results.json"));
  EXPECT_EQ(got.records.size() + got.rejects.size(), 0u);

  // Elements that are not objects are rejected one by one.
  write_bytes(dir.str("scalars.json"), "{\"meta\": {}, \"results\": [42, \"text\", null]}");
  got = read_file(dir.str("scalars.json"), Format::openfda);
  ASSERT_EQ(got.rejects.size(), 3u);
  EXPECT_EQ(got.rejects[2].location, dir.str("scalars.json") + ":results[2]");
  EXPECT_EQ(got.rejects[0].error.message, "an openFDA label must be a JSON object");
}

TEST(OpenFda, Detection) {
  EXPECT_EQ(detect(fda_fixture("labels-bulk.json")), Format::openfda);
  EXPECT_EQ(detect(fda_fixture("labels-bad.json")), Format::openfda);
  EXPECT_EQ(detect(fda_fixture("labels-truncated.json")), Format::openfda);
  EXPECT_EQ(detect(fda_fixture("labels.jsonl")), Format::openfda);
  // Native and BEIR lines are not claimed, even a native fda_label with a citation set_id.
  EXPECT_EQ(detect(fixture("golden.jsonl")), Format::medsearch);
  EXPECT_EQ(detect(fixture("beir/corpus.jsonl")), Format::beir);
  EXPECT_FALSE(corpus::formats::looks_like_openfda(read_bytes(fixture("golden.jsonl"))));
  EXPECT_FALSE(corpus::formats::looks_like_openfda(read_bytes(fixture("beir/corpus.jsonl"))));
  EXPECT_FALSE(corpus::formats::looks_like_openfda(
      R"({"id":"x","source":"fda_label","title":"t","text":"y","citation":{"set_id":"s"}})"
      "\n"));
  // A label line longer than the head is recognised from its first members.
  EXPECT_TRUE(corpus::formats::looks_like_openfda(R"({"set_id": "abc", "effective_time": "2020)"));
  EXPECT_TRUE(corpus::formats::looks_like_openfda("\xEF\xBB\xBF{\n  \"meta\": {\"disclaimer\": \"x\"}"));
  EXPECT_FALSE(corpus::formats::looks_like_openfda(""));
  EXPECT_FALSE(corpus::formats::looks_like_openfda("<document/>"));
}

// ---- SPL ---------------------------------------------------------------------------------------

TEST(Spl, InventedLabelCoversNarrativeAndNesting) {
  const auto path = fda_fixture("mini-spl.xml");
  EXPECT_EQ(detect(path), Format::spl);
  const ReadResult got = read_file(path);
  ASSERT_EQ(got.records.size(), 1u);
  ASSERT_EQ(got.rejects.size(), 0u);
  const Record& r = got.records[0];
  EXPECT_EQ(got.record_locations[0], path.string());
  EXPECT_EQ(r.id, "fda-0a1b2c3d-0000-4000-8000-000000000001");
  EXPECT_EQ(r.version, 2);
  EXPECT_EQ(r.updated, "2020-01-10");
  EXPECT_EQ(r.citation.year, 2020);
  // Highlights boilerplate and the approval year are cut from the title.
  EXPECT_EQ(r.title, "EXAMPLINIB\xC2\xAE (examplinib) tablets, for oral use");
  EXPECT_EQ(r.citation.publisher, "Testwell Pharma Inc.");
  EXPECT_EQ(r.drugs, (std::vector<std::string>{"Examplinib", "examplinib mesylate"}));  // no inactive lactose

  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& s : r.sections) keys.emplace_back(s.key, s.heading);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"boxed_warning", "Boxed Warning"},
      {"indications_and_usage", "Indications and Usage: 1.1 Chronic Test Syndrome"},
      {"dosage_and_administration", "Dosage and Administration"},
      {"dosage_and_administration", "Dosage and Administration"},  // a nested "boxed warning" is emphasis
      {"contraindications", "Contraindications: 4.1 Active liver disease"},
      {"pregnancy", "Use in Specific Populations: 8.1 Pregnancy"},
      {"spl_unclassified_section", "Additional Information"},
  };  // no package label
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(r.sections[0].text,
            "WARNING: HEPATOTOXICITY\nExamplinib can cause severe liver injury. Monitor liver tests every two weeks.");
  EXPECT_EQ(r.sections[2].text,
            "Take with food.\n"
            "Usual dose: 20 mg once daily.\n"
            "Hepatic impairment: 10 mg once daily.\n"
            "Table 1. Dose by body weight\n"
            "Weight | Dose\n"
            "under 50 kg | 10 mg\n"
            "50 kg or more | 20 mg\n"
            "Footnote: doses are for test purposes.");
  EXPECT_EQ(r.sections[4].text, "4.1 Active liver disease");
}

TEST(Spl, BrokenXmlIsOneRejectWithItsLine) {
  TempDir dir;
  std::string text = read_bytes(fda_fixture("mini-spl.xml"));
  // Break the <paragraph> of the boxed warning: close it with the wrong tag.
  const auto at = text.find("every two weeks.</paragraph>");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("every two weeks.</paragraph>").size(), "every two weeks.</para>");
  const std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
  write_bytes(dir.str("broken.xml"), text);
  const ReadResult got = read_file(dir.str("broken.xml"));
  EXPECT_EQ(got.records.size(), 0u);
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.rejects[0].location, dir.str("broken.xml") + ":" + std::to_string(line));
  EXPECT_EQ(got.rejects[0].error.code, corpus::ErrorCode::parse);
  EXPECT_NE(got.rejects[0].error.message.find("invalid XML: "), std::string::npos) << got.rejects[0].error.message;
  EXPECT_EQ(got.rejects[0].raw, text);
}

// Text, sections and products are read by recursion: 100,000 nested elements overflowed the
// stack (a crash) instead of rejecting the file; a few hundred levels still read.
TEST(Spl, DeepNestingIsRejectedNotACrash) {
  TempDir dir;
  const std::string text = read_bytes(fda_fixture("mini-spl.xml"));
  const std::string marker = "every two weeks.</paragraph>";
  const auto at = text.find(marker);
  ASSERT_NE(at, std::string::npos);
  const std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
  auto nested = [&](std::size_t depth) {
    std::string t = text;
    std::string inner;
    for (std::size_t i = 0; i < depth; ++i) inner += "<content>";
    inner += "deep";
    for (std::size_t i = 0; i < depth; ++i) inner += "</content>";
    t.insert(at + marker.size() - std::string("</paragraph>").size(), inner);
    return t;
  };
  write_bytes(dir.str("deep.xml"), nested(100000));
  ReadResult got = read_file(dir.str("deep.xml"));
  EXPECT_EQ(got.records.size(), 0u);
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.rejects[0].error.code, corpus::ErrorCode::parse);
  EXPECT_NE(got.rejects[0].error.message.find("nested more than"), std::string::npos) << got.rejects[0].error.message;
  EXPECT_EQ(got.rejects[0].location, dir.str("deep.xml") + ":" + std::to_string(line));

  write_bytes(dir.str("nested.xml"), nested(300));
  got = read_file(dir.str("nested.xml"));
  EXPECT_TRUE(got.rejects.empty());
  ASSERT_EQ(got.records.size(), 1u);
}

TEST(Spl, MissingSetIdAndWrongRootAreRejected) {
  TempDir dir;
  std::string text = read_bytes(fda_fixture("mini-spl.xml"));
  const auto at = text.find("<setId");
  text.erase(at, text.find("/>", at) + 2 - at);
  write_bytes(dir.str("no-set-id.xml"), text);
  ReadResult got = read_file(dir.str("no-set-id.xml"), Format::spl);
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.rejects[0].error.param, "setId");

  write_bytes(dir.str("other.xml"), "<?xml version=\"1.0\"?><PubmedArticleSet/>");
  got = read_file(dir.str("other.xml"), Format::spl);
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_NE(got.rejects[0].error.message.find("root element is <PubmedArticleSet>"), std::string::npos);
}

TEST(Spl, Detection) {
  using corpus::formats::looks_like_spl;
  EXPECT_TRUE(looks_like_spl("<document xmlns=\"urn:hl7-org:v3\"><id/>"));
  EXPECT_TRUE(looks_like_spl("\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<?xml-stylesheet href=\"x\"?>\n<!-- c -->\n"
                             "<v3:document xmlns:v3='urn:hl7-org:v3'>"));
  EXPECT_FALSE(looks_like_spl("<document><id/>"));  // no HL7 namespace
  EXPECT_FALSE(looks_like_spl("<?xml version=\"1.0\"?><PubmedArticleSet xmlns=\"urn:hl7-org:v3\">"));
  EXPECT_FALSE(looks_like_spl("{\"meta\": {}}"));
}

// ---- the real labels -----------------------------------------------------------------------------

std::filesystem::path spl_sample_dir() { return data_dir() / "fda-spl-labels-sample"; }

#define REQUIRE_SPL_SAMPLE()                                                         \
  do {                                                                               \
    if (!std::filesystem::exists(spl_sample_dir()))                                  \
      GTEST_SKIP() << spl_sample_dir() << " not found";                             \
  } while (false)

struct RealLabel {
  std::string file;
  std::string id;
  long long version;
  std::string updated;
  std::string title;
  std::string publisher;
  std::vector<std::string> drugs;  // some of them
  std::size_t sections;
};

const std::vector<RealLabel>& real_labels() {
  static const std::vector<RealLabel> labels = {
      {"humira.xml", "fda-608d4f0d-b19f-46d3-749a-7159aa5f933d", 1560, "2013-09-30",
       "HUMIRA (adalimumab) injection, for subcutaneous use", "AbbVie Inc.", {"Humira", "adalimumab"}, 62},
      {"lipitor-orig.xml", "fda-c6e131fe-e7df-4876-83f7-9156fc4e8228", 11, "2014-01-13",
       "LIPITOR\xC2\xAE (atorvastatin calcium) Tablets for oral administration", "Parke-Davis Div of Pfizer Inc",
       {"Lipitor", "atorvastatin calcium", "atorvastatin"}, 80},
      {"lipitor-repack.xml", "fda-17a163ef-b349-4e32-bc8c-b02bac7f65d6", 8, "2012-02-29",
       "LIPITOR\xC2\xAE (atorvastatin calcium) Tablets for oral administration", "PD-Rx Pharmaceuticals, Inc.",
       {"Lipitor", "atorvastatin"}, 80},
      {"viagra-64f8040f-938d-4236-8e22-c838c9b5f8da.xml", "fda-0b0be196-0c62-461c-94f4-9a35339b4501", 20,
       "2017-11-07", "VIAGRA\xC2\xAE (sildenafil citrate) tablets, for oral use", "Pfizer Laboratories Div Pfizer Inc",
       {"Viagra", "sildenafil citrate", "sildenafil"}, 88},
      {"no-title.xml", "fda-0027b8a3-73bf-4005-a7e3-b035f451a861", 1, "2010-07-28", "Haloperidol label",
       "Contract Pharmacy Services-PA", {"Haloperidol"}, 35},
      {"cough.xml", "fda-00f66f25-3469-4c16-9baf-fba21e9628bd", 1, "2011-04-26",
       "TRIAMINIC Childrens Night Time Cold and Cough (Diphenhydramine HCl, Phenylephrine HCl) label",
       "Novartis Consumer Health, Inc.", {"TRIAMINIC", "diphenhydramine hydrochloride", "phenylephrine"}, 16},
  };
  return labels;
}

Record read_one(const std::string& file) {
  const ReadResult got = read_file(spl_sample_dir() / file);
  EXPECT_EQ(got.rejects.size(), 0u) << file << ": "
                                    << (got.rejects.empty() ? "" : got.rejects[0].error.message);
  EXPECT_EQ(got.records.size(), 1u) << file;
  return got.records.empty() ? Record{} : got.records[0];
}

TEST(SplReal, EverySampleLabelReads) {
  REQUIRE_SPL_SAMPLE();
  for (const auto& expected : real_labels()) {
    SCOPED_TRACE(expected.file);
    EXPECT_EQ(detect(spl_sample_dir() / expected.file), Format::spl);
    const Record r = read_one(expected.file);
    EXPECT_TRUE(corpus::validate(r).ok());
    EXPECT_EQ(r.id, expected.id);
    EXPECT_EQ(r.source, corpus::Source::fda_label);
    EXPECT_EQ(r.version, expected.version);
    EXPECT_EQ(r.updated, expected.updated);
    EXPECT_EQ(r.citation.year, std::stoi(expected.updated.substr(0, 4)));
    EXPECT_EQ(r.title, expected.title);
    EXPECT_EQ(r.citation.title, expected.title);
    EXPECT_EQ(r.citation.publisher, expected.publisher);
    EXPECT_EQ(r.citation.organisation, "U.S. Food and Drug Administration");
    EXPECT_EQ(r.citation.set_id, expected.id.substr(4));
    EXPECT_EQ(r.citation.url, "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=" + expected.id.substr(4));
    for (const auto& d : expected.drugs) EXPECT_TRUE(has_drug(r, d)) << d;
    EXPECT_EQ(r.sections.size(), expected.sections);
    for (const auto& s : r.sections) {
      EXPECT_FALSE(s.text.empty());
      EXPECT_FALSE(s.key.empty());
      EXPECT_NE(s.key, "package_label_principal_display_panel");
    }
  }
}

TEST(SplReal, HumiraHasItsBoxedWarning) {
  REQUIRE_SPL_SAMPLE();
  const Record r = read_one("humira.xml");
  ASSERT_FALSE(r.sections.empty());
  const Section& boxed = r.sections[0];
  EXPECT_EQ(boxed.key, "boxed_warning");
  EXPECT_EQ(boxed.heading, "Boxed Warning");
  EXPECT_EQ(boxed.text.rfind("WARNING: SERIOUS INFECTIONS AND MALIGNANCY\n", 0), 0u);
  EXPECT_NE(lower(boxed.text).find("serious infections"), std::string::npos);
  EXPECT_NE(lower(boxed.text).find("malignanc"), std::string::npos);
  EXPECT_NE(boxed.text.find("tuberculosis"), std::string::npos);
  // Subsections keep their parent's key and say where they are.
  const auto warnings = sections_with_key(r, "warnings_and_cautions");
  ASSERT_EQ(warnings.size(), 11u);
  EXPECT_EQ(warnings[0]->heading, "Warnings and Precautions: 5.1 Serious Infections");
  const Section* pregnancy = find_section(r, "pregnancy");
  ASSERT_NE(pregnancy, nullptr);
  EXPECT_EQ(pregnancy->heading, "Use in Specific Populations: 8.1 Pregnancy");
  EXPECT_NE(find_section(r, "spl_medguide"), nullptr);
}

TEST(SplReal, LipitorHasDosageAndAdministration) {
  REQUIRE_SPL_SAMPLE();
  const Record r = read_one("lipitor-orig.xml");
  const auto dosage = sections_with_key(r, "dosage_and_administration");
  ASSERT_EQ(dosage.size(), 6u);
  EXPECT_EQ(dosage[0]->heading.rfind("Dosage and Administration: 2.1 Hyperlipidemia", 0), 0u);
  EXPECT_NE(dosage[0]->text.find("mg"), std::string::npos);
  EXPECT_NE(dosage[0]->text.find("10 or 20 mg once daily"), std::string::npos) << dosage[0]->text;
  // Contraindications that are only titles keep their words.
  const auto contra = sections_with_key(r, "contraindications");
  ASSERT_EQ(contra.size(), 2u);
  EXPECT_EQ(contra[0]->text.rfind("4.1 Active liver disease", 0), 0u);
  // Tables become rows of cells.
  bool table_row = false;
  for (const auto& s : r.sections) table_row = table_row || s.text.find(" | ") != std::string::npos;
  EXPECT_TRUE(table_row);
}

TEST(SplReal, OldFormatLabelWithoutTitle) {
  REQUIRE_SPL_SAMPLE();
  const Record r = read_one("no-title.xml");
  ASSERT_FALSE(r.sections.empty());
  EXPECT_EQ(r.sections[0].key, "boxed_warning");
  EXPECT_NE(r.sections[0].text.find("Increased Mortality in Elderly Patients with Dementia-Related Psychosis"),
            std::string::npos);
  // Only the top-level box is the boxed warning; boxes inside dosing are emphasis.
  EXPECT_EQ(sections_with_key(r, "boxed_warning").size(), 1u);
  EXPECT_EQ(sections_with_key(r, "warnings").size(), 7u);
  EXPECT_NE(find_section(r, "precautions"), nullptr);
  const Section* geriatric = find_section(r, "geriatric_use");
  ASSERT_NE(geriatric, nullptr);
  EXPECT_EQ(geriatric->heading, "Precautions: Geriatric Use");
  // Ten subsections under Dosage and Administration, one of them only a title ("Oral Administration").
  EXPECT_EQ(sections_with_key(r, "dosage_and_administration").size(), 9u);
}

TEST(SplReal, OtcDrugFactsLabel) {
  REQUIRE_SPL_SAMPLE();
  const Record r = read_one("cough.xml");
  const std::vector<std::string> keys = [&] {
    std::vector<std::string> k;
    for (const auto& s : r.sections) k.push_back(s.key);
    return k;
  }();
  ASSERT_GE(keys.size(), 3u);
  EXPECT_EQ(keys[0], "active_ingredient");
  EXPECT_EQ(keys[1], "purpose");
  EXPECT_EQ(keys[2], "indications_and_usage");
  EXPECT_NE(find_section(r, "active_ingredient")->text.find("Diphenhydramine HCl 6.25 mg"), std::string::npos);
  EXPECT_NE(find_section(r, "purpose")->text.find("Antihistamine/cough suppressant"), std::string::npos);
  for (const char* key : {"do_not_use", "ask_doctor", "ask_doctor_or_pharmacist", "when_using", "stop_use",
                          "keep_out_of_reach_of_children", "inactive_ingredient", "questions"})
    EXPECT_NE(find_section(r, key), nullptr) << key;
  EXPECT_EQ(find_section(r, "do_not_use")->heading, "Warnings: Do not use");
  const Section* directions = find_section(r, "dosage_and_administration");
  ASSERT_NE(directions, nullptr);
  EXPECT_EQ(directions->text.rfind("Directions\n", 0), 0u);
  EXPECT_NE(directions->text.find("children 6 to under 12 years of age | 2 teaspoonfuls (10 mL)"), std::string::npos)
      << directions->text;
}

TEST(SplReal, GzipCompressedLabelReadsTheSame) {
  REQUIRE_SPL_SAMPLE();
  TempDir dir;
  gzip_file(spl_sample_dir() / "humira.xml", dir.str("humira.xml.gz"));
  EXPECT_EQ(detect(dir.str("humira.xml.gz")), Format::spl);
  const ReadResult gz = read_file(dir.str("humira.xml.gz"));
  ASSERT_EQ(gz.records.size(), 1u);
  EXPECT_EQ(gz.rejects.size(), 0u);
  EXPECT_EQ(corpus::record_to_json(gz.records[0]), corpus::record_to_json(read_one("humira.xml")));
}

// ---- thread safety -------------------------------------------------------------------------------

// Frames every item of the given files, then parses them sequentially and from two threads at
// once (interleaved), and compares.
void expect_parallel_parse_matches(const std::vector<std::filesystem::path>& files) {
  std::vector<std::unique_ptr<corpus::RecordReader>> readers;
  std::vector<std::pair<const corpus::RecordReader*, corpus::RawItem>> items;
  for (const auto& f : files) {
    auto reader = corpus::open_reader(f.string(), Format::automatic);
    ASSERT_TRUE(reader.ok()) << f;
    corpus::RawItem raw;
    while ((*reader)->next_raw(raw)) items.emplace_back(reader->get(), raw);
    readers.push_back(std::move(reader.value()));
  }
  ASSERT_GE(items.size(), 2u);
  auto describe = [](const std::vector<ReadItem>& out) {
    std::string s;
    for (const auto& item : out)
      s += item.location + " " + (item.record ? corpus::record_to_json(*item.record).dump() : item.error.message) + "\n";
    return s;
  };
  std::vector<std::string> sequential(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::vector<ReadItem> out;
    items[i].first->parse(items[i].second, out);
    sequential[i] = describe(out);
  }
  std::vector<std::string> parallel(items.size());
  auto work = [&](std::size_t first) {
    for (int round = 0; round < 2; ++round) {
      for (std::size_t i = first; i < items.size(); i += 2) {
        std::vector<ReadItem> out;
        items[i].first->parse(items[i].second, out);
        parallel[i] = describe(out);
      }
    }
  };
  std::thread a(work, 0);
  std::thread b(work, 1);
  a.join();
  b.join();
  EXPECT_EQ(parallel, sequential);
}

TEST(ThreadSafety, OpenFdaItemsParseTheSameFromTwoThreads) {
  expect_parallel_parse_matches({fda_fixture("labels-bulk.json"), fda_fixture("labels-bad.json"),
                                 fda_fixture("labels.jsonl"), fda_fixture("labels-truncated.json")});
}

TEST(ThreadSafety, SplItemsParseTheSameFromTwoThreads) {
  std::vector<std::filesystem::path> files = {fda_fixture("mini-spl.xml")};
  if (std::filesystem::exists(spl_sample_dir()))
    for (const auto& l : real_labels()) files.push_back(spl_sample_dir() / l.file);
  else
    files.push_back(fda_fixture("mini-spl.xml"));
  expect_parallel_parse_matches(files);
}

}  // namespace
}  // namespace medsearch::test
