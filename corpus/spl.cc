// DailyMed SPL XML (HL7 v3 Structured Product Labeling), one drug label per file, turned into an
// fda_label record: identity and dates from the document header, names from the product data,
// and one section per SPL <section> named through the shared LOINC table (label_sections.h).
//
// next_raw() reads the whole file as one item; parse() does the XML work with pugixml, so
// several files parse at once on different threads.
#include <pugixml.hpp>

#include <algorithm>
#include <cctype>

#include "corpus/analysis.h"
#include "corpus/formats.h"
#include "corpus/label_sections.h"

namespace medsearch::corpus::formats {

namespace {

// A label is a few hundred KB; anything past this is not one, and parsing it would take
// several times its size in memory.
constexpr std::size_t kMaxFileBytes = std::size_t{256} << 20;
constexpr std::string_view kHl7Namespace = "urn:hl7-org:v3";
// Text, sections and products are read by recursion over the element tree; real labels nest
// under 30 deep, and a file nested far deeper would overflow the parsing thread's stack.
constexpr std::size_t kMaxDepth = 1000;

// ---- element access by local name ----------------------------------------------------------
// SPL files use the default namespace, but a prefixed one (<v3:section>) is just as valid XML;
// comparing local names keeps both working.

std::string_view local_name(const char* name) {
  std::string_view n(name);
  auto colon = n.find(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

bool is_named(const pugi::xml_node& node, std::string_view name) {
  return node.type() == pugi::node_element && local_name(node.name()) == name;
}

pugi::xml_node child(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling())
    if (is_named(c, name)) return c;
  return {};
}

// Follows a path of child names: path(doc, {"author", "assignedEntity"}).
pugi::xml_node path(pugi::xml_node node, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (!node) break;
    node = child(node, n);
  }
  return node;
}

template <typename F>
void for_each_child(const pugi::xml_node& node, std::string_view name, F&& f) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling())
    if (is_named(c, name)) f(c);
}

// ---- narrative text -------------------------------------------------------------------------
// SPL narrative (<text>) is HTML-like: paragraphs, lists, tables, inline <content>, <sup>, <br/>.
// Blocks become lines; tables become one line per row with cells separated by " | ".

bool is_block(std::string_view name) {
  static constexpr std::string_view kBlocks[] = {"paragraph", "list", "item", "caption", "footnote", "tr",
                                                 "thead", "tbody", "tfoot"};
  return std::find(std::begin(kBlocks), std::end(kBlocks), name) != std::end(kBlocks);
}

bool is_skipped(std::string_view name) {
  // Images and their references, column layout, and footnote markers carry no text of use.
  static constexpr std::string_view kSkipped[] = {"renderMultiMedia", "observationMedia", "col", "colgroup",
                                                  "footnoteRef"};
  return std::find(std::begin(kSkipped), std::end(kSkipped), name) != std::end(kSkipped);
}

void render(const pugi::xml_node& node, std::string& out);

void render_row(const pugi::xml_node& tr, std::string& out) {
  std::string line;
  for (pugi::xml_node cell = tr.first_child(); cell; cell = cell.next_sibling()) {
    if (!is_named(cell, "td") && !is_named(cell, "th")) continue;
    std::string text;
    render(cell, text);
    text = label::collapse_space(text);
    if (text.empty()) continue;  // empty cells would only add " |  | " noise
    if (!line.empty()) line += " | ";
    line += text;
  }
  out += '\n';
  out += line;
  out += '\n';
}

void render_table(const pugi::xml_node& table, std::string& out) {
  out += '\n';
  if (pugi::xml_node caption = child(table, "caption")) {
    render(caption, out);
    out += '\n';
  }
  // Header, body, then footer (which holds the table's footnotes), whatever the source order.
  for (std::string_view part : {"thead", "tbody", "tfoot"}) {
    for_each_child(table, part, [&](const pugi::xml_node& group) {
      for_each_child(group, "tr", [&](const pugi::xml_node& tr) { render_row(tr, out); });
    });
  }
  for_each_child(table, "tr", [&](const pugi::xml_node& tr) { render_row(tr, out); });
  out += '\n';
}

