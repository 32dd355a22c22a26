// PubMed XML (a PubmedArticleSet, as in the annual baseline and daily update files and EFetch
// output): PubmedArticle, PubmedBookArticle and DeleteCitation elements. A baseline file holds
// ~30,000 articles, so the file is never one DOM: a textual scanner frames each top-level
// element (skipping the declaration, DOCTYPE, comments and CDATA), and parse() reads one
// framed element with pugixml. A damaged or unterminated element rejects only itself.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pugixml.hpp>

#include "corpus/analysis.h"
#include "corpus/formats.h"
#include "corpus/pubmed_common.h"

namespace medsearch::corpus::formats {

namespace {

constexpr std::string_view kItemNames[] = {"PubmedArticle", "PubmedBookArticle", "DeleteCitation"};
// Closing one of these while an item is open means the item was never closed.
constexpr std::string_view kSetNames[] = {"PubmedArticleSet", "PubmedBookArticleSet"};

bool is_item_name(std::string_view name) {
  return std::find(std::begin(kItemNames), std::end(kItemNames), name) != std::end(kItemNames);
}
bool is_set_name(std::string_view name) {
  return std::find(std::begin(kSetNames), std::end(kSetNames), name) != std::end(kSetNames);
}
bool is_name_end(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '>' || c == '/'; }

// ---- Framing --------------------------------------------------------------------------------

class PubmedXmlReader final : public RecordReader {
 public:
  explicit PubmedXmlReader(std::unique_ptr<InputFile> in) : in_(std::move(in)) {}

  bool next_raw(RawItem& item) override {
    item.location.clear();
    item.text.clear();
    item.error.clear();
    while (true) {
      if (mode_ == Mode::item && pos_ - item_start_ > kMaxPubmedItemBytes) {
        // Stop holding the item; keep scanning for its end so the next one frames normally.
        raw_prefix_ = truncate_raw(std::string_view(buf_).substr(item_start_));
        mode_ = Mode::oversized;
      }
      compact();
      if (!find_lt()) return at_end(item);
      const std::size_t lt = pos_;
      if (starts_at(lt, "<!--")) {
        if (!skip_past("-->", lt + 4)) return at_end(item);
        continue;
      }
      if (starts_at(lt, "<![CDATA[")) {
        if (!skip_past("]]>", lt + 9)) return at_end(item);
        continue;
      }
      if (starts_at(lt, "<?")) {
        if (!skip_past("?>", lt + 2)) return at_end(item);
        continue;
      }
      if (starts_at(lt, "<!")) {
        if (!skip_declaration(lt + 2)) return at_end(item);
        continue;
      }
      const bool closing = have(lt + 1) && buf_[lt + 1] == '/';
      const std::string name = read_name(lt + (closing ? 2 : 1));
      const std::size_t end = tag_end(lt + 1);
      if (end == std::string::npos) return at_end(item);
      const bool self_closing = buf_[end - 2] == '/';

      if (mode_ == Mode::outside) {
        pos_ = end;
        if (!closing && is_set_name(name)) saw_set_ = true;
        if (closing || !is_item_name(name)) continue;
        saw_set_ = true;
        item_start_ = lt;
        item_name_ = name;
        item_line_ = line_at(lt);
        if (self_closing) return emit(item, end);
        mode_ = Mode::item;
        continue;
      }
      if (closing && name == item_name_) return emit(item, end);
      if ((!closing && is_item_name(name)) || (closing && is_set_name(name))) {
        // The open item never closed; this tag belongs to what follows, so scanning resumes here.
        std::string why = "<" + std::string(closing ? "/" : "") + name + "> at line " +
                          std::to_string(line_at(lt)) + " comes first";
        return emit_unterminated(item, lt, why);
      }
      pos_ = end;
    }
  }

  void parse(const RawItem& raw, std::vector<ReadItem>& out) const override;

  const InputFile& input() const override { return *in_; }

 private:
  enum class Mode { outside, item, oversized };
  static constexpr std::size_t kChunk = 1 << 20;
  static constexpr std::size_t kCompactAt = 1 << 20;

