// corpus/vocabulary: the shipped vocabulary loads cleanly, malformed lines are reported with
// their place, and tagging matches whole words, longest first, abbreviations only in capitals.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "corpus/analysis.h"
#include "corpus/vocabulary.h"
#include "tests/test_util.h"

namespace mc = medsearch::corpus;

namespace {

using Tags = std::vector<std::pair<std::string, unsigned>>;

Tags tags(const mc::Vocabulary& v, const std::string& text) {
  const Xapian::Stem stem(mc::kStemLanguage);
  return v.annotate(mc::normalize_for_analysis(text), stem);
}

mc::Vocabulary parse_ok(const std::string& text) {
  auto v = mc::Vocabulary::parse(text, "test.tsv");
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
  return v.ok() ? std::move(v.value()) : mc::Vocabulary{};
}

// The words Xapian's TermGenerator indexes for `text`, in order.
std::vector<std::string> xapian_words(const std::string& text) {
  Xapian::Document doc;
  Xapian::TermGenerator gen;
  gen.set_document(doc);
  gen.index_text(text);
  std::vector<std::pair<Xapian::termpos, std::string>> positioned;
  for (auto t = doc.termlist_begin(); t != doc.termlist_end(); ++t)
    for (auto p = t.positionlist_begin(); p != t.positionlist_end(); ++p) positioned.emplace_back(*p, *t);
  std::sort(positioned.begin(), positioned.end());
  std::vector<std::string> out;
  for (auto& [pos, term] : positioned) out.push_back(term);
  return out;
}

}  // namespace

TEST(Vocabulary, ShippedFileLoadsWithoutErrors) {
  auto parsed = mc::Vocabulary::parse(mc::builtin_vocabulary_text(), "corpus/vocabulary/medical.tsv");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const mc::Vocabulary& v = mc::builtin_vocabulary();
  EXPECT_GE(v.concepts().size(), 400u);
  EXPECT_EQ(v.hash(), parsed->hash());
  ASSERT_NE(v.concept_by_id("als"), nullptr);
  EXPECT_EQ(v.concept_by_id("als")->forms[0], "amyotrophic lateral sclerosis");
  // Every synonym key is the key the query parser looks up for that form.
  const Xapian::Stem stem(mc::kStemLanguage);
  for (const auto& c : v.concepts()) {
    for (const auto& form : c.forms) {
      const std::string key = mc::synonym_key(form, stem);
      const auto& entries = v.synonym_entries();
      const bool listed = std::binary_search(entries.begin(), entries.end(), std::make_pair(key, mc::Vocabulary::term(c.id)));
      const bool ambiguous = std::any_of(v.ambiguous().begin(), v.ambiguous().end(),
                                         [&](const mc::AmbiguousForm& a) { return a.key == key; });
      EXPECT_TRUE(listed || ambiguous) << c.id << ": " << form << " (" << key << ")";
    }
  }
}

TEST(Vocabulary, SynonymEntriesAndAmbiguousForms) {
  const mc::Vocabulary& v = mc::builtin_vocabulary();
  const auto& entries = v.synonym_entries();
  auto has = [&](const std::string& key, const std::string& term) {
    return std::binary_search(entries.begin(), entries.end(), std::make_pair(key, term));
  };
  EXPECT_TRUE(has("Zal", "XYals"));  // "ALS": Z + its stem "al", as the parser looks it up
  EXPECT_TRUE(has("lou gehrig's disease", "XYals"));
  EXPECT_TRUE(has("amyotrophic lateral sclerosis", "XYals"));
  EXPECT_TRUE(has("Zmi", "XYmyocardial_infarction"));
  EXPECT_TRUE(has("heart attack", "XYmyocardial_infarction"));
  EXPECT_TRUE(has("Zrilutek", "XYriluzole"));
  EXPECT_TRUE(has("Zparacetamol", "XYacetaminophen"));
  // Ambiguous forms are never synonyms.
  for (const auto& [key, term] : entries) EXPECT_NE(key, "Zms") << term;
  auto ambiguous = [&](const std::string& form) -> const mc::AmbiguousForm* {
    for (const auto& a : v.ambiguous())
      if (a.form == form) return &a;
    return nullptr;
  };
  const mc::AmbiguousForm* ms = ambiguous("MS");
  ASSERT_NE(ms, nullptr);
  EXPECT_EQ(ms->key, "Zms");
  EXPECT_EQ(ms->concepts, (std::vector<std::string>{"multiple_sclerosis", "mitral_stenosis"}));
  ASSERT_NE(ambiguous("PE"), nullptr);
  ASSERT_NE(ambiguous("ASD"), nullptr);
  // An abbreviation whose stem is a common word ("AIDS" -> "aid") is marked ambiguous.
  const mc::AmbiguousForm* aids = ambiguous("AIDS");
  ASSERT_NE(aids, nullptr);
  EXPECT_EQ(aids->key, "Zaid");
  EXPECT_FALSE(has("Zaid", "XYaids"));
}

