// Text analysis shared by index and query side: UTF-8 checks, ICU normalisation, sentence
// boundaries, and the Xapian stemmer/stopper settings.
#include "corpus/analysis.h"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstring>
#include <bit>
#include <cctype>
#include <iterator>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "corpus/schema.h"

namespace medsearch::corpus {

std::size_t find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // Eight ASCII bytes at a time: most text is ASCII.
    while (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, s + i, 8);
      if (word & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return std::string_view::npos;
}

bool is_valid_utf8(std::string_view text) { return find_invalid_utf8(text) == std::string_view::npos; }

namespace {

const icu::Normalizer2& normalizer(bool compatibility) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n =
      compatibility ? icu::Normalizer2::getNFKCInstance(status) : icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status) || n == nullptr) {
    // ICU's data is linked into libicudata; failing here means a broken installation.
    throw std::runtime_error("ICU normaliser unavailable");
  }
  return *n;
}

bool is_ascii(std::string_view text) {
  for (unsigned char c : text)
    if (c >= 0x80) return false;
  return true;
}

std::string normalize(std::string_view text, bool compatibility) {
  // ASCII text is already in NFC and NFKC; most passages are, and the UTF-16 round trip
  // through ICU was a visible share of indexing time.
  if (is_ascii(text)) return std::string(text);
  const icu::Normalizer2& n = normalizer(compatibility);
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  if (n.isNormalized(u, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  icu::UnicodeString out = n.normalize(u, status);
  if (U_FAILURE(status)) return std::string(text);
  std::string result;
  out.toUTF8String(result);
  return result;
}

// The length of the run of printable ASCII characters other than the space (0x21-0x7E) at
// s[i..n): what the loops below copy as they are, in one append.
int32_t plain_ascii_run(const uint8_t* s, int32_t i, int32_t n) {
  int32_t j = i;
  while (j < n && s[j] > 0x20 && s[j] < 0x7F) ++j;
  return j - i;
}

void append_utf8(std::string& out, UChar32 cp) {
  if (cp >= 0 && cp < 0x80) {
    out += static_cast<char>(cp);
    return;
  }
  char buf[4];
  int32_t len = 0;
  UBool error = false;
  U8_APPEND(reinterpret_cast<uint8_t*>(buf), len, 4, cp, error);
  if (!error) out.append(buf, static_cast<std::size_t>(len));
}

// ASCII answers without ICU's property tables (the same answers: White_Space and Cc).
bool is_space(UChar32 cp) {
  if (cp >= 0 && cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r');
  return u_isUWhiteSpace(cp);
}
bool is_control(UChar32 cp) {
  if (cp >= 0 && cp < 0x80) return cp < 0x20 || cp == 0x7F;
  return u_iscntrl(cp);
}

// Spelled-out names of Greek letters, lowercase, indexed from alpha (U+03B1).
constexpr const char* kGreek[] = {"alpha", "beta",  "gamma", "delta",   "epsilon", "zeta", "eta",
                                  "theta", "iota",  "kappa", "lambda",  "mu",      "nu",   "xi",
                                  "omicron", "pi",  "rho",   "sigma",   "sigma",   "tau",  "upsilon",
                                  "phi",   "chi",   "psi",   "omega"};

const char* greek_name(UChar32 cp) {
  if (cp >= 0x03B1 && cp <= 0x03C9) return kGreek[cp - 0x03B1];
  if (cp >= 0x0391 && cp <= 0x03A9 && cp != 0x03A2) return kGreek[cp - 0x0391];
  return nullptr;
}

bool is_dash(UChar32 cp) {
  return (cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 || cp == 0xFE58 || cp == 0xFE63 || cp == 0xFF0D ||
         cp == 0x2043;
}

}  // namespace

std::string clean_text(std::string_view text) {
  const std::string nfc = normalize(text, false);
  std::string out;
  out.reserve(nfc.size());
  int newlines = 0;     // newlines seen in the current run of white space
  bool pending_space = false;
  const auto* s = reinterpret_cast<const uint8_t*>(nfc.data());
  const int32_t n = static_cast<int32_t>(nfc.size());
  // Before a kept character: the white space seen since the last one, folded.
  auto separate = [&] {
    if (!out.empty()) {
      if (newlines >= 2) out += "\n\n";
      else if (newlines == 1) out += '\n';
      else if (pending_space) out += ' ';
    }
    newlines = 0;
    pending_space = false;
  };
  for (int32_t i = 0; i < n;) {
    if (const int32_t run = plain_ascii_run(s, i, n); run > 0) {
      // Kept as they are, as the code below keeps each of them.
      separate();
      out.append(reinterpret_cast<const char*>(s + i), static_cast<std::size_t>(run));
      i += run;
      continue;
    }
    UChar32 cp;
    U8_NEXT(s, i, n, cp);
    if (cp < 0) continue;
    if (cp == '\n' || cp == 0x2028 || cp == 0x2029) {
      ++newlines;
      continue;
    }
    if (is_space(cp)) {
      pending_space = true;
      continue;
    }
    if (is_control(cp) || cp == 0x00AD || cp == 0xFEFF || cp == 0x200B) continue;  // controls, soft hyphen, BOM, ZWSP
    separate();
    append_utf8(out, cp);
  }
  return out;
}

bool has_text(std::string_view text) {
  // The characters clean_text drops, looked for in the raw text: NFC never turns a kept
  // character into a dropped one or back, so this answers !clean_text(text).empty().
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t n = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < n;) {
    UChar32 cp;
    U8_NEXT(s, i, n, cp);
    if (cp < 0 || cp == '\n' || cp == 0x2028 || cp == 0x2029 || is_space(cp)) continue;
    if (is_control(cp) || cp == 0x00AD || cp == 0xFEFF || cp == 0x200B) continue;
    return true;
  }
  return false;
}

std::string_view trim_ascii_space(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

namespace {

// Superscript digits and signs, which NFKC turns into plain ones.
bool is_superscript(UChar32 cp) {
  return cp == 0x00B9 || cp == 0x00B2 || cp == 0x00B3 || (cp >= 0x2070 && cp <= 0x207B && cp != 0x2072 && cp != 0x2073);
}

// Before NFKC: a power written in superscript after a digit keeps a '^' ("10⁹/L" -> "10^9/L",
// not "109/L"); an acute accent or backtick used as an apostrophe ("Crohn´s") becomes one
// (NFKC would make it a space and split the word). Returns the text unchanged when neither occurs.
std::string mark_powers_and_apostrophes(std::string_view text) {
  std::string out;
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t n = static_cast<int32_t>(text.size());
  UChar32 previous = 0;
  bool changed = false;
  bool in_power = false;  // inside a run of superscripts that follows a digit
  for (int32_t i = 0; i < n;) {
    const int32_t start = i;
    UChar32 cp;
    U8_NEXT(s, i, n, cp);
    auto change = [&] {
      if (!changed) out.assign(text.substr(0, static_cast<std::size_t>(start)));
      changed = true;
    };
    if (is_superscript(cp)) {
      if (!in_power && previous >= '0' && previous <= '9') {
        change();
        out += '^';
        in_power = true;
      }
    } else {
      in_power = false;
    }
    if ((cp == 0x00B4 || cp == '`') && u_isalpha(previous) && i < n) {
      int32_t j = i;
      UChar32 next;
      U8_NEXT(s, j, n, next);
      if (u_isalpha(next)) {
        change();
        out += '\'';
        previous = cp;
        continue;
      }
    }
    if (changed) out.append(text.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(i - start)));
    previous = cp;
  }
  return changed ? out : std::string(text);
}

}  // namespace

std::string normalize_for_analysis(std::string_view text) {
  // The pre-pass looks only at text that has a byte that can start one of its characters.
  std::string marked;
  std::string_view input = text;
  if (text.find_first_of("\xC2\xE2`") != std::string_view::npos) {
    marked = mark_powers_and_apostrophes(text);
    input = marked;
  }
  const std::string nfkc = normalize(input, true);
  std::string out;
  out.reserve(nfkc.size() + 8);
  bool pending_space = false;
  const auto* s = reinterpret_cast<const uint8_t*>(nfkc.data());
  const int32_t n = static_cast<int32_t>(nfkc.size());
  auto separate = [&] {
    if (pending_space) {
      out += ' ';
      pending_space = false;
    }
  };
  for (int32_t i = 0; i < n;) {
    if (const int32_t run = plain_ascii_run(s, i, n); run > 0) {
      // Kept as they are, as the code below keeps each of them.
      separate();
      out.append(reinterpret_cast<const char*>(s + i), static_cast<std::size_t>(run));
      i += run;
      continue;
    }
    UChar32 cp;
    U8_NEXT(s, i, n, cp);
    if (cp < 0) continue;
    if (cp == 0x00AD || cp == 0xFEFF || cp == 0x200D || cp == 0x2060) continue;  // soft hyphen, BOM, joiners
    if (is_space(cp) || cp == '\n' || is_control(cp)) {
      pending_space = !out.empty();
      continue;
    }
    separate();
    if (cp == 0x03BC || cp == 0x00B5) {
      // Before a unit ("µg", "μmol/L") the letter means micro; elsewhere ("μ-opioid") mu.
      // Micrograms are written "mcg" in clinical text, so "µg" becomes "mcg" and both match.
      UChar32 next = 0, after = 0;
      int32_t j = i;
      if (j < n) U8_NEXT(s, j, n, next);
      if (j < n) U8_NEXT(s, j, n, after);
      const bool letter = (next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z');
      const bool after_letter = (after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z');
      if (next == 'g' && !after_letter) out += "mc";
      else out += letter ? "micro" : "mu";
    } else if (cp == 0x00B7 || cp == 0x2219 || cp == 0x22C5) {
      // A middle dot between units ("mg·kg-1") would glue them into one Xapian word.
      pending_space = !out.empty();
    } else if (const char* name = greek_name(cp)) {
      out += name;
    } else if (is_dash(cp)) {
      out += '-';
    } else if (cp == 0x2018 || cp == 0x2019 || cp == 0x201B || cp == 0x2032) {
      out += '\'';
    } else if (cp == 0x201C || cp == 0x201D || cp == 0x201F || cp == 0x2033) {
      out += '"';
    } else {
      append_utf8(out, cp);
    }
  }
  return out;
}

std::vector<std::pair<std::size_t, std::size_t>> sentence_ranges(std::string_view text) {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  if (text.empty()) return ranges;
  // The break iterator is expensive to create; keep one per thread.
  thread_local std::unique_ptr<icu::BreakIterator> iterator;
  if (!iterator) {
    UErrorCode status = U_ZERO_ERROR;
    // "ss=standard" suppresses breaks after common abbreviations ("e.g.", "Dr.", "i.e.").
    iterator.reset(icu::BreakIterator::createSentenceInstance(icu::Locale("en@ss=standard"), status));
    if (U_FAILURE(status) || !iterator) {
      status = U_ZERO_ERROR;
      iterator.reset(icu::BreakIterator::createSentenceInstance(icu::Locale::getEnglish(), status));
    }
    if (U_FAILURE(status) || !iterator) {
      ranges.emplace_back(0, text.size());
      return ranges;
    }
  }
  icu::UnicodeString u =
      icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  iterator->setText(u);
  // Map UTF-16 offsets back to UTF-8 byte offsets by walking both in step.
  std::size_t byte = 0;
  int32_t unit = 0;
  auto to_byte = [&](int32_t target) {
    while (unit < target && byte < text.size()) {
      unsigned char c = static_cast<unsigned char>(text[byte]);
      std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : 4;
      byte += len;
      unit += len == 4 ? 2 : 1;
    }
    return std::min(byte, text.size());
  };
  int32_t start = iterator->first();
  std::size_t start_byte = 0;
  for (int32_t end = iterator->next(); end != icu::BreakIterator::DONE; end = iterator->next()) {
    std::size_t end_byte = to_byte(end);
    if (end_byte > start_byte) ranges.emplace_back(start_byte, end_byte);
    start = end;
    start_byte = end_byte;
  }
  (void)start;
  if (ranges.empty() || ranges.back().second < text.size()) ranges.emplace_back(start_byte, text.size());
  return ranges;
}

namespace {

// English stop words (Snowball's list): dropped from questions, and left out of the index
// where a question cannot ask for them (is_index_stop_word).
constexpr std::string_view kEnglishStopWords[] = {
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at",
    "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
    "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has",
    "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if",
    "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "nor", "of",
    "off", "on", "once", "only", "or", "other", "ought", "our", "ours", "ourselves", "out", "over", "own",
    "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them",
    "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under",
    "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
    "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves"};
// Question boilerplate: words that frame a clinical question without saying what it is about.
// Dropped from questions only: in a passage they are words like any other.
constexpr std::string_view kQuestionBoilerplate[] = {"tell",    "please",   "whats",   "what's", "know",
                                                     "explain", "describe", "options", "option"};

}  // namespace

const Xapian::Stopper& stopper() {
  static const Xapian::SimpleStopper* instance = [] {
    auto* s = new Xapian::SimpleStopper();
    for (std::string_view w : kEnglishStopWords) s->add(std::string(w));
    for (std::string_view w : kQuestionBoilerplate) s->add(std::string(w));
    return s;
  }();
  return *instance;
}

bool is_stop_word(std::string_view word) {
  static const std::unordered_set<std::string_view> words = [] {
    std::unordered_set<std::string_view> all(std::begin(kEnglishStopWords), std::end(kEnglishStopWords));
    all.insert(std::begin(kQuestionBoilerplate), std::end(kQuestionBoilerplate));
    return all;
  }();
  return words.count(word) > 0;
}

std::span<const std::string_view> index_stop_words() { return kEnglishStopWords; }

bool is_index_stop_word(std::string_view word) {
  // Most words are longer than any stop word: no hashing for them.
  static constexpr std::size_t kLongest = std::max_element(std::begin(kEnglishStopWords), std::end(kEnglishStopWords),
                                                           [](std::string_view a, std::string_view b) {
                                                             return a.size() < b.size();
                                                           })->size();
  static const std::unordered_set<std::string_view> words(std::begin(kEnglishStopWords), std::end(kEnglishStopWords));
  return word.size() <= kLongest && words.count(word) > 0;
}

namespace {

// The words of a name as the query parser splits them, lowercased, in order.
std::vector<std::string> name_words(std::string_view name) {
  Xapian::Document doc;
  Xapian::TermGenerator generator;
  generator.set_stemming_strategy(Xapian::TermGenerator::STEM_NONE);
  generator.set_document(doc);
  generator.index_text(normalize_for_analysis(name));
  std::vector<std::pair<Xapian::termpos, std::string>> positioned;
  for (auto t = doc.termlist_begin(); t != doc.termlist_end(); ++t)
    for (auto p = t.positionlist_begin(); p != t.positionlist_end(); ++p) positioned.emplace_back(*p, *t);
  std::sort(positioned.begin(), positioned.end());
  std::vector<std::string> words;
  for (auto& [pos, word] : positioned) words.push_back(std::move(word));
  return words;
}

}  // namespace

std::string synonym_key(std::string_view name, const Xapian::Stem& stemmer) {
  const std::vector<std::string> words = name_words(name);
  if (words.empty()) return {};
  if (words.size() == 1) return std::string("Z").append(stemmer(words[0]));
  std::string key;
  for (const auto& w : words) {
    if (!key.empty()) key += ' ';
    key += w;
  }
  return key;
}

std::string synonym_term(std::string_view name, const Xapian::Stem& stemmer) {
  const std::vector<std::string> words = name_words(name);
  return words.size() == 1 ? std::string("Z").append(stemmer(words[0])) : std::string();
}

void configure_term_generator(Xapian::TermGenerator& generator) {
  generator.set_stemmer(Xapian::Stem(kStemLanguage));
  generator.set_stemming_strategy(Xapian::TermGenerator::STEM_ALL_Z);
}

namespace {

// A boolean field whose values are stored lowercased (drug:Rilutek finds XDrilutek). Quoted
// values may contain spaces: condition:"type 2 diabetes mellitus".
class LowercaseFilter : public Xapian::FieldProcessor {
 public:
  explicit LowercaseFilter(std::string prefix) : prefix_(std::move(prefix)) {}
  Xapian::Query operator()(const std::string& value) override {
    std::string term = prefix_;
    for (unsigned char c : value) term += static_cast<char>(std::tolower(c));
    return Xapian::Query(term);
  }

 private:
  std::string prefix_;
};

}  // namespace

void configure_query_parser(Xapian::QueryParser& parser) {
  parser.set_stemmer(Xapian::Stem(kStemLanguage));
  parser.set_stemming_strategy(Xapian::QueryParser::STEM_ALL_Z);
  parser.set_stopper(&stopper());
  parser.set_default_op(Xapian::Query::OP_OR);
  parser.add_prefix("title", std::string(schema::kPrefixTitle));
  parser.add_prefix("heading", std::string(schema::kPrefixHeading));
  // Boolean filters. Distinct fields combine with AND, values of one field with OR (Xapian's
  // default for boolean prefixes).
  const std::pair<const char*, std::string_view> filters[] = {
      {"source", schema::kPrefixSource},       {"section", schema::kPrefixSection},
      {"drug", schema::kPrefixDrug},           {"condition", schema::kPrefixCondition},
      {"evidence", schema::kPrefixEvidence},   {"status", schema::kPrefixReviewStatus},
      {"mesh", schema::kPrefixMesh},           {"pubtype", schema::kPrefixPubType},
      {"year", schema::kPrefixYear}};
  for (auto [field, prefix] : filters)
    parser.add_boolean_prefix(field, (new LowercaseFilter(std::string(prefix)))->release());
}

namespace {

// An open-addressing table (power-of-two size, linear probing, the hash kept in the slot):
// std::unordered_map walked a node chain with a division per node, and its lookups were 6% of
// indexing CPU. Kept at most half full.
class CachingStemmer : public Xapian::StemImplementation {
 public:
  explicit CachingStemmer(std::size_t max_words)
      : max_slots_(std::max<std::size_t>(std::bit_ceil(std::max<std::size_t>(max_words, 1) * 2), kInitialSlots)),
        slots_(kInitialSlots) {}

  std::string operator()(const std::string& word) override {
    const std::uint64_t hash = hash_of(word);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.hash == 0) break;
      if (slot.hash == hash && slot.word == word) return slot.stem;
    }
    std::string stem = stem_(word);
    if (used_ + 1 > slots_.size() / 2) {
      // Grow to keep probes short; past the cap, start again (bounded memory on huge vocabularies).
      if (slots_.size() >= max_slots_) {
        slots_.assign(kInitialSlots, Slot{});
        used_ = 0;
      } else {
        std::vector<Slot> old(slots_.size() * 2);
        old.swap(slots_);
        used_ = 0;
        for (Slot& s : old)
          if (s.hash != 0) insert(std::move(s));
      }
    }
    insert(Slot{hash, word, stem});
    return stem;
  }
  std::string get_description() const override { return "english (cached)"; }

 private:
  struct Slot {
    std::uint64_t hash = 0;  // 0: empty
    std::string word;
    std::string stem;
  };
  static constexpr std::size_t kInitialSlots = 1 << 12;

  // FNV-1a, never 0 (0 marks an empty slot).
  static std::uint64_t hash_of(const std::string& word) {
    std::uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : word) h = (h ^ c) * 1099511628211ULL;
    h ^= h >> 29;  // FNV's low bits mix poorly, and the mask keeps only low bits
    return h == 0 ? 1 : h;
  }
  void insert(Slot slot) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = slot.hash & mask;
    while (slots_[i].hash != 0) i = (i + 1) & mask;
    slots_[i] = std::move(slot);
    ++used_;
  }

  Xapian::Stem stem_{kStemLanguage};
  const std::size_t max_slots_;
  std::vector<Slot> slots_;
  std::size_t used_ = 0;
};

}  // namespace

Xapian::Stem cached_stemmer(std::size_t max_words) { return Xapian::Stem(new CachingStemmer(max_words)); }

}  // namespace medsearch::corpus