  // Appends the next chunk of input to buf_; false at the end. Never moves existing bytes.
  bool fill() {
    if (eof_) return false;
    const std::size_t old = buf_.size();
    buf_.resize(old + kChunk);
    const std::size_t got = in_->read(buf_.data() + old, kChunk);
    buf_.resize(old + got);
    if (got == 0) eof_ = true;
    return got > 0;
  }

  // True once buf_ holds byte `i` (reading as needed); false if the input ends first.
  bool have(std::size_t i) {
    while (i >= buf_.size()) {
      if (!fill()) return false;
    }
    return true;
  }

  bool starts_at(std::size_t i, std::string_view s) {
    if (!have(i + s.size() - 1)) return false;
    return std::string_view(buf_).substr(i, s.size()) == s;
  }

  // Drops bytes no longer needed (before the open item, or before the scan position), between
  // tokens only, so that no offset held elsewhere goes stale.
  void compact() {
    const std::size_t drop = mode_ == Mode::item ? item_start_ : pos_;
    if (drop < kCompactAt) return;
    line_at(drop);
    buf_.erase(0, drop);
    pos_ -= drop;
    if (mode_ == Mode::item) item_start_ -= drop;
    line_pos_ -= drop;
  }

  // The line number of buf_[offset], counted incrementally from the last position asked about.
  std::uint64_t line_at(std::size_t offset) {
    const char* b = buf_.data();
    if (offset >= line_pos_) {
      line_ += static_cast<std::uint64_t>(std::count(b + line_pos_, b + offset, '\n'));
    } else {
      line_ -= static_cast<std::uint64_t>(std::count(b + offset, b + line_pos_, '\n'));
    }
    line_pos_ = offset;
    return line_;
  }

  // Moves pos_ to the next '<'; false at the end of input. Text outside an item (or inside one
  // too large to keep) is dropped as it is passed.
  bool find_lt() {
    std::size_t from = pos_;
    while (true) {
      if (const void* hit = std::memchr(buf_.data() + from, '<', buf_.size() - from)) {
        pos_ = static_cast<std::size_t>(static_cast<const char*>(hit) - buf_.data());
        return true;
      }
      from = buf_.size();
      if (mode_ == Mode::item && from - item_start_ > kMaxPubmedItemBytes) {
        // A missing end tag must not pull the rest of a large file into memory.
        raw_prefix_ = truncate_raw(std::string_view(buf_).substr(item_start_));
        mode_ = Mode::oversized;
      }
      if (mode_ != Mode::item) {
        pos_ = from;
        compact();
        from = pos_;
      }
      if (!fill()) {
        pos_ = buf_.size();
        return false;
      }
    }
  }

  // Moves pos_ past the next `needle` at or after `from`; false at the end of input.
  bool skip_past(std::string_view needle, std::size_t from) {
    std::size_t searched = from;
    while (true) {
      const std::size_t hit = buf_.find(needle, searched);
      if (hit != std::string::npos) {
        pos_ = hit + needle.size();
        return true;
      }
      if (buf_.size() >= needle.size()) searched = std::max(searched, buf_.size() - needle.size() + 1);
      if (!fill()) {
        pos_ = buf_.size();
        return false;
      }
    }
  }

  // Skips a markup declaration (<!DOCTYPE ... [ internal subset ]>) from just after "<!".
  bool skip_declaration(std::size_t i) {
    int depth = 0;
    char quote = 0;
    for (;; ++i) {
      if (!have(i)) {
        pos_ = buf_.size();
        return false;
      }
      const char c = buf_[i];
      if (quote != 0) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '[') {
        ++depth;
      } else if (c == ']') {
        depth = std::max(0, depth - 1);
      } else if (c == '>' && depth == 0) {
        pos_ = i + 1;
        return true;
      }
    }
  }

  std::string read_name(std::size_t i) {
    std::string name;
    while (have(i) && !is_name_end(buf_[i]) && name.size() < 64) name += buf_[i++];
    return name;
  }

  // The offset just past the '>' that ends the tag whose name starts at `i`, respecting quoted
  // attribute values; npos at the end of input.
  std::size_t tag_end(std::size_t i) {
    char quote = 0;
    for (;; ++i) {
      if (!have(i)) {
        pos_ = buf_.size();
        return std::string::npos;
      }
      const char c = buf_[i];
      if (quote != 0) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>') {
        return i + 1;
      }
    }
  }