void render(const pugi::xml_node& node, std::string& out) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) {
      // Line ends in the source are layout, not structure: only blocks start lines.
      for (const char* p = c.value(); *p != '\0'; ++p) out += (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
      continue;
    }
    if (c.type() != pugi::node_element) continue;
    const std::string_view name = local_name(c.name());
    if (is_skipped(name)) continue;
    if (name == "br") {
      out += '\n';
    } else if (name == "table") {
      render_table(c, out);
    } else if (is_block(name)) {
      out += '\n';
      render(c, out);
      out += '\n';
    } else {
      render(c, out);  // inline: content, sup, sub, linkHtml, ...
    }
  }
}

// The text of a narrative element: one line per block, white space collapsed within lines.
std::string narrative_text(const pugi::xml_node& node) {
  if (!node) return {};
  std::string raw;
  render(node, raw);
  std::string out;
  std::size_t start = 0;
  while (start <= raw.size()) {
    std::size_t end = raw.find('\n', start);
    if (end == std::string::npos) end = raw.size();
    std::string line = label::collapse_space(std::string_view(raw).substr(start, end - start));
    if (!line.empty()) {
      if (!out.empty()) out += '\n';
      out += line;
    }
    start = end + 1;
  }
  return out;
}

// The text of an element on one line (titles, names).
std::string flat_text(const pugi::xml_node& node) { return label::collapse_space(narrative_text(node)); }

// ---- sections -------------------------------------------------------------------------------

struct SectionContext {
  std::string top_heading;  // heading of the top-level section this one is in
  std::string heading;
  std::string key;
};

void walk_section(const pugi::xml_node& section, const SectionContext* parent, std::vector<Section>& out) {
  const std::string code = path(section, {"code"}).attribute("code").value();
  const std::string title = flat_text(child(section, "title"));
  const label::LabelSection* entry = label::find_section_by_loinc(code);
  // Package labels, product data, references, recent major changes: not label text.
  if (entry != nullptr && !entry->indexed) return;
  // A code names the content unless it is "unclassified"; a boxed-warning code below the top
  // level is used for emphasis (no-title.xml boxes dosing tables inside Dosage and
  // Administration), not for the label's boxed warning, which is always a top-level section.
  const bool specific = entry != nullptr && entry->loinc != label::kUnclassifiedLoinc &&
                        !(parent != nullptr && entry->loinc == label::kBoxedWarningLoinc);

  SectionContext ctx;
  if (parent == nullptr) {
    if (specific) {
      ctx.key = entry->key;
      ctx.heading = entry->heading;
    } else if (entry != nullptr) {  // unclassified: its own title says what it is
      ctx.key = entry->key;
      ctx.heading = title.empty() ? std::string(entry->heading) : title;
    } else {  // a code we do not know, or none
      ctx.key = title.empty() ? "section" : section_key(title);
      if (ctx.key.empty()) ctx.key = "section";
      ctx.heading = title.empty() ? "Section" : title;
    }
    ctx.top_heading = ctx.heading;
  } else {
    // Subsections keep their parent's key (so section:warnings_and_cautions finds 5.1, 5.2, ...)
    // unless their own code is specific (8.1 Pregnancy under Use in Specific Populations), and
    // are headed "Top: Child" so a hit says where it is without a long chain.
    const std::string name = !title.empty() ? title : specific ? std::string(entry->heading) : std::string();
    ctx.key = specific ? std::string(entry->key) : parent->key;
    ctx.top_heading = parent->top_heading;
    ctx.heading = name.empty() ? parent->heading : parent->top_heading + ": " + name;
  }

  std::vector<pugi::xml_node> subsections;
  for_each_child(section, "component", [&](const pugi::xml_node& component) {
    for_each_child(component, "section", [&](const pugi::xml_node& sub) { subsections.push_back(sub); });
  });
  std::string text = narrative_text(child(section, "text"));
  // A top-level heading comes from the table, so keep the section's own title as the first line
  // when it says more than that heading: "WARNING: SERIOUS INFECTIONS AND MALIGNANCY" above a
  // boxed warning, "Directions" above Drug Facts dosing. ("1 INDICATIONS AND USAGE" says nothing
  // more.)
  if (parent == nullptr && specific && !title.empty() && !text.empty()) {
    const std::string bare = section_key(title.substr(std::min(title.size(), title.find_first_not_of("0123456789. "))));
    if (bare != section_key(entry->heading) && bare != entry->key) text = title + "\n" + text;
  }
  // A subsection that is only a title is a statement in itself: Lipitor's contraindications are
  // "4.1 Active liver disease, which may include ..." with no text below.
  if (text.empty() && subsections.empty() && parent != nullptr) text = title;
  if (!text.empty()) out.push_back(Section{ctx.heading, ctx.key, std::move(text)});
  for (const auto& sub : subsections) walk_section(sub, &ctx, out);
}

