// Passages: the unit medsearch indexes and returns. A record is split into passages;
// short sections stay whole, long text becomes windows of whole sentences.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/record.h"

namespace medsearch::corpus {

struct Passage {
  std::string id;         // "<record id>:p<ordinal>", stable for the same record content
  std::string record_id;
  int ordinal = 0;        // 0-based position among the record's passages
  int section_index = 0;  // index into Record::sections
  std::string heading;    // the section's heading (may be empty)
  std::string section;    // the section's key (may be empty)
  std::string text;       // the passage text, a substring of the section text
  std::size_t start = 0;  // byte offsets of `text` within the section's text: [start, end)
  std::size_t end = 0;
};

struct PassageOptions {
  // A section up to this many bytes stays one passage; longer text is cut into windows of
  // whole sentences no longer than this (a single longer sentence is cut at a word boundary).
  std::size_t max_bytes = 1200;
  // A last window shorter than this is merged into the window before it, so the last passage
  // of a section may reach max_bytes + min_bytes - 1 bytes.
  std::size_t min_bytes = 200;
};

// Splits a record into passages, in section order. Empty sections give no passage.
// Deterministic: the same record and options always give the same passages and ids.
std::vector<Passage> split_into_passages(const Record& record, const PassageOptions& options = {});

// The passage id for a record id and ordinal.
std::string passage_id(std::string_view record_id, int ordinal);

}  // namespace medsearch::corpus