  bool emit(RawItem& item, std::size_t end) {
    item.location = in_->path() + ":" + std::to_string(item_line_);
    if (mode_ == Mode::oversized) {
      item.error = "<" + item_name_ + "> is larger than " + std::to_string(kMaxPubmedItemBytes >> 20) +
                   " MiB; skipped";
      item.text = std::move(raw_prefix_);
    } else {
      item.text.assign(buf_, item_start_, end - item_start_);
    }
    raw_prefix_.clear();
    pos_ = end;
    mode_ = Mode::outside;
    return true;
  }

  // Reports the open item as never closed; scanning goes on from `resume`.
  bool emit_unterminated(RawItem& item, std::size_t resume, const std::string& why) {
    item.location = in_->path() + ":" + std::to_string(item_line_);
    item.error = "<" + item_name_ + "> has no closing </" + item_name_ + ">: " + why;
    if (mode_ == Mode::oversized) {
      item.text = std::move(raw_prefix_);
    } else {
      item.text = truncate_raw(std::string_view(buf_).substr(item_start_, resume - item_start_));
    }
    if (item.text.empty()) item.text = "<" + item_name_;  // an empty text means a read error to parse()
    raw_prefix_.clear();
    pos_ = resume;
    mode_ = Mode::outside;
    return true;
  }

  // The end of input: an open item is reported as truncated; a read error is reported once.
  bool at_end(RawItem& item) {
    pos_ = buf_.size();
    const std::string read_error = in_->error().empty() ? "" : " (" + in_->error() + ")";
    if (mode_ != Mode::outside) {
      reported_error_ = true;
      // The last line is the one holding the last byte, not the empty one after a final newline.
      const bool final_newline = !buf_.empty() && buf_.back() == '\n';
      const std::uint64_t last_line = line_at(buf_.size()) - (final_newline ? 1 : 0);
      return emit_unterminated(item, buf_.size(),
                               "the file ends at line " + std::to_string(last_line) + read_error +
                                   (read_error.empty() ? " (truncated?)" : ""));
    }
    if (!read_error.empty() && !reported_error_) {
      reported_error_ = true;
      item.location = in_->path() + ":" + std::to_string(line_at(buf_.size()));
      item.error = in_->error();
      return true;
    }
    if (!saw_set_ && !reported_error_) {
      // Say so rather than read nothing in silence (a file given --format pubmed-xml wrongly).
      reported_error_ = true;
      item.location = in_->path() + ":1";
      item.error = "no <PubmedArticleSet>, <PubmedArticle>, <PubmedBookArticle> or <DeleteCitation> found; "
                   "is this PubMed XML?";
      item.text = "<";  // not a read error
      return true;
    }
    return false;
  }

  std::unique_ptr<InputFile> in_;
  std::string buf_;            // input read and not yet dropped
  std::size_t pos_ = 0;        // scan position in buf_
  bool eof_ = false;
  std::size_t line_pos_ = 0;   // line_ is the line number of buf_[line_pos_]
  std::uint64_t line_ = 1;
  Mode mode_ = Mode::outside;
  std::size_t item_start_ = 0;  // the open item's '<'
  std::string item_name_;
  std::uint64_t item_line_ = 0;
  std::string raw_prefix_;  // the start of an oversized item, for the rejects file
  bool saw_set_ = false;    // a PubmedArticleSet or an item was seen
  bool reported_error_ = false;
};

// ---- Parsing --------------------------------------------------------------------------------

// All character data under `node`, in document order: inline markup (<i>, <sup>, MathML) is
// flattened into the text around it. Iterative, so deep nesting cannot exhaust the stack.
std::string text_of(pugi::xml_node node) {
  std::string out;
  if (!node) return out;
  pugi::xml_node n = node.first_child();
  while (n) {
    if (n.type() == pugi::node_pcdata || n.type() == pugi::node_cdata) out += n.value();
    if (n.first_child()) {
      n = n.first_child();
      continue;
    }
    while (n && n != node && !n.next_sibling()) n = n.parent();
    if (!n || n == node) break;
    n = n.next_sibling();
  }
  return out;
}