TEST(Vocabulary, MalformedLinesAreReportedWithTheirPlace) {
  struct Row {
    const char* text;
    const char* expected;  // a substring of the error message
  };
  const Row rows[] = {
      {"als\tdisease\n", "test.tsv:1: expected 3 tab-separated columns"},
      {"# comment\n\nAls\tdisease\tALS\n", "test.tsv:3: id 'Als': use 1-64 characters"},
      {"als\tillness\tALS\n", "test.tsv:1: kind 'illness' is not one of disease,"},
      {"als\tdisease\tALS\nals\tdisease\tamyotrophic lateral sclerosis\n", "test.tsv:2: id 'als' is already defined at line 1"},
      {"als\tdisease\tALS || Lou Gehrig's disease\n", "test.tsv:1: concept 'als': an empty form"},
      {"als\tdisease\tALS | ---\n", "test.tsv:1: concept 'als': form '---' has no words"},
      {"ms\tdisease\tmultiple sclerosis | MS\nmitral\tdisease\tmitral stenosis | MS\n",
       "test.tsv:2: form 'MS' of concept 'mitral' also names concept 'ms' (line 1)"},
      {"a\tdisease\tx | \xff\n", "test.tsv:1: invalid UTF-8"},
      {"a\tdisease\tforms\tnote\textra\n", "found 5"},
  };
  for (const Row& row : rows) {
    auto v = mc::Vocabulary::parse(row.text, "test.tsv");
    ASSERT_FALSE(v.ok()) << row.text;
    EXPECT_EQ(v.error().code, mc::ErrorCode::parse);
    EXPECT_NE(v.error().message.find(row.expected), std::string::npos) << v.error().message;
  }
  // Every bad line is reported, not only the first.
  auto v = mc::Vocabulary::parse("a\tdisease\n\nb\tnope\tB\n", "test.tsv");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("test.tsv:1:"), std::string::npos);
  EXPECT_NE(v.error().message.find("\ntest.tsv:3:"), std::string::npos);
  // Marked ambiguous in both, a shared form is fine; CRLF line ends and a note are accepted.
  EXPECT_TRUE(mc::Vocabulary::parse("ms\tdisease\tmultiple sclerosis | MS?\r\nmitral\tdisease\tmitral stenosis | MS?\tsee above\r\n",
                                    "test.tsv")
                  .ok());
}

