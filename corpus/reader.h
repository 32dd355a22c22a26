// Readers: turn input files into Records, reporting every bad item with its location and
// carrying on. A reader works in two steps so that bulk indexing can parse on every core:
// next_raw() frames the next item (sequential, cheap: a line, a record block, an XML element)
// and parse() turns a framed item into records (thread-safe, the expensive part).
//
// Formats: native medsearch JSONL, BEIR corpus.jsonl, openFDA drug label JSON, DailyMed SPL
// XML, PubMed MEDLINE text and PubMed XML; any of them plain or gzip-compressed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/input.h"
#include "corpus/record.h"
#include "corpus/result.h"

namespace medsearch::corpus {

enum class Format { automatic, medsearch, beir, openfda, spl, medline, pubmed_xml };

std::string_view to_string(Format format);
// "auto", "medsearch", "beir", "openfda", "spl", "medline", "pubmed-xml"; nullopt otherwise.
std::optional<Format> parse_format(std::string_view name);
// The names parse_format accepts, for --help and error messages.
const std::vector<std::string>& format_names();

// One framed item: its location ("file:line", or "file:results[17]" where lines mean little)
// and its raw text.
struct RawItem {
  std::string location;
  std::string text;
  // Set when framing itself failed for this item (a read error, corrupt compressed data, an
  // unterminated element); parse() then reports it as the item's rejection.
  std::string error;
};

// One item read: a record, or the reason it was rejected. `location` says where it was read;
// `raw` is the item's original text (kept for --rejects). An item may instead carry record
// ids to delete (PubMed's DeleteCitation): then `record` is empty and `error` unset.
struct ReadItem {
  std::string location;
  std::optional<Record> record;
  Error error;  // meaningful when !record && deleted_ids.empty()
  std::string raw;
  std::vector<std::string> deleted_ids;

  bool rejected() const { return !record && deleted_ids.empty(); }
};

// Rejected items keep at most this much of their raw text (for --rejects).
inline constexpr std::size_t kMaxRawBytes = std::size_t{1} << 20;
// `text` cut to at most kMaxRawBytes, at a UTF-8 character boundary.
std::string truncate_raw(std::string_view text);

// Reads records from one input. next_raw() is not thread-safe (one thread frames); parse() is
// const and may be called from many threads at once on different items.
class RecordReader {
 public:
  virtual ~RecordReader() = default;
  // Frames the next item; returns false at the end of input. A framing problem that spoils one
  // item (an unterminated element) is returned as an item whose parse() reports it.
  virtual bool next_raw(RawItem& item) = 0;
  // Parses one framed item into zero or more read items (usually one).
  virtual void parse(const RawItem& item, std::vector<ReadItem>& out) const = 0;
  // The input being read (for progress counters).
  virtual const InputFile& input() const = 0;

  // Sequential convenience: frames and parses the next item. Returns false at the end.
  bool next(ReadItem& item);

 private:
  std::vector<ReadItem> pending_;
  std::size_t pending_pos_ = 0;
};

// Opens `path` as `format`. With Format::automatic the format is chosen from the content (and
// the name only where the content is ambiguous). Fails with `unavailable` when the file cannot
// be opened, `parse` when the format cannot be detected. When `chosen` is given it receives the
// format the file is read as.
Result<std::unique_ptr<RecordReader>> open_reader(const std::string& path, Format format, Format* chosen = nullptr);

// Detects the format of `head`, the first bytes of a file (decompressed); `name` is its path.
// Format::automatic when nothing matches.
Format detect_format(std::string_view head, std::string_view name);

// Parses one line of native JSONL / BEIR JSONL into a record (no location in errors).
Result<Record> parse_medsearch_line(std::string_view line);
Result<Record> parse_beir_line(std::string_view line);

}  // namespace medsearch::corpus
