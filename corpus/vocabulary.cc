// The medical vocabulary: parsing the TSV format, tagging text with concepts, and the
// synonym-table entries and ambiguous names derived from it.
#include "corpus/vocabulary.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>

#include "corpus/analysis.h"
#include "corpus/schema.h"

namespace medsearch::corpus {

namespace generated {
// corpus/vocabulary/medical.tsv in pieces (a single literal would exceed what ISO C++
// requires compilers to accept); written by corpus/vocabulary/embed.cmake.
extern const char* const kMedicalVocabularyChunks[];
extern const std::size_t kMedicalVocabularyChunkCount;
}  // namespace generated

namespace {

namespace U = Xapian::Unicode;

// The characters Xapian's TermGenerator keeps inside a word when a word character follows:
// apostrophes and '&' ("Gehrig's", "AT&T"), middle dots; between digits also "," "." ";"
// ("1.5", "10,000"). Zero-width characters are skipped. Returns 0 for a word break.
constexpr unsigned kIgnore = 0xFFFFFFFFu;

unsigned infix(unsigned ch) {
  if (ch == '\'' || ch == '&' || ch == 0xB7 || ch == 0x5F4 || ch == 0x2027) return ch;
  if (ch == 0x2019 || ch == 0x201B) return '\'';
  if (ch >= 0x200B && (ch <= 0x200D || ch == 0x2060 || ch == 0xFEFF)) return kIgnore;
  return 0;
}

unsigned digit_infix(unsigned ch) {
  switch (ch) {
    case ',': case '.': case ';': case 0x037E: case 0x0589: case 0x060D: case 0x07F8: case 0x2044:
    case 0xFE10: case 0xFE13: case 0xFE14:
      return ch;
    default:
      break;
  }
  if (ch >= 0x200B && (ch <= 0x200D || ch == 0x2060 || ch == 0xFEFF)) return kIgnore;
  return 0;
}

// ASCII first: tagging runs over every passage, and Xapian's Unicode table lookups for each
// character of mostly-ASCII text were most of its cost. Same answers as Xapian's tables.
bool is_digit(unsigned ch) {
  if (ch < 0x80) return ch >= '0' && ch <= '9';
  return U::get_category(ch) == U::DECIMAL_DIGIT_NUMBER;
}
bool is_upper(unsigned ch) {
  if (ch < 0x80) return ch >= 'A' && ch <= 'Z';
  return U::get_category(ch) == U::UPPERCASE_LETTER || U::get_category(ch) == U::TITLECASE_LETTER;
}
bool is_lower(unsigned ch) {
  if (ch < 0x80) return ch >= 'a' && ch <= 'z';
  return U::get_category(ch) == U::LOWERCASE_LETTER;
}
// Xapian's word characters: letters, marks, numbers and connector punctuation ('_' in ASCII).
bool is_wordchar(unsigned ch) {
  if (ch < 0x80) return is_lower(ch) || is_upper(ch) || is_digit(ch) || ch == '_';
  return U::is_wordchar(ch);
}
// is_wordchar for an ASCII byte.
bool ascii_wordchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
// Initials ("U.S.A.") are ASCII capitals only in Xapian's TermGenerator.
bool is_ascii_upper(unsigned ch) { return ch >= 'A' && ch <= 'Z'; }
unsigned to_lower(unsigned ch) {
  if (ch < 0x80) return is_upper(ch) ? ch + ('a' - 'A') : ch;
  return U::tolower(ch);
}
void append_char(std::string& out, unsigned ch) {
  if (ch < 0x80) out += static_cast<char>(ch);
  else U::append_utf8(out, ch);
}

void note_case(Word& w, unsigned ch) {
  if (is_lower(ch)) w.has_lower = true;
  else if (is_upper(ch)) w.capitals = true;
}

// Between two words of one name only these may stand: "Lou Gehrig's", "COVID-19", "mg/kg".
bool joining_gap(std::string_view gap) {
  return std::all_of(gap.begin(), gap.end(), [](char c) { return c == ' ' || c == '-' || c == '/' || c == '\''; });
}

}  // namespace

std::vector<Word> split_words(std::string_view text) {
  std::vector<Word> out;
  const char* base = text.data();
  const char* const text_end = text.data() + text.size();
  const Xapian::Utf8Iterator end;
  Xapian::Utf8Iterator it(text.data(), text.size());
  // Runs of ASCII are walked byte by byte, without decoding each character again for each
  // question asked of it; the iterator is set past them (an iterator at text_end is `end`).
  auto resume_at = [text_end](const char* q) { return Xapian::Utf8Iterator(q, static_cast<std::size_t>(text_end - q)); };
  std::size_t previous_end = 0;
  while (true) {
    while (it != end) {
      const char* q = it.raw();
      if (static_cast<unsigned char>(*q) < 0x80) {
        const char* r = q;
        while (r < text_end && static_cast<unsigned char>(*r) < 0x80 && !ascii_wordchar(*r)) ++r;
        if (r == q) break;  // an ASCII word character
        it = resume_at(r);
        continue;
      }
      if (is_wordchar(*it)) break;
      ++it;
    }
    if (it == end) break;
    Word w;
    w.begin = static_cast<std::size_t>(it.raw() - base);
    bool done = false;
    // Initials separated by '.' ("U.S.A.") are one word when two or more and nothing
    // word-like follows.
    if (is_ascii_upper(*it)) {
      std::string initials;
      Xapian::Utf8Iterator p = it;
      std::size_t count = 0;
      do {
        append_char(initials, to_lower(*p));
        ++p;
        ++count;
      } while (p != end && *p == '.' && ++p != end && is_ascii_upper(*p));
      if (count > 1 && (p == end || !is_wordchar(*p))) {
        w.lower = std::move(initials);
        w.capitals = true;
        it = p;
        done = true;
      }
    }
    if (!done) {
      unsigned previous = 0;
      while (true) {
        while (it != end) {
          const char* q = it.raw();
          const char* r = q;
          for (; r < text_end && ascii_wordchar(*r); ++r) {
            const char c = *r;
            if (c >= 'a' && c <= 'z') w.has_lower = true;
            else if (c >= 'A' && c <= 'Z') w.capitals = true;
            w.lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
          }
          if (r != q) {
            previous = static_cast<unsigned char>(r[-1]);
            it = resume_at(r);
            continue;
          }
          if (!is_wordchar(*it)) break;
          note_case(w, *it);
          append_char(w.lower, to_lower(*it));
          previous = *it;
          ++it;
        }
        if (it == end) break;
        Xapian::Utf8Iterator next = it;
        ++next;
        if (next == end || !is_wordchar(*next)) break;
        const unsigned glue = (is_digit(previous) && is_digit(*next)) ? digit_infix(*it) : infix(*it);
        if (glue == 0) break;
        if (glue != kIgnore) append_char(w.lower, glue);
        it = next;
      }
      // Up to three '+' or '#' end a word ("C++"), unless a word character follows.
      const std::size_t length = w.lower.size();
      unsigned count = 0;
      while (it != end && (*it == '+' || *it == '#')) {
        if (++count > 3) {
          w.lower.resize(length);
          break;
        }
        append_char(w.lower, *it);
        ++it;
      }
      if (it != end && is_wordchar(*it)) w.lower.resize(length);
    }
    w.end = static_cast<std::size_t>(it.raw() - base);
    if (it == end) w.end = text.size();
    if (w.has_lower) w.capitals = false;
    w.joined = !out.empty() && joining_gap(text.substr(previous_end, w.begin - previous_end));
    previous_end = w.end;
    out.push_back(std::move(w));
  }
  return out;
}

Xapian::termcount index_words(Xapian::Document& doc, const std::vector<Word>& words,
                              const std::vector<std::string>& stems, std::string_view prefix,
                              Xapian::termpos* position, const std::vector<bool>* left_out) {
  constexpr std::size_t kMaxWordBytes = 64;  // TermGenerator's default max_word_length
  std::string term = "Z";
  term += prefix;
  const std::size_t head = term.size();
  Xapian::termcount skipped = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i].lower.size() > kMaxWordBytes || stems[i].empty()) continue;
    if (left_out && (*left_out)[i]) {
      if (position) ++*position;
      ++skipped;
      continue;
    }
    term.resize(head);
    term += stems[i];
    if (position) doc.add_posting(term, ++*position);
    else doc.add_term(term);
  }
  return skipped;
}