TEST(Vocabulary, TagsWholeWordsLongestFirst) {
  const mc::Vocabulary v = parse_ok(
      "als\tdisease\tamyotrophic lateral sclerosis | ALS | Lou Gehrig's disease\n"
      "all\tdisease\tacute lymphoblastic leukemia | ALL\n"
      "htn\tdisease\thypertension | HTN | high blood pressure\n"
      "ph\tdisease\tpulmonary hypertension\n"
      "mi\tdisease\tmyocardial infarction | MI | heart attack\n"
      "ms\tdisease\tmultiple sclerosis | MS?\n");
  EXPECT_EQ(tags(v, "Riluzole in amyotrophic lateral sclerosis (ALS)."), (Tags{{"als", 2}}));
  EXPECT_EQ(tags(v, "Lou Gehrig\u2019s disease"), (Tags{{"als", 1}}));
  // Stems: plurals and other word forms of a name match.
  EXPECT_EQ(tags(v, "two heart attacks"), (Tags{{"mi", 1}}));
  // Longest first: pulmonary hypertension is not hypertension.
  EXPECT_EQ(tags(v, "pulmonary hypertension and hypertension"), (Tags{{"htn", 1}, {"ph", 1}}));
  // Words of a name must be next to each other, in one phrase.
  EXPECT_EQ(tags(v, "the heart. Attack"), Tags{});
  EXPECT_EQ(tags(v, "high blood-pressure"), (Tags{{"htn", 1}}));
  // Short abbreviations only in capitals, beside ordinary words.
  EXPECT_EQ(tags(v, "los pacientes con als"), Tags{});
  EXPECT_EQ(tags(v, "treat all patients"), Tags{});
  EXPECT_EQ(tags(v, "WARNING: TREAT ALL PATIENTS"), Tags{});
  EXPECT_EQ(tags(v, "children with ALL and adults with ALS"), (Tags{{"all", 1}, {"als", 1}}));
  EXPECT_EQ(tags(v, "ALS"), (Tags{{"als", 1}}));
  EXPECT_EQ(tags(v, "an MI in 2010"), (Tags{{"mi", 1}}));
  // Never a prefix, never part of a word.
  EXPECT_EQ(tags(v, "ALSFRS-R scores"), Tags{});
  EXPECT_EQ(tags(v, "hyper tension"), Tags{});
  // Word forms with the same English stem are one word, as everywhere in the index.
  EXPECT_EQ(tags(v, "hypertensive"), (Tags{{"htn", 1}}));
  EXPECT_EQ(tags(v, "MIs and HTNs"), Tags{});
  // Ambiguous names tag nothing.
  EXPECT_EQ(tags(v, "patients with MS"), Tags{});
  EXPECT_EQ(tags(v, "patients with multiple sclerosis"), (Tags{{"ms", 1}}));
  EXPECT_EQ(tags(v, ""), Tags{});
}

TEST(Vocabulary, ShippedVocabularyTagsClinicalText) {
  const mc::Vocabulary& v = mc::builtin_vocabulary();
  auto has = [&](const std::string& text, const std::string& id) {
    const Tags t = tags(v, text);
    return std::any_of(t.begin(), t.end(), [&](const auto& p) { return p.first == id; });
  };
  EXPECT_TRUE(has("Lou Gehrig's disease", "als"));
  EXPECT_TRUE(has("Patients with T2DM and HTN", "type_2_diabetes"));
  EXPECT_TRUE(has("Patients with T2DM and HTN", "hypertension"));
  EXPECT_TRUE(has("acute exacerbations of COPD", "copd"));
  EXPECT_TRUE(has("NIV improved survival", "niv"));
  EXPECT_TRUE(has("β-blockers after MI", "beta_blocker"));
  EXPECT_TRUE(has("beta blockers after MI", "myocardial_infarction"));
  EXPECT_TRUE(has("COVID-19 patients", "covid19"));
  EXPECT_TRUE(has("covid 19 patients", "covid19"));
  EXPECT_TRUE(has("50 \u00B5g daily", "microgram"));
  EXPECT_TRUE(has("50 mcg daily", "microgram"));
  EXPECT_TRUE(has("Tylenol overdose", "acetaminophen"));
  EXPECT_FALSE(has("pulmonary hypertension", "hypertension"));
  EXPECT_FALSE(has("estimated GFR", "hypertension"));
  EXPECT_FALSE(has("first aid", "aids"));
  // No name whose stem is a common word's: "in conjunction with", "even", "immune".
  EXPECT_EQ(tags(v, "used in conjunction with even an immune response"), Tags{});
  EXPECT_FALSE(has("los pacientes con als", "als"));
  EXPECT_FALSE(has("patients with MS", "multiple_sclerosis"));
}

TEST(Vocabulary, FindNamesAConcept) {
  const mc::Vocabulary& v = mc::builtin_vocabulary();
  const Xapian::Stem stem(mc::kStemLanguage);
  EXPECT_EQ(v.find("Rilutek", stem), "riluzole");
  EXPECT_EQ(v.find("RILUZOLE", stem), "riluzole");
  EXPECT_EQ(v.find("Lou Gehrig's disease", stem), "als");
  EXPECT_EQ(v.find("Exservan oral film", stem), std::nullopt);
  EXPECT_EQ(v.find("MS", stem), std::nullopt);  // ambiguous
}

