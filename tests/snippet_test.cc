// Snippets (searcher/snippet.h): words read as the index reads them, the window with the most of
// the question's words, marks, escaping and ellipses.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "corpus/analysis.h"
#include "corpus/vocabulary.h"
#include "searcher/snippet.h"
#include "tests/test_util.h"

namespace ms = medsearch::searcher;

namespace {

std::string z(const std::string& word) { return "Z" + Xapian::Stem("english")(word); }

ms::Snippeter snippeter(const std::vector<std::pair<std::string, double>>& terms) {
  return ms::Snippeter(terms, Xapian::Stem("english"));
}

// The snippet's text: marks removed, entities and ellipses turned back.
std::string plain(std::string s) {
  for (const char* tag : {"<mark>", "</mark>"})
    for (std::size_t p; (p = s.find(tag)) != std::string::npos;) s.erase(p, std::string(tag).size());
  for (const auto& [entity, c] : std::vector<std::pair<std::string, std::string>>{{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}})
    for (std::size_t p = 0; (p = s.find(entity, p)) != std::string::npos; p += c.size()) s.replace(p, entity.size(), c);
  return s;
}

std::vector<std::string> marked(const std::string& snippet) {
  std::vector<std::string> out;
  for (std::size_t p = 0; (p = snippet.find("<mark>", p)) != std::string::npos;) {
    p += 6;
    out.push_back(snippet.substr(p, snippet.find("</mark>", p) - p));
  }
  return out;
}

}  // namespace

// Snippets split raw passage text with the indexer's splitter: the byte ranges it gives there.
TEST(SnippetWords, SplitAsTheTermGeneratorDoes) {
  auto words = [](std::string_view text) {
    std::vector<std::string> out;
    for (const auto& w : medsearch::corpus::split_words(text)) out.emplace_back(text.substr(w.begin, w.end - w.begin));
    return out;
  };
  EXPECT_EQ(words("Lou Gehrig's disease (ALS)."), (std::vector<std::string>{"Lou", "Gehrig's", "disease", "ALS"}));
  EXPECT_EQ(words("TGF-β1, 3.14 mg and 1,000 units; C++ AT&T"),
            (std::vector<std::string>{"TGF", "β1", "3.14", "mg", "and", "1,000", "units", "C++", "AT&T"}));
  EXPECT_EQ(words("Alzheimer\u2019s end. 10\u00b2 x"), (std::vector<std::string>{"Alzheimer\u2019s", "end", "10\u00b2", "x"}));
  EXPECT_EQ(words("a.b 3. 4 'quoted' x'"), (std::vector<std::string>{"a", "b", "3", "4", "quoted", "x"}));
  EXPECT_TRUE(words("  -- ... ").empty());
}

TEST(Snippet, MarksStemsAndFormsTheIndexNormalises) {
  auto s = snippeter({{z("beta"), 2.0}, {z("blocker"), 2.0}, {z("dose"), 1.0}, {z("fibrosis"), 3.0}});
  // "β" is indexed as "beta", "ﬁbrosis" as "fibrosis", full-width letters as ASCII.
  const std::string text = "\u03b2-blockers at a daily DOSE; pulmonary \ufb01brosis; \uff22\uff25\uff34\uff21 blockade.";
  const std::string out = s(text, 1000);
  EXPECT_EQ(marked(out), (std::vector<std::string>{"\u03b2", "blockers", "DOSE", "\ufb01brosis",
                                                   "\uff22\uff25\uff34\uff21"}))
      << out;
  EXPECT_EQ(plain(out), text);  // fits: the whole text, no ellipsis
}

TEST(Snippet, EscapesTheTextAndKeepsOnlyItsOwnMarks) {
  auto s = snippeter({{z("warfarin"), 1.0}});
  const std::string out = s("Dose <script>alert(1)</script> & \"quotes\" for <mark>warfarin</mark>.", 1000);
  EXPECT_EQ(out.find("<script>"), std::string::npos) << out;
  EXPECT_NE(out.find("&lt;script&gt;"), std::string::npos) << out;
  EXPECT_NE(out.find("&amp;"), std::string::npos) << out;
  EXPECT_NE(out.find("&lt;mark&gt;<mark>warfarin</mark>&lt;/mark&gt;"), std::string::npos) << out;
}

TEST(Snippet, ChoosesTheWindowWithTheMostDistinctWords) {
  // "riluzole" repeated early; "riluzole" with "survival" and "months" late: the late window has
  // more of the question, though the early one repeats a word more often.
  auto s = snippeter({{z("riluzole"), 2.0}, {z("survival"), 1.5}, {z("months"), 1.0}});
  std::string text = "Riluzole is riluzole, and riluzole again, riluzole. ";
  for (int i = 0; i < 20; ++i) text += "Unrelated words fill this sentence about other things. ";
  text += "In the trial riluzole prolonged median survival by about three months compared with placebo.";
  const std::string out = s(text, 120);
  EXPECT_EQ(marked(out), (std::vector<std::string>{"riluzole", "survival", "months"})) << out;
  EXPECT_EQ(out.rfind("In the trial", 0), 0u) << out;  // starts its sentence: no leading "…"
  EXPECT_LE(plain(out).size(), 120u + 1) << out;  // with the sentence's full stop
}