// "Surname Initials [Suffix]" as MEDLINE's AU prints it, or the collective name.
std::string author_name(pugi::xml_node author) {
  if (auto collective = author.child("CollectiveName")) return text_of(collective);
  std::string name(trim_ascii_space(text_of(author.child("LastName"))));
  std::string initials(trim_ascii_space(text_of(author.child("Initials"))));
  if (initials.empty()) {
    // Derive initials from the fore names ("Jean-Marc" -> "J"), as NLM does when it sets them.
    const std::string fore = text_of(author.child("ForeName"));
    bool start = true;
    for (char c : fore) {
      if (c == ' ') {
        start = true;
      } else if (start) {
        if (c >= 'A' && c <= 'Z') initials += c;
        start = false;
      }
    }
  }
  if (!initials.empty() && !name.empty()) name += " " + initials;
  if (std::string suffix(trim_ascii_space(text_of(author.child("Suffix")))); !suffix.empty() && !name.empty()) name += " " + suffix;
  return name;
}

void read_authors(pugi::xml_node list, std::vector<std::string>& out) {
  for (pugi::xml_node author : list.children("Author")) {
    if (std::string_view(author.attribute("ValidYN").value()) == "N") continue;  // withdrawn by NLM
    if (std::string name = author_name(author); !trim_ascii_space(name).empty()) out.push_back(std::move(name));
  }
}

void read_abstract(pugi::xml_node abstract, std::vector<Section>& out) {
  for (pugi::xml_node part : abstract.children("AbstractText")) {
    const std::string label(trim_ascii_space(part.attribute("Label").value()));
    const std::string_view category = part.attribute("NlmCategory").value();
    std::string text = text_of(part);
    if (label.empty() && category.empty()) {
      // Unlabelled paragraphs make one plain abstract, as MEDLINE's single AB does.
      if (!out.empty() && out.back().heading.empty() && out.back().key.empty()) {
        out.back().text += " " + text;
        continue;
      }
      out.push_back(Section{"", "", std::move(text)});
      continue;
    }
    out.push_back(Section{label, abstract_section_key(label, category), std::move(text)});
  }
}

std::string read_pub_date(pugi::xml_node date) {
  if (!date) return {};
  if (auto medline_date = date.child("MedlineDate")) return pubmed_text_date(text_of(medline_date));
  // A Season ("Spring") has no month: the year alone.
  return pubmed_date(text_of(date.child("Year")), text_of(date.child("Month")), text_of(date.child("Day")));
}

std::string doi_in(pugi::xml_node article_id_list) {
  for (pugi::xml_node id : article_id_list.children("ArticleId")) {
    if (std::string_view(id.attribute("IdType").value()) == "doi") return std::string(trim_ascii_space(text_of(id)));
  }
  return {};
}

std::string elocation_doi(pugi::xml_node parent) {
  for (pugi::xml_node e : parent.children("ELocationID")) {
    if (std::string_view(e.attribute("EIdType").value()) == "doi" &&
        std::string_view(e.attribute("ValidYN").value()) != "N")
      return std::string(trim_ascii_space(text_of(e)));
  }
  return {};
}

void read_publication_types(pugi::xml_node parent, std::vector<std::string>& out) {
  for (pugi::xml_node t : parent.child("PublicationTypeList").children("PublicationType")) out.push_back(text_of(t));
  // BookDocument lists them directly.
  for (pugi::xml_node t : parent.children("PublicationType")) out.push_back(text_of(t));
}

void read_mesh(pugi::xml_node parent, std::vector<std::string>& out) {
  for (pugi::xml_node heading : parent.child("MeshHeadingList").children("MeshHeading")) {
    if (std::string d = mesh_descriptor(text_of(heading.child("DescriptorName"))); !d.empty())
      out.push_back(std::move(d));
  }
}