TEST(Vocabulary, WordsSplitAsXapianSplitsThem) {
  const char* texts[] = {
      "Lou Gehrig's disease", "AT&T and M&S", "U.S.A. and U.S. policy", "1.5 mg/kg, 10,000 units", "C++ and C# code",
      "HbA1c 6.5%", "5-FU", "COVID-19 (SARS-CoV-2)", "fish+chips", "l\u2019\u00E9cole", "TNF-alpha; IL-6.",
      "caf\u00E9 na\u00EFve", "end.", "x\u200By", "A.B", "word''s"};
  for (const char* text : texts) {
    std::vector<std::string> ours;
    for (const auto& w : mc::split_words(text)) ours.push_back(w.lower);
    EXPECT_EQ(ours, xapian_words(text)) << text;
  }
  const auto words = mc::split_words("ALS, als and Als");
  ASSERT_EQ(words.size(), 4u);
  EXPECT_TRUE(words[0].capitals);
  EXPECT_FALSE(words[1].capitals);
  EXPECT_FALSE(words[3].capitals);
  EXPECT_TRUE(words[3].has_lower);
  EXPECT_FALSE(words[1].joined);  // a comma stands between
  EXPECT_TRUE(words[2].joined);
}

namespace {

// Every term of `doc` with its wdf and positions.
std::map<std::string, std::pair<Xapian::termcount, std::vector<Xapian::termpos>>> terms_of(const Xapian::Document& doc) {
  std::map<std::string, std::pair<Xapian::termcount, std::vector<Xapian::termpos>>> out;
  for (auto t = doc.termlist_begin(); t != doc.termlist_end(); ++t) {
    auto& entry = out[*t];
    entry.first = t.get_wdf();
    for (auto p = t.positionlist_begin(); p != t.positionlist_end(); ++p) entry.second.push_back(*p);
  }
  return out;
}

}  // namespace