namespace {

// Xapian's QueryParser makes a phrase of words joined by one of these (its is_phrase_generator).
bool phrase_generator(char c) {
  return c == '.' || c == '-' || c == '/' || c == ':' || c == '\\' || c == '@';
}

// A character that can start or end a word next to a phrase generator: ASCII letters and
// digits, and any non-ASCII byte (split_words decides what a word is; this only has to be
// at least as generous, so that a stop word is kept whenever the parser could phrase it).
bool wordish(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u);
}

}  // namespace

std::vector<bool> unindexed_words(const std::vector<Word>& words, std::string_view text) {
  std::vector<bool> out(words.size(), false);
  for (std::size_t i = 0; i < words.size(); ++i) {
    const Word& w = words[i];
    if (w.capitals || !is_index_stop_word(w.lower)) continue;
    const bool joined_before =
        w.begin >= 2 && w.begin <= text.size() && phrase_generator(text[w.begin - 1]) && wordish(text[w.begin - 2]);
    const bool joined_after =
        w.end + 1 < text.size() && phrase_generator(text[w.end]) && wordish(text[w.end + 1]);
    out[i] = !joined_before && !joined_after;
  }
  return out;
}

bool xapian_cjk_ngrams() {
  static const bool on = std::getenv("XAPIAN_CJK_NGRAM") != nullptr;
  return on;
}

