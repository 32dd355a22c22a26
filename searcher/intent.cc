// Section and evidence intent: word-start patterns over the question, and a value-slot boost.
#include "searcher/intent.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "corpus/analysis.h"
#include "corpus/schema.h"
#include "corpus/vocabulary.h"

namespace medsearch::searcher {

namespace schema = corpus::schema;

namespace {

struct Rule {
  std::vector<std::string_view> patterns;  // each matched at a word start, in " word word" form
  std::vector<IntentTarget> targets;
};

// The question as " word word word ": ASCII-lowercased, every non-alphanumeric byte a space.
std::string words_of(std::string_view question) {
  std::string out = " ";
  for (unsigned char c : question) {
    const char lower = static_cast<char>(std::tolower(c));
    if (std::isalnum(c)) {
      out += lower;
    } else if (out.back() != ' ') {
      out += ' ';
    }
  }
  if (out.back() != ' ') out += ' ';
  return out;
}

// Where `pattern` starts a word of `words` (which begins with a space), or npos. Built with
// append, not " " + pattern: GCC 12 warns falsely (-Wrestrict) on that.
std::size_t find_word_start(const std::string& words, std::string_view pattern) {
  std::string needle(1, ' ');
  needle.append(pattern);
  return words.find(needle);
}

bool has(const std::string& words, std::string_view pattern) { return find_word_start(words, pattern) != std::string::npos; }

void add(std::vector<IntentTarget>& out, const IntentTarget& target) {
  auto it = std::find_if(out.begin(), out.end(), [&](const IntentTarget& t) { return t.value == target.value; });
  if (it == out.end()) {
    out.push_back(target);
  } else {
    it->weight = std::max(it->weight, target.weight);
  }
}

const std::vector<Rule>& section_rules() {
  static const std::vector<Rule> kRules = {
      {{"dose", "doses", "dosing", "dosage", "how much", "how often", "titrat"},
       {{"dosage_and_administration", 1.0}, {"dosage_forms_and_strengths", 0.6}}},
      {{"side effect", "adverse", "toxicit", "tolerab", "safety", "safe "},
       {{"adverse_reactions", 1.0}, {"warnings_and_cautions", 0.6}}},
      {{"warning", "precaution"}, {{"warnings_and_cautions", 1.0}, {"boxed_warning", 0.6}}},
      {{"boxed warning", "black box"}, {{"boxed_warning", 1.0}}},
      {{"contraindicat"}, {{"contraindications", 1.0}}},
      {{"interact"}, {{"drug_interactions", 1.0}}},
      {{"pregnan", "breastfe", "breast fe", "lactat", "nursing mother"},
       {{"use_in_specific_populations", 1.0}, {"pregnancy", 1.0}}},
      {{"mechanism", "mode of action", "how does", "how do "},
       {{"mechanism_of_action", 1.0}, {"clinical_pharmacology", 0.6}}},
      {{"indication", "indicated", "approved for"}, {{"indications_and_usage", 1.0}}},
  };
  return kRules;
}

const std::vector<Rule>& evidence_rules() {
  static const std::vector<Rule> kRules = {
      {{"guideline", "recommendation"}, {{"practice_guideline", 1.0}}},
      {{"trial", "rct", "randomi"}, {{"randomized_controlled_trial", 1.0}, {"clinical_trial", 0.6}}},
      {{"meta analys", "metaanalys"}, {{"meta_analysis", 1.0}, {"systematic_review", 0.6}}},
      {{"review", "systematic review"}, {{"systematic_review", 1.0}, {"meta_analysis", 1.0}, {"review", 0.6}}},
      {{"observational", "cohort", "case control"}, {{"observational", 1.0}}},
      {{"case report"}, {{"case_report", 1.0}}},
  };
  return kRules;
}

bool mechanism_question(const std::string& words) {
  // "how does X work" / "how do they work": "how does" alone ("how does it compare") is not.
  return (has(words, "how does") || has(words, "how do ")) && (has(words, "work ") || has(words, "works "));
}

Xapian::Query value_boost(Xapian::valueno slot, const std::vector<IntentTarget>& targets, double scale) {
  auto* source = new Xapian::ValueMapPostingSource(slot);
  // The scale goes into the mapped weights rather than an OP_SCALE_WEIGHT around the source:
  // Xapian 1.4 passes a scaled source the match's minimum weight without unscaling it, and a
  // value posting source asked for more than its own maximum weight stops. With the scale
  // outside, the boost vanished from the rest of a pruned match once the minimum passed the
  // unscaled maximum, and passages that belonged on the page went missing from it
  // (tests/searcher_test.cc IntentBoost).
  for (const auto& t : targets) source->add_mapping(t.value, t.weight * scale);
  source->set_default_weight(0);
  // The query owns the source from here (release() hands it reference counting).
  return Xapian::Query(source->release());
}

}  // namespace

Intent detect_intent(std::string_view question) {
  const std::string words = words_of(question);
  Intent intent;
  for (const Rule& rule : section_rules()) {
    const bool is_mechanism = rule.targets.front().value == "mechanism_of_action";
    bool matched = false;
    for (auto pattern : rule.patterns) {
      if (is_mechanism && (pattern == "how does" || pattern == "how do ")) continue;
      if (!has(words, pattern)) continue;
      matched = true;
      // The whole words the pattern starts ("side effect" -> "side effects").
      std::size_t at = find_word_start(words, pattern) + 1;
      std::size_t end = words.find(' ', at + pattern.size() - (pattern.back() == ' ' ? 1 : 0));
      std::string phrase = words.substr(at, end - at);
      while (!phrase.empty() && phrase.back() == ' ') phrase.pop_back();
      if (std::find(intent.section_words.begin(), intent.section_words.end(), phrase) == intent.section_words.end())
        intent.section_words.push_back(phrase);
    }
    if (is_mechanism && mechanism_question(words)) matched = true;
    if (matched)
      for (const auto& t : rule.targets) add(intent.sections, t);
  }
  for (const Rule& rule : evidence_rules()) {
    bool matched = false;
    for (auto pattern : rule.patterns) matched |= has(words, pattern);
    if (matched)
      for (const auto& t : rule.targets) add(intent.evidence_levels, t);
  }
  return intent;
}

std::string without_section_words(const std::string& question, const Intent& intent, const Xapian::Database& db) {
  if (intent.section_words.empty() || db.get_value_freq(schema::kSlotSection) == 0) return question;
  for (char c : question)
    if (c == '"' || c == '(' || c == ')' || c == '+' || c == ':' || c == '-') return question;
  for (const char* op : {"AND", "OR", "NOT", "NEAR", "ADJ", "XOR"})
    if (words_of(question).size() && (" " + question + " ").find(std::string(" ") + op + " ") != std::string::npos)
      return question;
  // The question's words as Xapian splits them, with their offsets, so that what is blanked out
  // leaves the rest as written ("Ménière", "β blocker", "MS", which only in capitals is the
  // ambiguous abbreviation): words_of() is for matching the ASCII patterns and would turn
  // "Ménière" into "m ni re".
  const std::vector<corpus::Word> words = corpus::split_words(question);
  std::vector<bool> dropped(words.size(), false);
  for (const auto& phrase : intent.section_words) {
    std::vector<std::string> parts;
    for (std::size_t start = 0; start <= phrase.size();) {
      const std::size_t space = std::min(phrase.find(' ', start), phrase.size());
      if (space > start) parts.push_back(phrase.substr(start, space - start));
      start = space + 1;
    }
    if (parts.empty()) continue;
    for (std::size_t i = 0; i + parts.size() <= words.size(); ++i) {
      bool match = true;
      for (std::size_t k = 0; match && k < parts.size(); ++k) match = words[i + k].lower == parts[k];
      if (match)
        for (std::size_t k = 0; k < parts.size(); ++k) dropped[i + k] = true;
    }
  }
  bool content = false;
  std::string out = question;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (dropped[i]) {
      out.replace(words[i].begin, words[i].end - words[i].begin, words[i].end - words[i].begin, ' ');
    } else {
      content |= !corpus::stopper()(words[i].lower);
    }
  }
  return content ? out : question;
}

