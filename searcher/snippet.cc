// Snippets read the way the index reads text (snippet.h).
#include "searcher/snippet.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "corpus/analysis.h"
#include "corpus/vocabulary.h"

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
    weights_.push_back(std::max<std::int64_t>(1, std::llround(weight * 1000.0)));
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

int Snippeter::term_of(const corpus::Word& word, std::string_view written) {
  if (plain_ascii(written)) return may_match(word.lower) ? lookup(word.lower) : -1;
  std::string key(written);
  if (auto it = seen_.find(key); it != seen_.end()) return it->second;
  // As the index reads it: "β" is "beta", "ﬁ" is "fi", "ＨＩＶ" is "HIV" (possibly several
  // words: the best matched one counts).
  int best = -1;
  for (const corpus::Word& analysed : corpus::split_words(corpus::normalize_for_analysis(written))) {
    const int term = lookup(analysed.lower);
    if (term >= 0 && (best < 0 || weights_[static_cast<std::size_t>(term)] > weights_[static_cast<std::size_t>(best)]))
      best = term;
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
  for (const corpus::Word& w : corpus::split_words(text))
    words_.push_back({w.begin, w.end, term_of(w, text.substr(w.begin, w.end - w.begin))});
  const std::size_t n = words_.size();
  if (n == 0) {  // no word at all: the start of the text, cut between characters
    std::size_t cut = std::min(bytes, text.size());
    while (cut < text.size() && cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    append_escaped(out, text.substr(0, cut));
    if (cut < text.size()) out += "\u2026";
    return out;
  }

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
      score += in_window_[t]++ == 0 ? weights_[t] : weights_[t] / kRepeatDivisor;
    };
    auto remove = [&](const Word& w) {
      if (w.term < 0) return;
      const auto t = static_cast<std::size_t>(w.term);
      score -= --in_window_[t] == 0 ? weights_[t] : weights_[t] / kRepeatDivisor;
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