namespace {

// Xapian 1.4's CJK::codepoint_is_cjk: the characters TermGenerator and QueryParser split into
// n-grams when XAPIAN_CJK_NGRAM is set.
bool is_cjk(unsigned p) {
  return (p >= 0x2E80 && p <= 0x2FDF) || (p >= 0x3000 && p <= 0x9FFF) || (p >= 0xA700 && p <= 0xA71F) ||
         (p >= 0xAC00 && p <= 0xD7AF) || (p >= 0xF900 && p <= 0xFAFF) || (p >= 0xFE30 && p <= 0xFE4F) ||
         (p >= 0xFF00 && p <= 0xFFEF) || (p >= 0x20000 && p <= 0x2A6DF) || (p >= 0x2F800 && p <= 0x2FA1F);
}

}  // namespace

void move_cjk_ngrams_unstemmed(Xapian::Document& doc) {
  struct Moved {
    std::string from;
    Xapian::termcount wdf = 0;
    std::vector<Xapian::termpos> positions;
  };
  std::vector<Moved> moves;
  for (auto t = doc.termlist_begin(); t != doc.termlist_end(); ++t) {
    const std::string term = *t;
    if (term.empty() || term[0] != 'Z') continue;
    std::size_t i = 1;
    while (i < term.size() && term[i] >= 'A' && term[i] <= 'Z') ++i;  // a field prefix (S, H)
    if (i == term.size() || !is_cjk(*Xapian::Utf8Iterator(term.data() + i, term.size() - i))) continue;
    Moved m{term, t.get_wdf(), {}};
    for (auto p = t.positionlist_begin(); p != t.positionlist_end(); ++p) m.positions.push_back(*p);
    moves.push_back(std::move(m));
  }
  for (const Moved& m : moves) {
    doc.remove_term(m.from);
    const std::string to = m.from.substr(1);
    if (m.positions.empty()) {
      doc.add_term(to, m.wdf);
      continue;
    }
    // TermGenerator gave each occurrence wdf 1 at its position.
    for (Xapian::termpos p : m.positions) doc.add_posting(to, p, 1);
    const Xapian::termcount placed = static_cast<Xapian::termcount>(m.positions.size());
    if (m.wdf > placed) doc.add_term(to, m.wdf - placed);
  }
}