// ---- title and products ---------------------------------------------------------------------

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && label::lower_ascii(text.substr(0, prefix.size())) == prefix;
}

// The document title, without the boilerplate of a PLR Highlights title: "These highlights do
// not include all the information needed to use HUMIRA safely and effectively. See full
// prescribing information for HUMIRA. HUMIRA (adalimumab) injection, for subcutaneous use
// Initial U.S. Approval: 2002" -> "HUMIRA (adalimumab) injection, for subcutaneous use".
// Empty when the title says nothing about the product ("Drug Facts", or no title at all).
std::string document_title(const pugi::xml_node& title_node) {
  std::string title = flat_text(title_node);
  if (starts_with_nocase(title, "these highlights do not include")) {
    const std::string lower = label::lower_ascii(title);
    std::size_t see = lower.find("full prescribing information for");
    std::size_t dot = see == std::string::npos ? std::string::npos : lower.find('.', see);
    title = dot == std::string::npos ? std::string() : title.substr(dot + 1);
    std::size_t approval = label::lower_ascii(title).find("initial u.s. approval");
    if (approval != std::string::npos) title.resize(approval);
    title = label::collapse_space(title);
  }
  static constexpr std::string_view kUninformative[] = {"drug facts", "label", "package insert",
                                                        "prescribing information", "highlights of prescribing information"};
  const std::string lower = label::lower_ascii(title);
  if (std::find(std::begin(kUninformative), std::end(kUninformative), lower) != std::end(kUninformative)) return {};
  return title;
}

struct Products {
  std::string first_brand_full;  // with the name's <suffix>, for the title
  std::string first_generic;
  std::vector<std::string> drugs;
};

bool is_active_ingredient(const pugi::xml_node& ingredient) {
  const std::string_view cls = ingredient.attribute("classCode").value();
  return cls == "ACTIB" || cls == "ACTIM" || cls == "ACTIR";
}

// Every manufacturedProduct/manufacturedProduct (the product entity inside its role), wherever it
// is: brand names, generic names, active ingredients and their active moieties.
void collect_products(const pugi::xml_node& node, Products& p, std::vector<std::string>& generics) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    if (is_named(c, "manufacturedProduct") && is_named(node, "manufacturedProduct")) {
      const pugi::xml_node name = child(c, "name");
      // The name without its suffix for `drugs` ("TRIAMINIC"), with it for the title
      // ("TRIAMINIC Childrens Night Time Cold and Cough").
      std::string brand;
      std::string suffix;
      for (pugi::xml_node part = name.first_child(); part; part = part.next_sibling()) {
        if (part.type() == pugi::node_pcdata || part.type() == pugi::node_cdata) brand += part.value();
        else if (is_named(part, "suffix")) suffix += " " + flat_text(part);
      }
      brand = label::collapse_space(brand);
      const std::string full = label::collapse_space(brand + suffix);
      const std::string generic = flat_text(path(c, {"asEntityWithGeneric", "genericMedicine", "name"}));
      if (p.first_brand_full.empty() && p.first_generic.empty()) {
        p.first_brand_full = full;
        p.first_generic = generic;
      }
      label::add_drug(p.drugs, brand.empty() ? full : brand);
      if (!generic.empty()) generics.push_back(label::generic_for_drugs(generic));
      for_each_child(c, "ingredient", [&](const pugi::xml_node& ingredient) {
        if (!is_active_ingredient(ingredient)) return;
        const pugi::xml_node substance = child(ingredient, "ingredientSubstance");
        generics.push_back(label::generic_for_drugs(flat_text(child(substance, "name"))));
        generics.push_back(label::generic_for_drugs(flat_text(path(substance, {"activeMoiety", "activeMoiety", "name"}))));
      });
    }
    collect_products(c, p, generics);
  }
}