// The indexer writes words' terms itself (index_words over split_words) instead of through
// TermGenerator; both must write the same terms, wdf and positions, or searches would differ
// from what QueryParser expects. Three fields as the indexer writes a passage (a prefixed copy
// without positions, then the words with positions; a gap; a prefixed field with positions), for
// hand-picked edge cases (as written and as normalize_for_analysis makes them) and, when
// ../shared/data is there, every title and text of SciFact and every line of the MEDLINE
// sample, normalised as the indexer normalises them.
TEST(Vocabulary, IndexWordsWritesWhatTermGeneratorWrites) {
  std::vector<std::string> texts = {
      "", "Lou Gehrig's disease", "AT&T and M&S", "U.S.A. and U.S. policy", "1.5 mg/kg, 10,000 units",
      "C++ and C# code", "C+++ x++++y", "HbA1c 6.5%", "5-FU", "COVID-19 (SARS-CoV-2)", "fish+chips",
      "l\u2019\u00E9cole", "TNF-alpha; IL-6.", "caf\u00E9 na\u00EFve", "end.", "x\u200By", "A.B", "word''s",
      "\u00C9.T.A. \u00C9. t", "ABC.D.E", "Ünïcödé Straße ΣΊΣΥΦΟΣ", "日本語のテキスト and 中文",
      "snake_case __init__ x_1", "1,2;3.4", "a.b.c", "'quoted' \"double\"", "trailing ' apostrophe", "x&&y",
      std::string(70, 'a') + " long " + std::string(64, 'b') + " " + std::string(65, 'c') + " end",
      "\xF0\x9F\x98\x80 emoji \xE2\x80\x8B zero width", "mixed\tTabs\nnew lines\r\n"};
  const auto data = medsearch::test::data_dir();
  std::size_t from_data = 0;
  // SciFact's abstracts as published (NFCorpus's text is lowercased ASCII: nothing SciFact and
  // the MEDLINE lines do not cover, at a third of this test's time under the sanitizers).
  // Under the sanitizers (test::sanitized()) every fourth text of each: the same code paths.
  const std::size_t every = medsearch::test::sanitized() ? 4 : 1;
  for (const char* corpus : {"scifact/corpus.jsonl"}) {
    std::ifstream in(data / corpus);
    std::string line;
    for (std::size_t n = 0; std::getline(in, line); ++n) {
      if (n % every != 0) continue;
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      for (const char* field : {"title", "text"})
        if (j.contains(field) && j[field].is_string()) {
          texts.push_back(j[field].get<std::string>());
          ++from_data;
        }
    }
  }
  {
    std::ifstream in(data / "pubmed-medline-sample" / "mesh-papers.medline.txt");
    std::string line;
    for (std::size_t n = 0; std::getline(in, line); ++n) {
      if (n % every != 0) continue;
      texts.push_back(line);
      ++from_data;
    }
  }
  if (from_data == 0)
    std::cout << "[ note ] " << data << " not found: compared on the hand-picked texts only\n";
  else
    EXPECT_GT(from_data, 10000u / every) << "the shared data was only partly read";

  const Xapian::Stem stemmer(mc::kStemLanguage);
  std::size_t words = 0;
  const std::size_t hand_picked = texts.size() - from_data;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string& raw = texts[i];
    // The shared data as the indexer sees it (normalised); the hand-picked texts raw too.
    std::vector<std::string> forms = {mc::normalize_for_analysis(raw)};
    if (i < hand_picked) forms.push_back(raw);
    for (const std::string& text : forms) {
      Xapian::Document expected;
      Xapian::TermGenerator generator;
      mc::configure_term_generator(generator);
      generator.set_document(expected);
      generator.index_text_without_positions(text, 1, "S");
      generator.index_text(text);
      generator.increase_termpos();
      generator.index_text(text, 1, "XH");

      Xapian::Document ours;
      const std::vector<mc::Word> split = mc::split_words(text);
      std::vector<std::string> stems;
      for (const auto& w : split) stems.push_back(stemmer(w.lower));
      Xapian::termpos position = 0;
      mc::index_words(ours, split, stems, "S", nullptr);
      mc::index_words(ours, split, stems, "", &position);
      position += 100;
      mc::index_words(ours, split, stems, "XH", &position);
      ASSERT_EQ(terms_of(ours), terms_of(expected)) << text;
      EXPECT_EQ(position, generator.get_termpos()) << text;
      words += split.size();

      // The index leaves stop words out (unindexed_words): the same terms less exactly those
      // occurrences, every other word at the same position, the count of those left out
      // returned (the indexer adds it to the passage's length).
      const std::vector<bool> left_out = mc::unindexed_words(split, text);
      auto without = terms_of(expected);
      Xapian::termcount expected_skipped = 0;
      auto drop = [&without](const std::string& term, std::optional<Xapian::termpos> pos) {
        auto it = without.find(term);
        ASSERT_NE(it, without.end()) << term;
        --it->second.first;
        if (pos) {
          auto& p = it->second.second;
          auto at = std::find(p.begin(), p.end(), *pos);
          ASSERT_NE(at, p.end()) << term << " at " << *pos;
          p.erase(at);
        }
        if (it->second.first == 0 && it->second.second.empty()) without.erase(it);
      };
      Xapian::termpos n = 0;  // words TermGenerator indexes: the first field's last position
      for (std::size_t k = 0; k < split.size(); ++k) n += split[k].lower.size() <= 64 && !stems[k].empty();
      Xapian::termpos indexable = 0;
      for (std::size_t k = 0; k < split.size(); ++k) {
        if (split[k].lower.size() > 64 || stems[k].empty()) continue;
        ++indexable;
        if (!left_out[k]) continue;
        drop("ZS" + stems[k], std::nullopt);
        drop("Z" + stems[k], indexable);
        drop("ZXH" + stems[k], n + 100 + indexable);
        expected_skipped += 3;
      }
      Xapian::Document lean;
      position = 0;
      Xapian::termcount skipped = mc::index_words(lean, split, stems, "S", nullptr, &left_out);
      skipped += mc::index_words(lean, split, stems, "", &position, &left_out);
      position += 100;
      skipped += mc::index_words(lean, split, stems, "XH", &position, &left_out);
      ASSERT_EQ(terms_of(lean), without) << text;
      EXPECT_EQ(position, generator.get_termpos()) << text;
      EXPECT_EQ(skipped, expected_skipped) << text;
    }
  }
  EXPECT_GT(words, 100u);
}

