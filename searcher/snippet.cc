// Snippets read the way the index reads text (snippet.h).
#include "searcher/snippet.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "corpus/analysis.h"

namespace medsearch::searcher {

namespace {

// Xapian's TermGenerator indexes no word longer than this (its max_word_length).
constexpr std::size_t kMaxWordBytes = 64;
// A repeat of a word already in the window counts this fraction of its weight: a window with
// more of the question's distinct words beats one repeating a single word.
constexpr std::int64_t kRepeatDivisor = 10;
// Leading and trailing punctuation kept with the window ('(' before its first word, ".)" after
// its last), as Xapian's snippets keep them.
constexpr std::size_t kMaxTrailingPunctuation = 4;

// The code point at `pos` and its length in bytes; an invalid byte is U+FFFD of length 1
// (stored passages are valid UTF-8; this only keeps a broken one from being misread).
std::pair<unsigned, std::size_t> decode(std::string_view s, std::size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) return {b0, 1};
  auto cont = [&](std::size_t k) {
    return pos + k < s.size() && (static_cast<unsigned char>(s[pos + k]) & 0xC0) == 0x80
               ? static_cast<unsigned>(static_cast<unsigned char>(s[pos + k]) & 0x3F)
               : 0x100u;
  };
  if (b0 >= 0xC2 && b0 < 0xE0) {
    const unsigned c1 = cont(1);
    if (c1 < 0x100) return {((b0 & 0x1Fu) << 6) | c1, 2};
  } else if (b0 >= 0xE0 && b0 < 0xF0) {
    const unsigned c1 = cont(1), c2 = cont(2);
    if (c1 < 0x100 && c2 < 0x100) return {((b0 & 0x0Fu) << 12) | (c1 << 6) | c2, 3};
  } else if (b0 >= 0xF0 && b0 < 0xF5) {
    const unsigned c1 = cont(1), c2 = cont(2), c3 = cont(3);
    if (c1 < 0x100 && c2 < 0x100 && c3 < 0x100) return {((b0 & 0x07u) << 18) | (c1 << 12) | (c2 << 6) | c3, 4};
  }
  return {0xFFFD, 1};
}

bool is_digit(unsigned ch) { return Xapian::Unicode::get_category(ch) == Xapian::Unicode::DECIMAL_DIGIT_NUMBER; }

// Characters Xapian's TermGenerator keeps inside a word between two word characters.
bool joins_words(unsigned ch) {
  return ch == '\'' || ch == '&' || ch == 0xB7 || ch == 0x5F4 || ch == 0x2019 || ch == 0x201B || ch == 0x2027;
}
// ... and between two digits ("1,000", "3.14").
bool joins_digits(unsigned ch) {
  return ch == ',' || ch == '.' || ch == ';' || ch == 0x37E || ch == 0x589 || ch == 0x60D || ch == 0x7F8 ||
         ch == 0x2044 || ch == 0xFE10 || ch == 0xFE13 || ch == 0xFE14;
}

// Xapian's word characters among ASCII (letters, digits, '_'), looked up without its tables.
const std::array<bool, 128> kAsciiWordChar = [] {
  std::array<bool, 128> t{};
  for (unsigned c = 0; c < 128; ++c) t[c] = Xapian::Unicode::is_wordchar(c);
  return t;
}();

bool is_wordchar(unsigned ch) { return ch < 128 ? kAsciiWordChar[ch] : Xapian::Unicode::is_wordchar(ch); }

bool is_word_at(std::string_view s, std::size_t pos) { return pos < s.size() && is_wordchar(decode(s, pos).first); }

bool is_sentence_end(char c) { return c == '.' || c == '?' || c == '!'; }
bool is_opening(char c) { return c == '(' || c == '[' || c == '{' || c == '"' || c == '\''; }
bool is_closing(char c) {
  return is_sentence_end(c) || c == ')' || c == ']' || c == '}' || c == '"' || c == '\'' || c == '%';
}

void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
}

bool plain_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80 && c != '`'; });
}

}  // namespace