namespace {

constexpr std::string_view kKinds[] = {"disease", "symptom",  "drug",    "drug_class", "test",   "procedure",
                                       "anatomy", "nutrient", "organism", "device",    "concept"};

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

std::size_t letter_count(std::string_view word) {
  std::size_t letters = 0;
  for (Xapian::Utf8Iterator it(word.data(), word.size()); it != Xapian::Utf8Iterator(); ++it) {
    const auto c = U::get_category(*it);
    if (c >= U::UPPERCASE_LETTER && c <= U::OTHER_LETTER) ++letters;
  }
  return letters;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ' ';
    out += p;
  }
  return out;
}

// What a parsed form is, for matching and for the synonym table.
struct ParsedForm {
  std::vector<std::string> stems;
  std::string exact;     // abbreviation matched only in capitals: its lowercased word
  std::string key;       // synonym key
  std::string match;     // identity for duplicate detection: "=" + exact, or the stems
};

ParsedForm parse_form(std::string_view form, const Xapian::Stem& stemmer) {
  ParsedForm parsed;
  const std::vector<Word> words = split_words(normalize_for_analysis(form));
  std::vector<std::string> lowers;
  for (const auto& w : words) {
    parsed.stems.push_back(stemmer(w.lower));
    lowers.push_back(w.lower);
  }
  if (words.empty()) return parsed;
  if (words.size() == 1) {
    parsed.key = "Z" + parsed.stems[0];
    if (words[0].capitals && letter_count(words[0].lower) <= 5) parsed.exact = words[0].lower;
  } else {
    parsed.key = join(lowers);
  }
  parsed.match = parsed.exact.empty() ? join(parsed.stems) : "=" + parsed.exact;
  return parsed;
}

}  // namespace