// With XAPIAN_CJK_NGRAM set, the indexer moves TermGenerator's "Z" + n-gram terms to the names
// QueryParser searches (prefix + n-gram). Over every code point: a doubled CJK character ("XX":
// the n-grams X and XX) comes out as X and XX with the same wdf and positions; anything else
// TermGenerator writes is left exactly as it was. Xapian reads the variable once a process, so
// this needs a process of its own (ctest runs every test in one); run alone otherwise.
TEST(Vocabulary, CjkNgramsMoveToTheTermsQueryParserSearches) {
  setenv("XAPIAN_CJK_NGRAM", "1", 1);
  Xapian::TermGenerator generator;
  mc::configure_term_generator(generator);
  auto generated = [&generator](const std::string& text, const std::string& prefix, bool positions) {
    Xapian::Document doc;
    generator.set_document(doc);
    if (positions) generator.index_text(text, 1, prefix);
    else generator.index_text_without_positions(text, 1, prefix);
    return doc;
  };
  if (generated("\u7cd6\u7cd6", "", true).termlist_count() != 2)
    GTEST_SKIP() << "Xapian read XAPIAN_CJK_NGRAM before this test set it: run this test in a process of its own "
                    "(--gtest_filter), as ctest does";

  std::size_t cjk = 0, other = 0;
  for (unsigned cp = 0x20; cp < 0x30000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string one;
    Xapian::Unicode::append_utf8(one, cp);
    Xapian::Document doc = generated(one + one, "", true);
    const auto before = terms_of(doc);
    mc::move_cjk_ngrams_unstemmed(doc);
    const auto after = terms_of(doc);
    if (before.size() == 2 && before.count("Z" + one) && before.count("Z" + one + one)) {
      ++cjk;
      ASSERT_EQ(after.size(), 2u) << std::hex << cp;
      EXPECT_EQ(after.at(one), before.at("Z" + one)) << std::hex << cp;
      EXPECT_EQ(after.at(one + one), before.at("Z" + one + one)) << std::hex << cp;
    } else {
      if (!before.empty()) ++other;
      ASSERT_EQ(after, before) << std::hex << cp;
    }
  }
  EXPECT_GT(cjk, 70000u);   // the CJK ideographs alone are over 70,000
  EXPECT_GT(other, 30000u);  // the letters and digits of every other script

  // A field prefix stays in front; words around the CJK text keep their Z terms.
  Xapian::Document titled = generated("\u7cd6\u5c3f\u75c5 riluzole", "S", false);
  mc::move_cjk_ngrams_unstemmed(titled);
  const auto terms = terms_of(titled);
  for (const char* term : {"S\u7cd6", "S\u7cd6\u5c3f", "S\u5c3f\u75c5", "ZSriluzol"}) EXPECT_EQ(terms.count(term), 1u) << term;
  for (const auto& [term, entry] : terms) EXPECT_TRUE(term.rfind("ZS\xe7", 0) != 0) << term;
  unsetenv("XAPIAN_CJK_NGRAM");
}

// Which words the index leaves out: lowercase English stop words between spaces; kept when
// written in capitals or joined to a word by a character Xapian's parser phrases on.
TEST(Vocabulary, UnindexedWordsAreStopWordsAQuestionCannotAskFor) {
  auto left_out = [](const std::string& text) {
    const auto words = mc::split_words(text);
    const auto out = mc::unindexed_words(words, text);
    std::vector<std::string> dropped;
    for (std::size_t i = 0; i < words.size(); ++i)
      if (out[i]) dropped.push_back(words[i].lower);
    return dropped;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(left_out("The effect of aspirin on the risk."), (V{"the", "of", "on", "the"}));
  // Joined by - / . : \ @ (the parser phrases "state-of-the-art", so its words stay).
  EXPECT_EQ(left_out("state-of-the-art care and/or up-regulated in-hospital x.the y:at z\\it me@an"), (V{}));
  // A generator with a space on one side joins nothing.
  EXPECT_EQ(left_out("ends with a - dash and. the end"), (V{"with", "a", "and", "the"}));
  // Capitals: abbreviations and single letters that mean something.
  EXPECT_EQ(left_out("vitamin A and type I diabetes in ALL or all"), (V{"and", "in", "or", "all"}));
  // Question boilerplate is not left out of passages; sentence-initial capitals are not capitals.
  EXPECT_EQ(left_out("Treatment options: It is what we know."), (V{"it", "is", "what", "we"}));
  EXPECT_EQ(left_out(""), (V{}));
  EXPECT_TRUE(mc::is_index_stop_word("the"));
  EXPECT_FALSE(mc::is_index_stop_word("options"));
  EXPECT_TRUE(mc::is_stop_word("options"));
}