std::vector<std::pair<std::size_t, std::size_t>> split_snippet_words(std::string_view text) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    auto [ch, len] = decode(text, i);
    if (!is_wordchar(ch)) {
      i += len;
      continue;
    }
    const std::size_t begin = i;
    unsigned prev = ch;
    i += len;
    while (i < n) {
      auto [c, l] = decode(text, i);
      if (is_wordchar(c)) {
        prev = c;
        i += l;
        continue;
      }
      if (joins_words(c) && is_word_at(text, i + l)) {
        i += l;
        continue;
      }
      if (joins_digits(c) && is_digit(prev) && i + l < n && is_digit(decode(text, i + l).first)) {
        i += l;
        continue;
      }
      break;
    }
    std::size_t end = i;
    std::size_t k = i;
    while (k < n && k - i < 3 && (text[k] == '+' || text[k] == '#')) ++k;
    if (k > i && !is_word_at(text, k)) end = i = k;
    out.emplace_back(begin, end);
  }
  return out;
}

Snippeter::Snippeter(const std::vector<std::pair<std::string, double>>& terms, Xapian::Stem stemmer)
    : first_two_(256 * 256, false), first_only_(256, false), stemmer_(std::move(stemmer)) {
  for (const auto& [term, weight] : terms) {
    if (term_index_.count(term) > 0) continue;
    std::string_view body = term;
    if (!body.empty() && body.front() == 'Z') body.remove_prefix(1);
    if (!body.empty()) {
      const auto c0 = static_cast<unsigned char>(body[0]);
      if (body.size() == 1) {
        first_only_[c0] = true;
      } else {
        first_two_[c0 * 256u + static_cast<unsigned char>(body[1])] = true;
        if (body == "die" || body == "lie" || body == "tie") first_two_[c0 * 256u + 'y'] = true;
      }
    }
    term_index_.emplace(term, static_cast<int>(weights_.size()));
    weights_.push_back(std::max(weight, 1e-3));
  }
}

int Snippeter::lookup(const std::string& analysed) {
  if (analysed.empty() || analysed.size() > kMaxWordBytes) return -1;
  if (auto it = term_index_.find(analysed); it != term_index_.end()) return it->second;
  const std::string stem = stemmer_(analysed);
  std::string stemmed;
  stemmed.reserve(stem.size() + 1);
  stemmed += 'Z';
  stemmed += stem;
  if (auto it = term_index_.find(stemmed); it != term_index_.end()) return it->second;
  return -1;
}

bool Snippeter::may_match(std::string_view lower) const {
  const auto c0 = static_cast<unsigned char>(lower[0]);
  return first_only_[c0] || (lower.size() > 1 && first_two_[c0 * 256u + static_cast<unsigned char>(lower[1])]);
}

int Snippeter::term_of(std::string_view written) {
  if (plain_ascii(written)) {
    lower_.assign(written);
    for (char& c : lower_)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return may_match(lower_) ? lookup(lower_) : -1;
  }
  std::string key(written);
  if (auto it = seen_.find(key); it != seen_.end()) return it->second;
  int best = -1;
  {
    // As the index reads it: "β" is "beta", "ﬁ" is "fi", "ＨＩＶ" is "HIV" (possibly several
    // words: the best matched one counts).
    const std::string normal = corpus::normalize_for_analysis(written);
    for (const auto& [b, e] : split_snippet_words(normal)) {
      const int term = lookup(Xapian::Unicode::tolower(normal.substr(b, e - b)));
      if (term >= 0 && (best < 0 || weights_[static_cast<std::size_t>(term)] > weights_[static_cast<std::size_t>(best)]))
        best = term;
    }
  }
  // Bounded: a question meets the words of a page of passages, but a long-lived Snippeter
  // should not grow without end.
  if (seen_.size() >= 1 << 16) seen_.clear();
  seen_.emplace(std::move(key), best);
  return best;
}