Result<PubmedArticle> read_pubmed_article(pugi::xml_node root) {
  PubmedArticle a;
  pugi::xml_node citation = root.child("MedlineCitation");
  if (!citation) return make_error(ErrorCode::parse, "<PubmedArticle> has no <MedlineCitation>", "MedlineCitation");
  a.pmid = text_of(citation.child("PMID"));
  pugi::xml_node article = citation.child("Article");
  if (!article) return make_error(ErrorCode::parse, "<MedlineCitation> has no <Article>", "Article");
  a.title = text_of(article.child("ArticleTitle"));
  a.vernacular_title = text_of(article.child("VernacularTitle"));
  read_abstract(article.child("Abstract"), a.abstract);
  read_authors(article.child("AuthorList"), a.authors);

  pugi::xml_node journal = article.child("Journal");
  // MedlineTA first: it is what MEDLINE text prints as TA (and PubMed cites), so both formats
  // agree; ISOAbbreviation and the full title are fallbacks for citations without it.
  for (std::string candidate : {text_of(citation.child("MedlineJournalInfo").child("MedlineTA")),
                                text_of(journal.child("ISOAbbreviation")), text_of(journal.child("Title"))}) {
    if (!trim_ascii_space(candidate).empty()) {
      a.journal = std::move(candidate);
      break;
    }
  }
  pugi::xml_node issue = journal.child("JournalIssue");
  a.volume = text_of(issue.child("Volume"));
  a.published = read_pub_date(issue.child("PubDate"));

  pugi::xml_node pagination = article.child("Pagination");
  a.pages = text_of(pagination.child("MedlinePgn"));
  if (trim_ascii_space(a.pages).empty()) {
    a.pages = text_of(pagination.child("StartPage"));
    if (std::string last(trim_ascii_space(text_of(pagination.child("EndPage")))); !last.empty() && !trim_ascii_space(a.pages).empty())
      a.pages += "-" + last;
  }

  // ELocationID is the article's own locator (MEDLINE LID); the ArticleIdList (AID) backs it up.
  a.doi = elocation_doi(article);
  if (a.doi.empty()) a.doi = doi_in(root.child("PubmedData").child("ArticleIdList"));

  read_mesh(citation, a.mesh_terms);
  read_publication_types(article, a.publication_types);
  return a;
}

// NCBI Bookshelf chapters and reports: no journal; the book's title, publisher and date.
Result<PubmedArticle> read_book_article(pugi::xml_node root) {
  PubmedArticle a;
  pugi::xml_node doc = root.child("BookDocument");
  if (!doc) return make_error(ErrorCode::parse, "<PubmedBookArticle> has no <BookDocument>", "BookDocument");
  pugi::xml_node book = doc.child("Book");
  a.pmid = text_of(doc.child("PMID"));
  a.title = text_of(doc.child("ArticleTitle"));
  a.vernacular_title = text_of(doc.child("VernacularTitle"));
  a.book_title = text_of(book.child("BookTitle"));
  read_abstract(doc.child("Abstract"), a.abstract);
  for (pugi::xml_node list : doc.children("AuthorList")) {
    if (std::string_view(list.attribute("Type").value()) != "editors") read_authors(list, a.authors);
  }
  if (a.authors.empty()) {
    for (pugi::xml_node list : book.children("AuthorList")) {
      if (std::string_view(list.attribute("Type").value()) != "editors") read_authors(list, a.authors);
    }
  }
  a.publisher = text_of(book.child("Publisher").child("PublisherName"));
  a.volume = text_of(book.child("Volume"));
  a.published = read_pub_date(book.child("PubDate"));
  a.doi = elocation_doi(doc);
  if (a.doi.empty()) a.doi = doi_in(doc.child("ArticleIdList"));
  if (a.doi.empty()) a.doi = doi_in(root.child("PubmedBookData").child("ArticleIdList"));
  read_mesh(doc, a.mesh_terms);
  read_publication_types(doc, a.publication_types);
  return a;
}