Xapian::Query boost_for_intent(const Xapian::Query& query, const Intent& intent, Xapian::Enquire& enquire,
                               const Xapian::Database& db, double best) {
  if (intent.empty() || query.empty()) return query;
  const bool sections = !intent.sections.empty() && db.get_value_freq(schema::kSlotSection) > 0;
  const bool evidence = !intent.evidence_levels.empty() && db.get_value_freq(schema::kSlotEvidence) > 0;
  if (!sections && !evidence) return query;
  if (best <= 0) {
    enquire.set_query(query);
    best = enquire.get_mset(0, 1).get_max_attained();
  }
  if (best <= 0) return query;
  std::vector<Xapian::Query> boosts;
  if (sections) boosts.push_back(value_boost(schema::kSlotSection, intent.sections, kSectionBoost * best));
  if (evidence) boosts.push_back(value_boost(schema::kSlotEvidence, intent.evidence_levels, kEvidenceBoost * best));
  return Xapian::Query(Xapian::Query::OP_AND_MAYBE, query,
                       Xapian::Query(Xapian::Query::OP_OR, boosts.begin(), boosts.end()));
}

nlohmann::json intent_to_json(const Intent& intent) {
  nlohmann::json sections = nlohmann::json::array();
  nlohmann::json evidence = nlohmann::json::array();
  for (const auto& t : intent.sections) sections.push_back(t.value);
  for (const auto& t : intent.evidence_levels) evidence.push_back(t.value);
  return {{"sections", std::move(sections)}, {"evidence_levels", std::move(evidence)}};
}

}  // namespace medsearch::searcher