// ---- document -> record ---------------------------------------------------------------------

Error field_error(ErrorCode code, const std::string& field, const std::string& what) {
  return make_error(code, field + ": " + what, field);
}

Result<Record> document_to_record(const pugi::xml_node& doc) {
  Record r;
  r.source = Source::fda_label;

  const std::string set_id = label::collapse_space(path(doc, {"setId"}).attribute("root").value());
  if (set_id.empty())
    return field_error(ErrorCode::invalid_argument, "setId", "is required (<setId root=\"...\"/> names the label)");
  r.id = "fda-" + set_id;  // the same id as the openFDA reader gives this label, so versions compete
  if (!valid_record_id(r.id))
    return field_error(ErrorCode::invalid_argument, "setId", "'" + set_id + "' cannot make a record id");

  if (pugi::xml_node v = path(doc, {"versionNumber"})) {
    const std::string value = v.attribute("value").value();
    if (value.empty() || value.size() > 18 ||
        !std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); }))
      return field_error(ErrorCode::parse, "versionNumber", "must be a whole number, not '" + value.substr(0, 40) + "'");
    r.version = std::stoll(value);
  }

  const std::string effective = path(doc, {"effectiveTime"}).attribute("value").value();
  if (!effective.empty()) {
    r.updated = label::date_from_compact(effective);
    if (r.updated.empty())
      return field_error(ErrorCode::parse, "effectiveTime", "must be a date YYYYMMDD, not '" + effective.substr(0, 40) + "'");
    r.citation.year = std::stoi(r.updated.substr(0, 4));
  }

  if (pugi::xml_node body = path(doc, {"component", "structuredBody"})) {
    for_each_child(body, "component", [&](const pugi::xml_node& component) {
      for_each_child(component, "section", [&](const pugi::xml_node& s) { walk_section(s, nullptr, r.sections); });
    });
  }
  if (r.sections.empty())
    return field_error(ErrorCode::invalid_argument, "structuredBody", "the label has no text sections");

  Products products;
  std::vector<std::string> generics;
  collect_products(doc, products, generics);
  for (const auto& g : generics) label::add_drug(products.drugs, g);
  r.drugs = std::move(products.drugs);

  r.title = document_title(child(doc, "title"));
  if (r.title.empty()) r.title = label::label_title(products.first_brand_full, products.first_generic);
  if (r.title.empty()) r.title = "FDA drug label " + set_id;

  r.citation.organisation = std::string(label::kFdaOrganisation);
  r.citation.title = r.title;
  r.citation.publisher = flat_text(path(doc, {"author", "assignedEntity", "representedOrganization", "name"}));
  r.citation.set_id = set_id;
  r.citation.url = label::dailymed_url(set_id);

  Status valid = validate(r);
  if (!valid.ok()) return valid.error();
  return r;
}

// The first element nested more than kMaxDepth deep, or an empty node. Iterative.
pugi::xml_node too_deep(const pugi::xml_node& root) {
  std::size_t depth = 0;
  pugi::xml_node n = root.first_child();
  if (n) ++depth;
  while (n) {
    if (n.type() == pugi::node_element && depth > kMaxDepth) return n;
    if (n.first_child()) {
      n = n.first_child();
      ++depth;
      continue;
    }
    while (n && n != root && !n.next_sibling()) {
      n = n.parent();
      --depth;
    }
    if (!n || n == root) break;
    n = n.next_sibling();
  }
  return {};
}

std::size_t line_of_offset(std::string_view text, std::ptrdiff_t offset) {
  const std::size_t end = std::min(text.size(), static_cast<std::size_t>(std::max<std::ptrdiff_t>(offset, 0)));
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
}

class SplReader : public RecordReader {
 public:
  explicit SplReader(std::unique_ptr<InputFile> in) : in_(std::move(in)) {}

