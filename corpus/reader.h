// Readers: turn input files into Records, one at a time, reporting every bad item with its
// location and carrying on. Formats: native medsearch JSONL and BEIR corpus.jsonl.
#pragma once

#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "corpus/record.h"
#include "corpus/result.h"

namespace medsearch::corpus {

enum class Format { automatic, medsearch, beir };

std::string_view to_string(Format format);
std::optional<Format> parse_format(std::string_view name);  // "auto", "medsearch", "beir"

// One item read from a file: a record, or the reason it was rejected. `location` is
// "file:line".
struct ReadItem {
  std::string location;
  std::optional<Record> record;
  Error error;  // meaningful when !record
};

// Reads records from one file. Not thread-safe; one reader per thread.
class RecordReader {
 public:
  virtual ~RecordReader() = default;
  // Fills `item` with the next record or rejected item; returns false at the end.
  virtual bool next(ReadItem& item) = 0;
};

// Opens `path` as `format`. With Format::automatic the format is chosen from the first
// non-blank line (an object with "_id" is BEIR, one with "id" and "source" is medsearch).
// Fails with `unavailable` when the file cannot be opened, `parse` when the format cannot be
// detected.
Result<std::unique_ptr<RecordReader>> open_reader(const std::string& path, Format format);

// Parses one line of native JSONL / BEIR JSONL into a record (no location in errors).
Result<Record> parse_medsearch_line(std::string_view line);
Result<Record> parse_beir_line(std::string_view line);

}  // namespace medsearch::corpus