Result<Vocabulary> Vocabulary::parse(std::string_view text, std::string_view name) {
  Vocabulary vocabulary;
  vocabulary.hash_ = schema::stable_hash(text);
  std::vector<std::string> errors;
  const std::string where(name);
  if (std::size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
    return make_error(ErrorCode::parse, where + ":" + std::to_string(line) + ": invalid UTF-8");
  }
  const Xapian::Stem stemmer(kStemLanguage);

  struct Owner {
    std::uint32_t concept_index;
    std::size_t line;
    bool ambiguous;
  };
  std::unordered_map<std::string, Owner> by_match;  // form identity -> first concept naming it
  std::unordered_map<std::string, Owner> by_key;    // synonym key -> first concept (unambiguous forms)
  std::unordered_map<std::string, std::size_t> id_lines;
  std::map<std::string, std::size_t> ambiguous_index;  // form identity -> index in ambiguous_
  std::set<std::pair<std::string, std::string>> synonyms;

  std::size_t line_number = 0;
  for (std::string_view line : split(text, '\n')) {
    ++line_number;
    auto fail = [&](const std::string& reason) {
      errors.push_back(where + ":" + std::to_string(line_number) + ": " + reason);
    };
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim_ascii_space(line).empty() || trim_ascii_space(line).front() == '#') continue;
    const std::vector<std::string_view> columns = split(line, '\t');
    if (columns.size() < 3 || columns.size() > 4) {
      fail("expected 3 tab-separated columns (id, kind, forms) and an optional note, found " +
           std::to_string(columns.size()));
      continue;
    }
    const std::string id(trim_ascii_space(columns[0]));
    const std::string kind(trim_ascii_space(columns[1]));
    if (!valid_id(id)) {
      fail("id '" + id + "': use 1-64 characters from a-z, 0-9 and '_'");
      continue;
    }
    if (auto seen = id_lines.find(id); seen != id_lines.end()) {
      fail("id '" + id + "' is already defined at line " + std::to_string(seen->second));
      continue;
    }
    if (std::find(std::begin(kKinds), std::end(kKinds), kind) == std::end(kKinds)) {
      std::string known;
      for (auto k : kKinds) known += (known.empty() ? "" : ", ") + std::string(k);
      fail("kind '" + kind + "' is not one of " + known);
      continue;
    }
    Concept c;
    c.id = id;
    c.kind = kind;
    const auto index = static_cast<std::uint32_t>(vocabulary.concepts_.size());
    bool line_ok = true;
    for (std::string_view raw : split(columns[2], '|')) {
      std::string_view form = trim_ascii_space(raw);
      const bool ambiguous = !form.empty() && form.back() == '?';
      if (ambiguous) form = trim_ascii_space(form.substr(0, form.size() - 1));
      if (form.empty()) {
        fail("concept '" + id + "': an empty form (two '|' in a row, or one at an end?)");
        line_ok = false;
        continue;
      }
      ParsedForm parsed = parse_form(form, stemmer);
      if (parsed.stems.empty()) {
        fail("concept '" + id + "': form '" + std::string(form) + "' has no words");
        line_ok = false;
        continue;
      }
      c.forms.emplace_back(form);
      // Another spelling of a name this concept has ("motor neurone disease") tags nothing new,
      // but is a synonym key of its own: multi-word keys are words, not stems.
      bool respelling = false;
      if (auto seen = by_match.find(parsed.match); seen != by_match.end()) {
        const Owner& o = seen->second;
        respelling = o.concept_index == index;
        if (!respelling && !(o.ambiguous && ambiguous)) {
          fail("form '" + std::string(form) + "' of concept '" + id + "' also names concept '" +
               vocabulary.concepts_[o.concept_index].id + "' (line " + std::to_string(o.line) +
               "): mark it ambiguous ('" + std::string(form) + "?') in both, or keep it in one");
          line_ok = false;
          continue;
        }
      } else {
        by_match.emplace(parsed.match, Owner{index, line_number, ambiguous});
      }
      if (ambiguous) {
        auto [pos, added] = ambiguous_index.emplace(parsed.match, vocabulary.ambiguous_.size());
        if (added) vocabulary.ambiguous_.push_back(AmbiguousForm{std::string(form), parsed.key, {}});
        auto& ids = vocabulary.ambiguous_[pos->second].concepts;
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
      } else {
        if (auto seen = by_key.find(parsed.key); seen != by_key.end() && seen->second.concept_index != index) {
          fail("form '" + std::string(form) + "' of concept '" + id + "' has the synonym key '" + parsed.key +
               "' of a form of concept '" + vocabulary.concepts_[seen->second.concept_index].id + "' (line " +
               std::to_string(seen->second.line) + ")");
          line_ok = false;
          continue;
        }
        by_key.emplace(parsed.key, Owner{index, line_number, false});
        synonyms.emplace(parsed.key, term(id));
      }
      if (!ambiguous && !respelling) {
        Form f{std::move(parsed.stems), std::move(parsed.exact), index};
        vocabulary.by_first_stem_[f.stems[0]].push_back(std::move(f));
      }
    }
    if (c.forms.empty() && line_ok) fail("concept '" + id + "' has no forms");
    id_lines.emplace(id, line_number);
    vocabulary.by_id_.emplace(id, index);
    vocabulary.concepts_.push_back(std::move(c));
  }
  if (!errors.empty()) {
    std::string message;
    for (const auto& e : errors) message += (message.empty() ? "" : "\n") + e;
    return make_error(ErrorCode::parse, message);
  }
  for (auto& [stem, forms] : vocabulary.by_first_stem_)
    std::stable_sort(forms.begin(), forms.end(),
                     [](const Form& a, const Form& b) { return a.stems.size() > b.stems.size(); });
  vocabulary.synonyms_.assign(synonyms.begin(), synonyms.end());
  return vocabulary;
}