  bool next_raw(RawItem& item) override {
    if (done_) return false;
    done_ = true;
    item.location = in_->path();
    item.error.clear();
    auto text = in_->read_all(kMaxFileBytes);
    if (!text.ok()) {
      // read_all's messages start with the path, which the location already gives.
      std::string message = text.error().message;
      const std::string prefix = in_->path() + ": ";
      if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
      item.error = message;
      item.text.clear();
      return true;
    }
    item.text = std::move(text.value());
    // An empty file reads as nothing, as in every other format.
    return item.text.find_first_not_of(" \t\r\n") != std::string::npos;
  }

  void parse(const RawItem& raw, std::vector<ReadItem>& out) const override {
    ReadItem item;
    item.location = raw.location;
    try {
      if (!raw.error.empty()) {
        item.error = make_error(ErrorCode::corrupt, raw.error);
      } else {
        auto record = parse_document(raw, item.location);
        if (record.ok()) item.record = std::move(record.value());
        else item.error = record.error();
      }
    } catch (const std::exception& e) {  // std::bad_alloc on a huge file, or a bug
      item.record.reset();
      item.error = make_error(ErrorCode::internal, std::string("cannot read the label: ") + e.what());
    }
    if (!item.record) item.raw = truncate_raw(raw.text);
    out.push_back(std::move(item));
  }

  const InputFile& input() const override { return *in_; }

 private:
  static Result<Record> parse_document(const RawItem& raw, std::string& location) {
    pugi::xml_document doc;
    // parse_ws_pcdata keeps the spaces between inline elements ("<content>a</content> <content>b"),
    // which would otherwise run words together.
    const pugi::xml_parse_result parsed =
        doc.load_buffer(raw.text.data(), raw.text.size(), pugi::parse_default | pugi::parse_ws_pcdata);
    if (!parsed) {
      location = raw.location + ":" + std::to_string(line_of_offset(raw.text, parsed.offset));
      return make_error(ErrorCode::parse, std::string("invalid XML: ") + parsed.description());
    }
    if (const pugi::xml_node deep = too_deep(doc)) {
      location = raw.location + ":" + std::to_string(line_of_offset(raw.text, deep.offset_debug()));
      return make_error(ErrorCode::parse, "elements nested more than " + std::to_string(kMaxDepth) + " deep");
    }
    const pugi::xml_node root = doc.document_element();
    if (!is_named(root, "document"))
      return make_error(ErrorCode::parse, std::string("not an SPL document: the root element is <") + root.name() + ">");
    return document_to_record(root);
  }

  std::unique_ptr<InputFile> in_;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<RecordReader> make_spl_reader(std::unique_ptr<InputFile> in) {
  return std::make_unique<SplReader>(std::move(in));
}

bool looks_like_spl(std::string_view head) {
  std::size_t i = head.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
  // Skip the prolog: white space, <?xml ...?> and other processing instructions, comments, DOCTYPE.
  while (i < head.size()) {
    while (i < head.size() && std::isspace(static_cast<unsigned char>(head[i]))) ++i;
    if (head.substr(i, 2) == "<?") {
      i = head.find("?>", i);
      if (i == std::string_view::npos) return false;
      i += 2;
    } else if (head.substr(i, 4) == "<!--") {
      i = head.find("-->", i);
      if (i == std::string_view::npos) return false;
      i += 3;
    } else if (head.substr(i, 2) == "<!") {
      i = head.find('>', i);
      if (i == std::string_view::npos) return false;
      i += 1;
    } else {
      break;
    }
  }
  if (i >= head.size() || head[i] != '<') return false;
  const std::size_t end = head.find('>', i);
  if (end == std::string_view::npos) return false;
  const std::string_view tag = head.substr(i + 1, end - i - 1);
  const std::size_t name_end = std::min(tag.size(), tag.find_first_of(" \t\r\n/"));
  const std::string_view name = tag.substr(0, name_end);
  const std::size_t colon = name.find(':');
  if ((colon == std::string_view::npos ? name : name.substr(colon + 1)) != "document") return false;
  // The HL7 v3 namespace, as the default namespace or the root's prefix.
  return tag.find(std::string("\"") + std::string(kHl7Namespace) + "\"") != std::string_view::npos ||
         tag.find(std::string("'") + std::string(kHl7Namespace) + "'") != std::string_view::npos;
}

}  // namespace medsearch::corpus::formats
