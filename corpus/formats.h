// The format modules behind open_reader(): each makes a RecordReader over an open input and
// says whether a file's first bytes look like its format. Internal to corpus/.
#pragma once

#include <memory>
#include <string_view>

#include "corpus/input.h"
#include "corpus/reader.h"

namespace medsearch::corpus::formats {

// Native medsearch JSONL and BEIR corpus.jsonl (reader.cc).
std::unique_ptr<RecordReader> make_jsonl_reader(std::unique_ptr<InputFile> in, Format format);

// openFDA drug label JSON: an API response or bulk file ({"meta":..., "results":[...]}) or
// JSONL of result objects (openfda.cc).
std::unique_ptr<RecordReader> make_openfda_reader(std::unique_ptr<InputFile> in);
bool looks_like_openfda(std::string_view head);

// DailyMed SPL XML, one label per file (spl.cc).
std::unique_ptr<RecordReader> make_spl_reader(std::unique_ptr<InputFile> in);
bool looks_like_spl(std::string_view head);

// PubMed MEDLINE text format (medline.cc) and PubMed XML, PubmedArticleSet (pubmed_xml.cc).
std::unique_ptr<RecordReader> make_medline_reader(std::unique_ptr<InputFile> in);
bool looks_like_medline(std::string_view head);
std::unique_ptr<RecordReader> make_pubmed_xml_reader(std::unique_ptr<InputFile> in);
bool looks_like_pubmed_xml(std::string_view head);

}  // namespace medsearch::corpus::formats