TEST(Snippet, EllipsesStandForWhatIsLeftOut) {
  auto s = snippeter({{z("edaravone"), 1.0}});
  std::string text;
  for (int i = 0; i < 10; ++i) text += "Words before the match continue for a while here, ";
  text += "edaravone slowed decline";
  for (int i = 0; i < 10; ++i) text += " and more words follow it for a while";
  text += ".";
  const std::string out = s(text, 60);
  EXPECT_EQ(out.rfind("\u2026", 0), 0u) << out;  // starts mid-sentence
  EXPECT_EQ(out.size() - out.rfind("\u2026"), std::string("\u2026").size()) << out;  // and stops before its end
  EXPECT_NE(out.find("<mark>edaravone</mark>"), std::string::npos) << out;
  // Ending at a sentence's end: its full stop, no ellipsis.
  const std::string tail = s("Other text comes first and goes on for long enough. Edaravone slowed decline.", 30);
  EXPECT_EQ(tail, "<mark>Edaravone</mark> slowed decline.") << tail;
}

TEST(Snippet, WithoutAMatchTheTextStarts) {
  auto s = snippeter({{z("absent"), 1.0}});
  const std::string out = s("First sentence here. Second sentence there. Third sentence everywhere.", 40);
  EXPECT_EQ(out, "First sentence here. Second sentence\u2026") << out;
  EXPECT_EQ(s("", 40), "");
  EXPECT_EQ(s("some text", 0), "");
  EXPECT_EQ(s("-- ** --", 40), "-- ** --");
  // Cut between characters, never inside one.
  EXPECT_EQ(s("\u2014\u2014\u2014", 4), "\u2014\u2026");
}

// Property: whatever the text and budget, the snippet is the text's own words in order (marks
// and ellipses aside), within the budget but for one over-long word, marks balanced.
TEST(Snippet, IsAlwaysAPieceOfTheText) {
  std::mt19937 rng(7);
  const std::vector<std::string> vocabulary = {"riluzole", "ALS", "survival", "the", "a", "\u03b2-blocker", "dose.",
                                               "(trial)", "1,000", "C++", "&", "<b>", "mg/kg", "Gehrig's", "\u00b5g",
                                               "survival.", "months!", "x"};
  auto s = snippeter({{z("riluzole"), 2.0}, {z("survival"), 1.0}, {z("beta"), 1.5}, {z("gehrig's"), 1.0}});
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 80);
    for (int i = 0; i < n; ++i) text += vocabulary[rng() % vocabulary.size()] + (rng() % 5 == 0 ? "  " : " ");
    const std::size_t bytes = 1 + rng() % 200;
    const std::string out = s(text, bytes);
    std::string body = plain(out);
    for (std::size_t p; (p = body.find("\u2026")) != std::string::npos;) body.erase(p, std::string("\u2026").size());
    EXPECT_NE(text.find(body), std::string::npos) << "text: " << text << "\nbytes: " << bytes << "\nout: " << out;
    if (text.size() > bytes && body.find(' ') != std::string::npos) {
      EXPECT_LE(body.size(), bytes + 5) << out;  // (a bracket before, up to 4 closing characters after)
    }
    EXPECT_EQ(marked(out).size(), [&] {
      std::size_t c = 0;
      for (std::size_t p = 0; (p = out.find("</mark>", p)) != std::string::npos; ++p) ++c;
      return c;
    }()) << out;
    EXPECT_TRUE(medsearch::corpus::is_valid_utf8(out)) << out;
  }
}

// The first-letters filter (Snippeter::may_match) never rules out a word that stems to a term:
// every word of the demonstration corpus, and the stemmer's irregular forms, is marked when the
// question asks for its stem.
TEST(Snippet, EveryWordIsFoundByItsStem) {
  std::vector<std::string> words = {"dying", "lying", "tying", "skies", "skis", "ugly", "early", "only", "news",
                                    "cosmos", "x's", "oed", "a's", "1,000", "3.14", "Gehrig's", "C++", "yelling"};
  for (const auto& entry : std::filesystem::directory_iterator(medsearch::test::source_dir() / "corpus" / "samples")) {
    if (entry.path().extension() != ".jsonl") continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line))
      for (const auto& w : medsearch::corpus::split_words(line)) words.push_back(line.substr(w.begin, w.end - w.begin));
  }
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  ASSERT_GT(words.size(), 3000u);
  Xapian::Stem stem("english");
  std::size_t checked = 0;
  for (const auto& word : words) {
    if (word.size() > 64) continue;
    // As the indexer reads it ("U.S." is "us").
    const auto analysed = medsearch::corpus::split_words(medsearch::corpus::normalize_for_analysis(word));
    if (analysed.size() != 1) continue;  // normalised into several words
    const std::string& lower = analysed.front().lower;
    auto s = snippeter({{"Z" + stem(lower), 1.0}});
    EXPECT_EQ(s(word, 100), "<mark>" + word + "</mark>") << word << " -> Z" << stem(lower);
    ++checked;
  }
  EXPECT_GT(checked, 3000u);
}