std::vector<std::pair<std::string, unsigned>> Vocabulary::annotate(std::string_view normalized,
                                                                   const Xapian::Stem& stemmer) const {
  const std::vector<Word> words = split_words(normalized);
  std::vector<std::string> stems;
  stems.reserve(words.size());
  for (const auto& w : words) stems.push_back(stemmer(w.lower));
  return annotate_words(words, stems);
}

std::vector<std::pair<std::string, unsigned>> Vocabulary::annotate_words(const std::vector<Word>& words,
                                                                         const std::vector<std::string>& stems) const {
  std::vector<std::pair<std::string, unsigned>> out;
  if (words.empty()) return out;
  std::map<std::uint32_t, unsigned> counts;
  const std::size_t n = words.size();
  for (std::size_t i = 0; i < n;) {
    std::size_t matched = 0;
    if (auto it = by_first_stem_.find(stems[i]); it != by_first_stem_.end()) {
      for (const Form& form : it->second) {
        const std::size_t length = form.stems.size();
        if (i + length > n) continue;
        if (!form.exact.empty()) {
          // A short abbreviation: written in capitals, among words that are not.
          const Word& w = words[i];
          if (!w.capitals || w.lower != form.exact) continue;
          const bool mixed = n == 1 || (i > 0 && words[i - 1].has_lower) || (i + 1 < n && words[i + 1].has_lower);
          if (!mixed) continue;
        } else {
          bool same = true;
          for (std::size_t k = 1; k < length && same; ++k) same = words[i + k].joined && stems[i + k] == form.stems[k];
          if (!same) continue;
        }
        ++counts[form.concept_index];
        matched = length;
        break;
      }
    }
    i += matched > 0 ? matched : 1;
  }
  out.reserve(counts.size());
  for (auto [index, count] : counts) out.emplace_back(concepts_[index].id, count);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> Vocabulary::find(std::string_view name, const Xapian::Stem& stemmer) const {
  const ParsedForm parsed = parse_form(name, stemmer);
  if (parsed.stems.empty()) return std::nullopt;
  auto it = by_first_stem_.find(parsed.stems[0]);
  if (it == by_first_stem_.end()) return std::nullopt;
  std::optional<std::uint32_t> found;
  for (const Form& form : it->second) {
    if (form.stems != parsed.stems) continue;
    if (found && *found != form.concept_index) return std::nullopt;  // names two concepts
    found = form.concept_index;
  }
  if (!found) return std::nullopt;
  return concepts_[*found].id;
}

const Concept* Vocabulary::concept_by_id(std::string_view id) const {
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : &concepts_[it->second];
}

std::string Vocabulary::term(std::string_view id) { return std::string(schema::kPrefixConcept).append(id); }

std::string_view builtin_vocabulary_text() {
  static const std::string text = [] {
    std::string t;
    for (std::size_t i = 0; i < generated::kMedicalVocabularyChunkCount; ++i) t += generated::kMedicalVocabularyChunks[i];
    return t;
  }();
  return text;
}

const Vocabulary& builtin_vocabulary() {
  static const Vocabulary vocabulary = [] {
    auto parsed = Vocabulary::parse(builtin_vocabulary_text(), "corpus/vocabulary/medical.tsv");
    // The shipped file is checked by corpus_test; failing here is a build that skipped it.
    if (!parsed.ok()) throw std::logic_error("the built-in vocabulary does not parse:\n" + parsed.error().message);
    return std::move(parsed.value());
  }();
  return vocabulary;
}

}  // namespace medsearch::corpus
