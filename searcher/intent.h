// Intent: which FDA-label sections and which kinds of evidence a question asks about
// ("the dose of riluzole" -> dosage_and_administration), and a ranking boost toward them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <xapian.h>

namespace medsearch::searcher {

struct IntentTarget {
  std::string value;    // a section key (slot 6) or an evidence level token (slot 7)
  double weight = 1.0;  // 1 for what was asked about, less for its close relatives
};

struct Intent {
  std::vector<IntentTarget> sections;
  std::vector<IntentTarget> evidence_levels;
  // The question's words that asked for the sections ("side effects", "dose"), lowercased.
  std::vector<std::string> section_words;
  bool empty() const { return sections.empty() && evidence_levels.empty(); }
};

// Detects intent from the words of a question (case-insensitive; words are matched at word
// starts, so "contraindicated" is not "indicated"). Sections, as the label readers key them:
//   dose, dosing, dosage, how much, how often, titrate -> dosage_and_administration
//                                                          (+ dosage_forms_and_strengths)
//   side effects, adverse, toxicity, tolerability, safety -> adverse_reactions (+ warnings_and_cautions)
//   warning, precaution                      -> warnings_and_cautions (+ boxed_warning)
//   boxed warning, black box                 -> boxed_warning
//   contraindicated, contraindication        -> contraindications
//   interact, interaction                    -> drug_interactions
//   pregnant, pregnancy, breastfeeding, lactation -> use_in_specific_populations, pregnancy
//   mechanism, mode of action, how does ... work -> mechanism_of_action (+ clinical_pharmacology)
//   indication, indicated, approved for      -> indications_and_usage
// Evidence (corpus::kEvidenceLevels tokens):
//   guideline, recommendation                -> practice_guideline
//   trial, RCT, randomised/randomized        -> randomized_controlled_trial (+ clinical_trial)
//   meta-analysis                            -> meta_analysis (+ systematic_review)
//   review, systematic review                -> systematic_review, meta_analysis (+ review)
//   observational, cohort, case-control      -> observational
//   case report                              -> case_report
// Each list is in a fixed order without repeats, so equal questions give equal intents.
Intent detect_intent(std::string_view question);

// The question without the words that asked for sections, when the boost can stand for them:
// "riluzole side effects" searches "riluzole" and lifts adverse reactions, since a label's
// adverse reactions section rarely says "side effects" while other passages that do would
// otherwise win on those words. Returns `question` unchanged when there are no section words,
// the index has no section values, the question uses query syntax (quotes, brackets, +/-,
// field:, AND/OR/NOT) or nothing but stop words would be left.
std::string without_section_words(const std::string& question, const Intent& intent, const Xapian::Database& db);

// Share of the query's best score that a passage of an asked-for section (weight 1) gains,
// and the same for an asked-for evidence level. The section boost is a whole best score: a
// label's adverse reactions section, which matches "riluzole ALS" only through its title,
// must rise above trial abstracts that say riluzole and ALS in every sentence. It is added,
// so passages of the section keep their BM25 order, and it reaches only passages that match
// the query (AND_MAYBE), never an off-topic one.
inline constexpr double kSectionBoost = 1.0;
inline constexpr double kEvidenceBoost = 0.3;

// Returns `query` with a boost for the intent's sections and evidence levels:
//   query AND_MAYBE (ValueMapPostingSource(slot 6, target -> kSectionBoost * best * weight)
//                    OR ValueMapPostingSource(slot 7, target -> kEvidenceBoost * best * weight))
// where `best` is the caller's `best` when it gives one (> 0), else the best score `query`
// attains under `enquire`'s weighting (one top-1 search with it; the caller sets its match spies
// afterwards). The searcher gives the best score of the question's own words when its feedback
// pass found it: that pass is the question's match, and a top-1 search of the widened query
// cost 6-22% of such a question's time at 100k passages (docs/PERFORMANCE.md). The boost
// only reorders what `query` matches; it never adds matches. Returns `query` unchanged when
// the intent is empty, nothing matches or no document has the values. May throw Xapian::Error.
Xapian::Query boost_for_intent(const Xapian::Query& query, const Intent& intent, Xapian::Enquire& enquire,
                               const Xapian::Database& db, double best = 0);

// {"sections":[...], "evidence_levels":[...]} (values only, in detection order).
nlohmann::json intent_to_json(const Intent& intent);

}  // namespace medsearch::searcher
