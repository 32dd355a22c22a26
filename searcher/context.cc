// /context: follow-up resolution against the conversation, budgeted diverse passage
// selection and the prompt block. Everything is deterministic for the same index and input.
#include "searcher/context.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "corpus/analysis.h"
#include "corpus/schema.h"
#include "corpus/xapian_error.h"
#include "searcher/searcher.h"

namespace medsearch::searcher {

namespace schema = corpus::schema;
using corpus::make_error;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxNameWords = 6;

// Lowercased words: runs of ASCII letters and digits and of non-ASCII word characters (kept
// as written, so non-ASCII names stay whole), with '-' and '\'' inside a word. The typographic
// apostrophe (U+2019, as assistants and word processors write "riluzole’s") is read as '\'';
// other punctuation and symbols of any script (quotes, dashes, no-break spaces, emoji) separate.
std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (std::size_t i = 0; i < text.size();) {
    const Xapian::Utf8Iterator it(text.data() + i, text.size() - i);
    Xapian::Utf8Iterator next = it;
    ++next;
    const std::size_t after = static_cast<std::size_t>(next.raw() - text.data());
    unsigned ch = *it;
    if (ch == 0x2019) ch = '\'';
    bool inner = false;
    if ((ch == '-' || ch == '\'') && !word.empty() && after < text.size()) {
      const unsigned following = *next;
      inner = following < 0x80 ? std::isalnum(static_cast<int>(following)) != 0 : Xapian::Unicode::is_wordchar(following);
    }
    if (inner || (ch < 0x80 ? std::isalnum(static_cast<int>(ch)) != 0 : Xapian::Unicode::is_wordchar(ch))) {
      if (ch < 0x80)
        word += static_cast<char>(std::tolower(static_cast<int>(ch)));
      else
        word.append(text.data() + i, after - i);
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
    i = after;
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

const std::set<std::string>& anaphora() {
  static const std::set<std::string> kWords = {"it", "its", "it's", "they", "them", "their", "theirs", "this",
                                               "that", "these", "those", "he", "she", "his", "her", "him"};
  return kWords;
}

// Words that say what kind of question it is rather than what it is about.
const std::set<std::string>& question_words() {
  static const std::set<std::string> kWords = {"what", "which", "who", "whom", "whose", "when", "where", "why",
                                               "how", "is", "are", "was", "were", "do", "does", "did", "can",
                                               "could", "should", "would", "will", "and", "also", "about", "tell",
                                               "me", "please", "any", "there", "the", "a", "an", "of", "for",
                                               "to", "in", "on", "with", "or", "options"};
  return kWords;
}

// Pronouns that point back at a drug ("how does it compare with edaravone?"); not "that",
// which as often introduces a clause ("evidence that riluzole ..."), nor persons'.
const std::set<std::string>& drug_anaphora() {
  static const std::set<std::string> kWords = {"it", "its", "it's", "they", "them", "their", "theirs", "this", "these", "those"};
  return kWords;
}

bool has_anaphora(const std::vector<std::string>& words) {
  return std::any_of(words.begin(), words.end(), [](const std::string& w) { return anaphora().count(w) > 0; });
}

// Content words: not anaphora, not question words, not stop words.
std::vector<std::string> content_words(const std::vector<std::string>& words) {
  std::vector<std::string> out;
  const Xapian::Stopper& stop = corpus::stopper();
  for (const auto& w : words)
    if (!anaphora().count(w) && !question_words().count(w) && !stop(w)) out.push_back(w);
  return out;
}

void add_unique(std::vector<std::string>& list, const std::string& value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

// The most frequent values among the hits' lists (ties: the earliest in rank order).
std::string most_frequent(const std::vector<Hit>& hits, bool drugs) {
  std::map<std::string, std::pair<int, std::size_t>> seen;  // value -> {count, first rank}
  for (std::size_t i = 0; i < hits.size(); ++i) {
    std::set<std::string> in_hit;
    for (const auto& v : drugs ? hits[i].stored.drugs : hits[i].stored.conditions) {
      std::string lower = v;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (!in_hit.insert(lower).second) continue;
      auto [it, inserted] = seen.try_emplace(lower, 0, i);
      ++it->second.first;
    }
  }
  std::string best;
  std::pair<int, std::size_t> best_key{0, 0};
  for (const auto& [value, key] : seen) {
    if (key.first > best_key.first || (key.first == best_key.first && key.second < best_key.second)) {
      best = value;
      best_key = key;
    }
  }
  return best;
}

using Shingles = std::set<std::string>;

Shingles shingles_of(const std::string& text) {
  const std::vector<std::string> words = words_of(text);
  Shingles out;
  if (words.size() < 3) {
    std::string all;
    for (const auto& w : words) all += w + " ";
    out.insert(all);
    return out;
  }
  for (std::size_t i = 0; i + 2 < words.size(); ++i) out.insert(words[i] + " " + words[i + 1] + " " + words[i + 2]);
  return out;
}

double jaccard(const Shingles& a, const Shingles& b) {
  if (a.empty() && b.empty()) return 1.0;
  std::size_t common = 0;
  for (const auto& s : a) common += b.count(s);
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

}  // namespace

int estimate_tokens(std::string_view text) { return static_cast<int>((text.size() + 3) / 4); }

Status validate(const ContextRequest& r) {
  auto bad = [](const std::string& param, const std::string& what) {
    return Status(make_error(ErrorCode::invalid_argument, param + ": " + what, param));
  };
  if (r.question.empty()) return bad("question", "is empty");
  if (r.question.size() > kMaxQueryBytes) return bad("question", "longer than " + std::to_string(kMaxQueryBytes) + " bytes");
  if (!corpus::is_valid_utf8(r.question)) return bad("question", "not valid UTF-8");
  if (r.history.size() > kMaxHistoryTurns) return bad("history", "at most " + std::to_string(kMaxHistoryTurns) + " turns");
  for (std::size_t i = 0; i < r.history.size(); ++i) {
    const auto& turn = r.history[i];
    const std::string where = "turn " + std::to_string(i) + ": ";
    if (turn.question.empty() || turn.question.size() > kMaxQueryBytes || !corpus::is_valid_utf8(turn.question))
      return bad("history", where + "question must be 1-" + std::to_string(kMaxQueryBytes) + " bytes of valid UTF-8");
    if (turn.answer.size() > kMaxAnswerBytes || !corpus::is_valid_utf8(turn.answer))
      return bad("history", where + "answer must be at most " + std::to_string(kMaxAnswerBytes) + " bytes of valid UTF-8");
  }
  if (r.budget_tokens < kMinBudgetTokens || r.budget_tokens > kMaxBudgetTokens)
    return bad("budget_tokens", "must be between " + std::to_string(kMinBudgetTokens) + " and " + std::to_string(kMaxBudgetTokens));
  if (r.per_record < 1 || r.per_record > 10) return bad("per_record", "must be between 1 and 10");
  return Status::success();
}

namespace {

// True when some term of the index starts with `prefix`: one B-tree seek.
bool any_term_starts(const Xapian::Database& db, const std::string& prefix) {
  auto it = db.allterms_begin(prefix);
  return it != db.allterms_end(prefix);
}

}  // namespace

Topic find_names(const std::string& text, const Xapian::Database& db, bool first_drug) {
  Topic topic;
  const std::vector<std::string> words = words_of(text);
  const Xapian::Stopper& stop = corpus::stopper();
  for (std::size_t i = 0; i < words.size();) {
    if (first_drug && !topic.drugs.empty()) break;
    // Every name tried from here starts with this word (less a possessive 's): when no drug or
    // condition term does, none can match, and the up to 2 x 6 lookups below are skipped. A
    // long answer in the history is mostly such words (20 turns of 20,000 bytes: 2.1 s before).
    std::string head = words[i];
    if (head.size() > 2 && head.compare(head.size() - 2, 2, "'s") == 0) head.resize(head.size() - 2);
    if (!any_term_starts(db, schema::term(schema::kPrefixDrug, head)) &&
        !any_term_starts(db, schema::term(schema::kPrefixCondition, head))) {
      ++i;
      continue;
    }
    std::size_t matched = 0;
    for (std::size_t n = std::min(kMaxNameWords, words.size() - i); n >= 1 && !matched; --n) {
      if (n == 1 && (stop(words[i]) || words[i].size() < 3)) break;
      std::string name = words[i];
      for (std::size_t k = 1; k < n; ++k) name += " " + words[i + k];
      // A possessive names what it owns the same ("riluzole's dose"; "alzheimer's disease"
      // is tried whole first).
      for (const std::string& candidate :
           {name, name.size() > 2 && name.compare(name.size() - 2, 2, "'s") == 0 ? name.substr(0, name.size() - 2) : ""}) {
        if (candidate.empty() || matched) continue;
        if (db.term_exists(schema::term(schema::kPrefixDrug, candidate))) {
          add_unique(topic.drugs, candidate);
          matched = n;
        } else if (db.term_exists(schema::term(schema::kPrefixCondition, candidate))) {
          add_unique(topic.conditions, candidate);
          matched = n;
        }
      }
    }
    i += matched ? matched : 1;
  }
  return topic;
}

Result<ContextResponse> Searcher::context(const ContextRequest& request) {
  Status valid = validate(request);
  if (!valid.ok()) return valid.error();
  const auto start = std::chrono::steady_clock::now();
  ContextResponse response;
  response.question = request.question;
  response.budget_tokens = request.budget_tokens;

  // 1. The question, resolved against the conversation. The topic so far is the drugs and
  //    conditions named in earlier turns (the latest naming wins); a turn that names none,
  //    before any topic exists, lends the condition and drug its own top results share.
  Topic own, topic, derived;
  bool refers_back = false;  // a pronoun for a drug comes before any drug the question names
  std::vector<std::string> earlier_words;  // content words of the latest earlier question
  // Guarded as a search is (a retry starts over: it resets what an earlier try had found).
  auto names_read = guarded<bool>("context", [&]() -> Result<bool> {
    own = Topic();
    topic = Topic();
    derived = Topic();
    earlier_words.clear();
    own = find_names(request.question, db_);
    refers_back = false;
    std::string before;  // the question's words before its first pronoun for a drug
    for (const auto& w : words_of(request.question)) {
      if (drug_anaphora().count(w)) {
        refers_back = find_names(before, db_).drugs.empty();
        break;
      }
      before += w + " ";
    }
    bool derived_once = false;
    for (const auto& turn : request.history) {
      Topic named = find_names(turn.question, db_);
      if (!turn.answer.empty() && named.drugs.empty()) {
        // The answer's first drug is what "it" most likely points at next.
        Topic answered = find_names(turn.answer, db_, /*first_drug=*/true);
        if (!answered.drugs.empty()) named.drugs = {answered.drugs.front()};
      }
      if (!named.empty()) {
        if (!named.conditions.empty()) topic.conditions = named.conditions;
        if (!named.drugs.empty()) topic.drugs = named.drugs;
        derived = Topic();
      } else if (topic.empty() && !derived_once) {
        derived_once = true;
        SearchRequest probe;
        probe.query = turn.question;
        probe.limit = 10;
        auto hits = search(probe);
        if (hits.ok()) {
          const std::string condition = most_frequent(hits->hits, false);
          const std::string drug = most_frequent(hits->hits, true);
          if (!condition.empty()) derived.conditions = {condition};
          if (!drug.empty()) derived.drugs = {drug};
        }
      }
      const auto words = content_words(words_of(turn.question));
      if (!words.empty()) earlier_words = words;
    }
    return true;
  });
  if (!names_read.ok()) return names_read.error();

  const std::vector<std::string> words = words_of(request.question);
  const bool pronoun = has_anaphora(words);
  // A question naming a drug focuses on it, unless a pronoun before the name points back at
  // the topic ("how does it compare with edaravone?"): then the topic is carried as well.
  const bool needs_topic =
      !request.history.empty() && ((own.drugs.empty() && (own.conditions.empty() || pronoun)) || refers_back);
  if (needs_topic) {
    if (!topic.empty()) {
      for (const auto& c : topic.conditions) add_unique(response.carried, c);
      for (const auto& d : topic.drugs) add_unique(response.carried, d);
    } else if (!derived.empty()) {
      for (const auto& c : derived.conditions) add_unique(response.carried, c);
      // A derived drug is a guess; only a pronoun ("its side effects") asks for one.
      if (pronoun)
        for (const auto& d : derived.drugs) add_unique(response.carried, d);
    } else {
      response.carried = earlier_words;
    }
    // A drug the question names is its own word, not carried.
    std::erase_if(response.carried, [&own](const std::string& name) {
      return std::find(own.drugs.begin(), own.drugs.end(), name) != own.drugs.end();
    });
  }
  // The question's own words (without pronouns, which match nothing useful) and the topic,
  // within the searcher's kMaxQueryBytes: a question up to that length plus the topic would
  // otherwise be refused by search() as a "q" that the client never sent. The topic is kept
  // whole; the question's last words give way to it.
  std::string topic_text;
  for (const auto& c : response.carried)
    if (topic_text.size() + 1 + c.size() <= kMaxQueryBytes) topic_text += " " + c;
  std::string resolved;
  for (const auto& w : words) {
    if (anaphora().count(w)) continue;
    if (resolved.size() + 1 + w.size() + topic_text.size() > kMaxQueryBytes) break;
    resolved += (resolved.empty() ? "" : " ") + w;
  }
  resolved += resolved.empty() && !topic_text.empty() ? topic_text.substr(1) : topic_text;
  if (resolved.empty()) resolved = request.question;
  response.resolved_query = resolved;

  // 2. Candidates: passages (no collapse; the cap per record is applied below), with the
  //    section and evidence intent of the question itself.
  SearchRequest search_request;
  search_request.query = resolved;
  search_request.limit = kContextCandidates;
  search_request.per_record = 0;
  search_request.sources = request.sources;
  search_request.snippet_bytes = 0;
  search_request.intent_text = request.question;
  auto found = search(search_request);
  if (!found.ok()) return found.error();
  response.intent = found->intent;
  response.partial = found->partial;
  response.missing_shards = found->missing_shards;

  // 3. Greedy selection in rank order: skip near-duplicates and records at their cap, and
  //    passages that no longer fit (a shorter one further down may).
  std::vector<Shingles> chosen_shingles;
  std::map<std::string, int> per_record;
  std::map<std::string, int> ref_of_record;
  int shortest = 0;  // tokens of the smallest entry tried (read when none fits)
  for (const Hit& hit : found->hits) {
    const auto& stored = hit.stored;
    if (per_record[stored.passage.record_id] >= request.per_record) continue;
    Shingles shingles = shingles_of(stored.passage.text);
    bool duplicate = false;
    for (const auto& other : chosen_shingles) duplicate |= jaccard(shingles, other) >= kNearDuplicateJaccard;
    if (duplicate) continue;

    const bool new_record = !ref_of_record.count(stored.passage.record_id);
    const int ref = new_record ? static_cast<int>(ref_of_record.size()) + 1 : ref_of_record[stored.passage.record_id];
    const std::string formatted =
        stored.citation.format(stored.title.empty() ? "Record " + stored.passage.record_id : stored.title);
    const std::string entry = std::string(response.prompt_block.empty() ? "" : "\n\n") + "[" + std::to_string(ref) +
                              "] " + stored.passage.text + "\n(Source: " + formatted + ")";
    const int needs = estimate_tokens(response.prompt_block + entry);
    if (shortest == 0 || needs < shortest) shortest = needs;
    if (needs > request.budget_tokens) continue;

    response.prompt_block += entry;
    chosen_shingles.push_back(std::move(shingles));
    ++per_record[stored.passage.record_id];
    if (new_record) {
      ref_of_record[stored.passage.record_id] = ref;
      Reference reference;
      reference.number = ref;
      reference.record_id = stored.passage.record_id;
      reference.source = stored.source;
      reference.title = stored.title;
      reference.citation = stored.citation;
      reference.formatted = formatted;
      reference.link = stored.citation.link();
      reference.published = stored.published;
      reference.updated = stored.updated;
      reference.review_status = stored.review_status;
      response.references.push_back(std::move(reference));
    }
    ContextPassage passage;
    passage.ref = ref;
    passage.passage_id = stored.passage.id;
    passage.record_id = stored.passage.record_id;
    passage.source = stored.source;
    passage.section = stored.passage.section;
    passage.heading = stored.passage.heading;
    passage.title = stored.title;
    passage.text = stored.passage.text;
    passage.citation = formatted;
    passage.url = stored.citation.link();
    passage.score = hit.score;
    passage.tokens = estimate_tokens(entry);
    response.passages.push_back(std::move(passage));
  }
  response.used_tokens = estimate_tokens(response.prompt_block);
  response.warnings = found->warnings;
  if (found->spelling)
    response.warnings.push_back("some words match nothing in the index; did you mean: " + *found->spelling);
  if (response.passages.empty())
    response.warnings.push_back(found->hits.empty()
                                    ? "no passage matches the question; the prompt block is empty"
                                    : "no passage fits budget_tokens " + std::to_string(request.budget_tokens) +
                                          " (the shortest needs " + std::to_string(shortest) + "); the prompt block is empty");
  response.took_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return response;
}

json context_to_json(const ContextResponse& r) {
  json passages = json::array();
  for (const auto& p : r.passages) {
    passages.push_back({{"ref", p.ref},
                        {"passage_id", p.passage_id},
                        {"record_id", p.record_id},
                        {"source", std::string(corpus::to_string(p.source))},
                        {"section", p.section},
                        {"heading", p.heading},
                        {"title", p.title},
                        {"text", p.text},
                        {"citation", p.citation},
                        {"url", p.url.empty() ? json(nullptr) : json(p.url)},
                        {"score", p.score},
                        {"tokens", p.tokens}});
  }
  json references = json::array();
  for (const Reference& ref : r.references) references.push_back(reference_to_json(ref));
  json out = {{"question", r.question},
              {"resolved_query", r.resolved_query},
              {"carried", r.carried},
              {"intent", intent_to_json(r.intent)},
              {"budget_tokens", r.budget_tokens},
              {"used_tokens", r.used_tokens},
              {"passages", std::move(passages)},
              {"references", std::move(references)},
              {"prompt_block", r.prompt_block},
              {"warnings", r.warnings},
              {"took_ms", r.took_ms}};
  // As in a search's answer: only when some shard did not answer.
  add_missing_shards(out, r.missing_shards);
  return out;
}

}  // namespace medsearch::searcher