std::string Snippeter::operator()(std::string_view text, std::size_t bytes) {
  std::string out;
  if (bytes == 0 || text.empty()) return out;
  words_.clear();
  for (const auto& [b, e] : split_snippet_words(text)) words_.push_back({b, e, term_of(text.substr(b, e - b))});
  const std::size_t n = words_.size();
  if (n == 0) {  // no word at all: the start of the text, cut between characters
    std::size_t cut = std::min(bytes, text.size());
    while (cut < text.size() && cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    append_escaped(out, text.substr(0, cut));
    if (cut < text.size()) out += "\u2026";
    return out;
  }

  std::vector<std::int64_t> weight(weights_.size());
  for (std::size_t t = 0; t < weights_.size(); ++t)
    weight[t] = std::max<std::int64_t>(1, std::llround(weights_[t] * 1000.0));
  auto span = [this](std::size_t i, std::size_t j) { return words_[j].end - words_[i].begin; };
  // Word k begins a sentence: the first word, or one after ". ", "? ", "! " (closing quotes and
  // brackets between allowed).
  auto starts_sentence = [this, text](std::size_t k) {
    if (k == 0) return true;
    const std::string_view gap = text.substr(words_[k - 1].end, words_[k].begin - words_[k - 1].end);
    const std::size_t stop = gap.find_first_of(".?!");
    return stop != std::string_view::npos && gap.find_first_of(" \n\t\r", stop) != std::string_view::npos;
  };

  std::size_t bi = 0, bj = 0;
  if (text.size() <= bytes) {
    bj = n - 1;
  } else {
    // The window of whole words within `bytes` with the most weight: each distinct term once,
    // repeats a tenth. Two pointers over the words; the first best window wins ties.
    in_window_.assign(weights_.size(), 0);
    std::int64_t score = 0, best = -1;
    std::size_t i = 0;
    auto add = [&](const Word& w) {
      if (w.term < 0) return;
      const auto t = static_cast<std::size_t>(w.term);
      score += in_window_[t]++ == 0 ? weight[t] : weight[t] / kRepeatDivisor;
    };
    auto remove = [&](const Word& w) {
      if (w.term < 0) return;
      const auto t = static_cast<std::size_t>(w.term);
      score -= --in_window_[t] == 0 ? weight[t] : weight[t] / kRepeatDivisor;
    };
    for (std::size_t j = 0; j < n; ++j) {
      add(words_[j]);
      while (i < j && span(i, j) > bytes) remove(words_[i++]);
      if (score > best) {
        best = score;
        bi = i;
        bj = j;
      }
    }
    // The window's first and last matched words; then start where their sentence starts, if
    // the matched words still fit from there, else at the first of them.
    while (bi < bj && words_[bi].term < 0) ++bi;
    while (bj > bi && words_[bj].term < 0) --bj;
    std::size_t first = bi;
    while (!starts_sentence(first) && span(first - 1, bj) <= bytes) --first;
    if (starts_sentence(first)) bi = first;
    // Then fill the budget: words after the window, then (at the text's end) words before it,
    // whole sentences when it starts one.
    while (bj + 1 < n && span(bi, bj + 1) <= bytes) ++bj;
    if (starts_sentence(bi)) {
      for (std::size_t p = bi; p > 0 && span(p - 1, bj) <= bytes;) {
        --p;
        if (starts_sentence(p)) bi = p;
      }
    } else {
      while (bi > 0 && span(bi - 1, bj) <= bytes) --bi;
    }
  }

  const bool whole = text.size() <= bytes;
  // Opening punctuation just before the first word ("(", a quote) comes with it.
  std::size_t start = whole ? 0 : words_[bi].begin;
  if (start > 0 && is_opening(text[start - 1])) --start;
  // No "…" where the window starts the text or a sentence.
  if (!whole && !starts_sentence(bi)) out += "\u2026";

  std::size_t at = start;
  for (std::size_t k = bi; k <= bj; ++k) {
    const Word& w = words_[k];
    append_escaped(out, text.substr(at, w.begin - at));
    if (w.term >= 0) out += "<mark>";
    append_escaped(out, text.substr(w.begin, w.end - w.begin));
    if (w.term >= 0) out += "</mark>";
    at = w.end;
  }
  // Closing punctuation after the last word (".", ")", "%"), a few characters at most.
  std::size_t end = at;
  if (whole) end = text.size();
  while (end < text.size() && end - at < kMaxTrailingPunctuation && is_closing(text[end])) ++end;
  append_escaped(out, text.substr(at, end - at));
  bool ends_sentence = false;
  for (std::size_t k = at; k < end; ++k) ends_sentence |= is_sentence_end(text[k]);
  if (bj + 1 < n && !ends_sentence) out += "\u2026";
  return out;
}

}  // namespace medsearch::searcher