void PubmedXmlReader::parse(const RawItem& raw, std::vector<ReadItem>& out) const {
  ReadItem item;
  item.location = raw.location;
  auto reject = [&](Error error) {
    item.error = std::move(error);
    item.raw = truncate_raw(raw.text);
    out.push_back(std::move(item));
  };
  if (!raw.error.empty()) {
    // No text means the input itself failed (corrupt gzip, a read error); else framing did.
    return reject(make_error(raw.text.empty() ? ErrorCode::corrupt : ErrorCode::parse, raw.error));
  }
  const std::uint64_t first_line = location_line(raw.location);
  auto line_of = [&](std::size_t offset) {
    const std::string_view before = std::string_view(raw.text).substr(0, offset);
    return std::to_string(first_line + static_cast<std::uint64_t>(std::count(before.begin(), before.end(), '\n')));
  };
  // pugixml passes bytes through unchecked, and Xapian would read bad UTF-8 as Latin-1.
  if (std::size_t bad = find_invalid_utf8(raw.text); bad != std::string::npos)
    return reject(make_error(ErrorCode::parse, "invalid UTF-8 at line " + line_of(bad)));

  pugi::xml_document doc;
  // parse_ws_pcdata keeps the space in "<i>a</i> <i>b</i>", which text_of() needs.
  const pugi::xml_parse_result parsed = doc.load_buffer(
      raw.text.data(), raw.text.size(), pugi::parse_default | pugi::parse_ws_pcdata, pugi::encoding_utf8);
  if (!parsed) {
    const auto offset = static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, parsed.offset));
    return reject(
        make_error(ErrorCode::parse, "invalid XML at line " + line_of(offset) + ": " + parsed.description()));
  }
  pugi::xml_node root = doc.document_element();
  const std::string_view name = root.name();

  if (name == "DeleteCitation") {
    for (pugi::xml_node pmid : root.children("PMID")) {
      const std::string id(trim_ascii_space(text_of(pmid)));
      if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
        return reject(make_error(ErrorCode::invalid_argument,
                                 "field 'PMID': <DeleteCitation> lists '" + id.substr(0, 40) + "', not a number",
                                 "PMID"));
      item.deleted_ids.push_back("pmid-" + id);
    }
    if (!item.deleted_ids.empty()) out.push_back(std::move(item));  // an empty list deletes nothing
    return;
  }

  Result<PubmedArticle> article =
      name == "PubmedArticle"       ? read_pubmed_article(root)
      : name == "PubmedBookArticle" ? read_book_article(root)
                                    : Result<PubmedArticle>(make_error(
                                          ErrorCode::parse, "unexpected element <" + std::string(name) + ">"));
  if (!article.ok()) return reject(article.error());
  auto record = make_pubmed_record(std::move(article.value()));
  if (!record.ok()) return reject(record.error());
  item.record = std::move(record.value());
  out.push_back(std::move(item));
}

}  // namespace

std::unique_ptr<RecordReader> make_pubmed_xml_reader(std::unique_ptr<InputFile> in) {
  return std::make_unique<PubmedXmlReader>(std::move(in));
}

bool looks_like_pubmed_xml(std::string_view head) {
  if (head.substr(0, 3) == "\xEF\xBB\xBF") head.remove_prefix(3);
  // Walk the prolog (declaration, comments, processing instructions) to the DOCTYPE or root.
  while (true) {
    const std::size_t lt = head.find_first_not_of(" \t\r\n");
    if (lt == std::string_view::npos || head[lt] != '<') return false;
    head.remove_prefix(lt);
    std::string_view close;
    if (head.substr(0, 4) == "<!--") close = "-->";
    else if (head.substr(0, 2) == "<?") close = "?>";
    if (!close.empty()) {
      const std::size_t end = head.find(close);
      if (end == std::string_view::npos) return false;
      head.remove_prefix(end + close.size());
      continue;
    }
    std::size_t name_start = 1;
    if (head.substr(0, 9) == "<!DOCTYPE") {
      name_start = head.find_first_not_of(" \t\r\n", 9);
      if (name_start == std::string_view::npos) return false;
    }
    std::size_t name_end = name_start;
    while (name_end < head.size() && !is_name_end(head[name_end]) && head[name_end] != '[') ++name_end;
    const std::string_view name = head.substr(name_start, name_end - name_start);
    return name == "PubmedArticleSet" || name == "PubmedArticle" || name == "PubmedBookArticleSet" ||
           name == "PubmedBookArticle";
  }
}

}  // namespace medsearch::corpus::formats
