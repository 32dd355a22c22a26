// Splitting records into passages: whole sections when short, windows of whole sentences
// when long.
#include "corpus/passage.h"

#include "corpus/analysis.h"

namespace medsearch::corpus {

namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// Trims white space from both ends of [begin, end) within text.
std::pair<std::size_t, std::size_t> trim(std::string_view text, std::size_t begin, std::size_t end) {
  while (begin < end && is_ascii_space(text[begin])) ++begin;
  while (end > begin && is_ascii_space(text[end - 1])) --end;
  return {begin, end};
}

// Cuts an overlong sentence [begin, end) into pieces of at most max bytes at spaces (or,
// failing that, at a UTF-8 character boundary).
void cut_long(std::string_view text, std::size_t begin, std::size_t end, std::size_t max,
              std::vector<std::pair<std::size_t, std::size_t>>& out) {
  while (end - begin > max) {
    std::size_t cut = begin + max;
    std::size_t space = cut;
    while (space > begin + max / 2 && !is_ascii_space(text[space])) --space;
    if (space > begin + max / 2) {
      cut = space;
    } else {
      while (cut > begin && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    }
    out.emplace_back(begin, cut);
    begin = cut;
  }
  if (end > begin) out.emplace_back(begin, end);
}

// Windows of whole sentences, each at most max bytes (but for single long sentences, cut).
std::vector<std::pair<std::size_t, std::size_t>> windows(std::string_view text, const PassageOptions& options) {
  std::vector<std::pair<std::size_t, std::size_t>> pieces;
  for (auto [b, e] : sentence_ranges(text)) cut_long(text, b, e, options.max_bytes, pieces);
  std::vector<std::pair<std::size_t, std::size_t>> result;
  for (auto [b, e] : pieces) {
    if (!result.empty() && e - result.back().first <= options.max_bytes) {
      result.back().second = e;
    } else {
      result.emplace_back(b, e);
    }
  }
  // A short tail reads badly alone: join it to the window before it.
  if (result.size() >= 2 && result.back().second - result.back().first < options.min_bytes) {
    result[result.size() - 2].second = result.back().second;
    result.pop_back();
  }
  return result;
}

}  // namespace

std::string passage_id(std::string_view record_id, int ordinal) {
  std::string id(record_id);
  id += ":p";
  id += std::to_string(ordinal);
  return id;
}

std::vector<Passage> split_into_passages(const Record& record, const PassageOptions& options) {
  std::vector<Passage> passages;
  for (std::size_t si = 0; si < record.sections.size(); ++si) {
    const Section& section = record.sections[si];
    std::string_view text = section.text;
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    auto whole = trim(text, 0, text.size());
    if (whole.first == whole.second) continue;
    if (whole.second - whole.first <= options.max_bytes) {
      ranges.push_back(whole);
    } else {
      ranges = windows(text, options);
    }
    for (auto [b, e] : ranges) {
      auto [tb, te] = trim(text, b, e);
      if (tb == te) continue;
      Passage p;
      p.ordinal = static_cast<int>(passages.size());
      p.id = passage_id(record.id, p.ordinal);
      p.record_id = record.id;
      p.section_index = static_cast<int>(si);
      p.heading = section.heading;
      p.section = section.key;
      p.text = std::string(text.substr(tb, te - tb));
      p.start = tb;
      p.end = te;
      passages.push_back(std::move(p));
    }
  }
  return passages;
}

}  // namespace medsearch::corpus
