// The searcher: turns a plain-language question into a Xapian query and returns ranked,
// source-attributed passages (Hits). One Searcher per thread: it owns its Xapian::Database.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <xapian.h>

#include "corpus/record.h"
#include "corpus/result.h"
#include "corpus/schema.h"
#include "corpus/xapian_error.h"
#include "searcher/helper.h"
#include "searcher/rerank.h"
#include "searcher/facets.h"
#include "searcher/intent.h"
#include "searcher/shards.h"
#include "searcher/suggest.h"

namespace medsearch::searcher {

using corpus::Error;
using corpus::ErrorCode;
using corpus::Result;
using corpus::Source;
using corpus::Status;

inline constexpr int kMaxLimit = 100;
inline constexpr int kMaxOffset = 10000;
inline constexpr std::size_t kMaxQueryBytes = 1024;
// A read that a writer overtakes (two commits while it ran: Xapian's DatabaseModifiedError)
// reopens and starts again, up to this many times in all. A search under heavy load can take
// longer than two commit intervals of a busy bulk run (tests/concurrency_test.cc commits a few
// hundred ms apart), so three attempts were not enough there; each retry reads the newest commit.
inline constexpr int kMaxModifiedAttempts = 10;
// Years a filter accepts: year_from, year_to (HTTP and medsearch-search --year-from/--year-to)
// and the question's `year:` filter. Records carry years as four digits (a `published` date is
// YYYY...; PubMed's oldest records are from the 1700s, and corpus/SCHEMA.md keeps citation
// years in 1800-2100), so a year of fewer digits is a shortened one: "99" may mean 1999 or
// 2099, and as a filter it silently matched everything (year_from=99) or nothing (year_to=99).
// Any four-digit year is accepted, not just the index's 1800-2100: a range wider than the data
// is harmless, and clients that send year_to=9999 for "no end" keep working.
inline constexpr int kMinYear = 1000;
inline constexpr int kMaxYear = 9999;

struct SearchRequest {
  std::string query;               // the user's question, valid UTF-8, at most kMaxQueryBytes
  int limit = 10;                  // 1..kMaxLimit
  int offset = 0;                  // 0..kMaxOffset
  std::vector<Source> sources;     // empty = all
  std::optional<int> year_from;    // kMinYear..kMaxYear; none = open
  std::optional<int> year_to;      // kMinYear..kMaxYear; none = open
  int per_record = 1;              // passages per record at most; 0 = no limit
  std::size_t snippet_bytes = 300; // snippet length; 0 = no snippet
  bool rerank = true;              // second stage over the first stage's top records (rerank.h)
  // Boolean filters; each list matches any of its values, and the lists combine with AND.
  std::vector<std::string> drugs;            // drug names, matched ASCII-lowercased (XD terms)
  std::vector<std::string> sections;         // section keys, [a-z0-9_] (XK terms)
  std::vector<std::string> evidence_levels;  // corpus::kEvidenceLevels tokens (XE terms)
  bool facets = false;   // count facets over the matches (SearchResponse::facets)
  bool intent = true;    // detect section/evidence intent and boost toward it (searcher/intent.h)
  // Count the question's own matching records for total_estimate. When feedback widened the
  // question that is a match of its own; a caller that shows no total (a TREC run) turns it
  // off, and total_estimate is then Xapian's estimate for the widened query.
  bool count_total = true;
  std::string intent_text;  // detect intent from this text instead of `query` when not empty
  // When set and passed before or during the match, checking stops at the best hits, so
  // total_estimate and facets become estimates (SearchResponse::deadline_exceeded). The clock is
  // checked every few candidates on the searching thread; Xapian 1.4 cannot stop a match
  // midway, so a match over the deadline stops and reruns pruned. Local indexes only.
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

inline constexpr std::size_t kMaxFilterValues = 20;

// A passage with its rank, score, snippet and citation.
struct Hit {
  int rank = 0;  // 1-based, counting from the first result (offset + 1 for the first hit)
  double score = 0;
  std::string snippet;  // HTML-escaped text with matched terms in <mark>...</mark>
  corpus::schema::StoredPassage stored;
};

// Where a search's time went, in milliseconds (steady clock), stage by stage.
struct StageTimings {
  double parse = 0;     // intent, query parsing, synonyms
  double feedback = 0;  // the feedback pass: its first-stage match (which also counts the
                        // facets when the query has no filters) and the expansion terms
  double match = 0;     // the main match (and facets)
  double rerank = 0;    // features and the model over the top `depth`
  double spelling = 0;  // the spelling suggestion
  double output = 0;    // snippets and stored passages of the page

  StageTimings& operator+=(const StageTimings& o) {
    parse += o.parse;
    feedback += o.feedback;
    match += o.match;
    rerank += o.rerank;
    spelling += o.spelling;
    output += o.output;
    return *this;
  }
};

struct SearchResponse {
  std::string query;         // as given
  std::string parsed_query;  // Xapian's description of the query that ran
  std::uint64_t total_estimate = 0;
  double took_ms = 0;
  StageTimings timings;
  std::vector<Hit> hits;
  std::vector<std::string> warnings;  // e.g. syntax the parser could not honour
  std::optional<Facets> facets;       // when requested
  std::optional<std::string> spelling;  // the question with misspellings corrected, if any
  Intent intent;                      // what the boost favoured (empty when off or none)
  // Shards that did not answer, left out of this answer (only with ShardOptions::partial).
  bool partial = false;
  std::vector<std::string> missing_shards;
  // The match ran into SearchRequest::deadline (see there); a warning says so too.
  bool deadline_exceeded = false;
};

struct IndexStats {
  std::uint64_t passages = 0;
  std::uint64_t records = 0;
  std::uint64_t passages_by_source[3] = {0, 0, 0};  // in corpus::kAllSources order
  std::uint64_t revision = 0;
  double average_length = 0;
  std::string path;
  // Shards that did not answer, left out of every count above (only with
  // ShardOptions::partial), as in SearchResponse.
  bool partial = false;
  std::vector<std::string> missing_shards;
};

// Builds queries for one database's vocabulary. Exposed for tests.
struct QueryPlan {
  Xapian::Query query;
  std::vector<std::string> warnings;
};
// Parses a question: strict syntax first (phrases, AND/OR/NOT, +/-, title:), and on a parse
// error again leniently with a warning. Question boilerplate and stop words are dropped.
// `db` supplies the synonym table (a Searcher passes its lexicon when it has one).
Result<QueryPlan> build_query(const std::string& question, const Xapian::Database& db);

struct ContextRequest;   // searcher/context.h
struct ContextResponse;

class Searcher {
 public:
  // Opens the index at `path` read-only. Fails with `unavailable` if it cannot be opened
  // and `corrupt` if its schema version is not ours.
  static Result<std::unique_ptr<Searcher>> open(const std::string& path);
  // Opens shards as one index (searcher/shards.h: folders, tcp://HOST:PORT, stub files).
  // Errors as open(path), plus invalid_argument (param "db") for a malformed shard name and
  // unavailable (param "shard", naming every one that is down) for shards down when partial
  // answers are off. With options.lexicon, spelling and synonyms come from that local database.
  static Result<std::unique_ptr<Searcher>> open(const std::vector<std::string>& shards, const ShardOptions& options);
  // Wraps an existing database (an in-memory one in tests).
  explicit Searcher(Xapian::Database db, std::string path = {});

  // Runs a search. Errors: invalid_argument (param names the field) for bad requests,
  // unavailable/corrupt/internal for index trouble.
  Result<SearchResponse> search(const SearchRequest& request);

  // One passage by id; not_found if absent. A passage found is whole, whatever shards are
  // missing; one not on the shards that answered is unavailable (param "shard", naming the
  // missing ones), never not_found: it may be on one of them.
  Result<corpus::schema::StoredPassage> passage(const std::string& passage_id);

  // Index counts. Over shards with partial answers on, `partial` and `missing_shards` say
  // which shards the counts leave out.
  Result<IndexStats> stats();

  // Passages for an assistant (searcher/context.h): the question resolved against the
  // history, the best passages that fit the budget, a prompt block. Errors as search().
  Result<ContextResponse> context(const ContextRequest& request);

  // Drug and condition names starting with `prefix` (searcher/suggest.h); errors as
  // suggest_names, plus unavailable/corrupt/internal for index trouble. Flagged `partial` as
  // stats() is.
  Result<SuggestResponse> suggest(const std::string& prefix, int limit);

  // Picks up the latest commit; cheap when nothing changed. Over shards: reconnects remote
  // shards whose connection broke and tries shards that were down again (ShardSet::refresh).
  Status reopen();

  // True when some shard is remote and no lexicon was given: searches then run without
  // synonyms and spelling suggestions (Xapian 1.4's remote backend serves neither).
  bool lacks_lexicon() const { return shards_ && shards_->any_remote() && !has_lexicon_; }

  // The rerank model searches use: the one set here, or by default rerank::Model::builtin()
  // over an index with a semantic model (corpus/semantic.h) and Model::builtin_lexical() over
  // one without (checked again whenever the index changes).
  void set_model(const rerank::Model& model) {
    model_ = model;
    builtin_model_ = false;
  }
  const rerank::Model& model();

  // For training: the first stage's top `depth` records for a question (best passage each,
  // in first-stage order) with their rerank features.
  struct Candidate {
    std::string record_id;
    double first_score = 0;
    rerank::Features features{};
  };
  Result<std::vector<Candidate>> candidates(const std::string& question, int depth);

  const std::string& path() const { return path_; }

  // Whether a search may hand work that can run beside it (the facet count) to a second thread
  // with a handle of its own on the index (searcher/helper.h): the same answer, sooner when the
  // machine has a core to spare. On by default; only for an index this Searcher opened itself
  // whose shards are all local.
  void set_helper_thread(bool on);
  // How many searches have had their facets counted on the helper thread.
  std::uint64_t helper_tasks() const { return helper_tasks_; }

 private:
  Result<SearchResponse> search_once(const SearchRequest& request);
  // After a network error: drops the shards that do not answer (or fails naming them).
  Status recover_shards();
  // Runs `body` (returning Result<T>) as search() runs a search: a read overtaken by commits
  // reopens and retries; a remote shard failing mid-way is found and either left out (partial
  // answers on) or named in the error (param "shard"); other Xapian errors become `what: ...`.
  // search, passage, suggest, stats and context all read through it.
  template <class T, class Body>
  Result<T> guarded(const std::string& what, Body&& body);
  // Sets an answer's `partial` and `missing_shards` from the shards left out of this read (call
  // it after the read: a shard that failed during it is left out by then).
  void note_missing(bool& partial, std::vector<std::string>& missing_shards) const;
  // Where synonyms and spellings come from: the lexicon when given, else the index.
  const Xapian::Database& vocabulary() const { return has_lexicon_ ? lexicon_ : db_; }

  // The helper thread, opened on first use; null when off or impossible (remote shards, a
  // database given by the caller), and then helper_failed_ says so.
  HelperThread* helper();
  // Each shard's open revision in shard order (what the helper must read); empty when unknown.
  std::vector<Xapian::rev> shard_revisions() const;

  Xapian::Database db_;
  std::shared_ptr<ShardSet> shards_;  // null when wrapping a database given by the caller
  // open(path) of a stub naming several local shards: each shard, sharing its handle with db_
  // (so its revision is db_'s), for shard_revisions().
  std::vector<Xapian::Database> own_shards_;
  std::vector<std::string> shard_names_;  // as opened: open's path, or its shard names
  bool use_helper_ = true;
  bool helper_failed_ = false;
  std::unique_ptr<HelperThread> helper_;
  std::uint64_t helper_tasks_ = 0;
  Xapian::Database lexicon_;
  bool has_lexicon_ = false;
  std::string path_;
  Xapian::Stem stemmer_;  // cached (corpus::cached_stemmer): snippets stem every word of every hit
  rerank::Model model_ = rerank::Model::builtin();
  bool builtin_model_ = true;  // model_ is builtin(): model() may choose builtin_lexical() instead
  // The dimensions of db_'s semantic model (0: it has none), once model() has read its header.
  std::optional<unsigned> semantic_dims_;
  // db_ may have changed (a reopen found a new revision): what was remembered of it goes.
  void data_changed() {
    term_freqs_.clear();
    semantic_dims_.reset();
  }
  // Term frequencies of db_'s open revision, cleared wherever db_ is reopened to a new one. Only
  // for an index this Searcher opened itself (read-only: it changes only by a reopen; a
  // database the caller gives may be written to in place) and without remote shards (whose
  // term lists the cached ESet would read one round trip at a time): null otherwise.
  rerank::TermFreqCache term_freqs_;
  bool opened_read_only_ = false;
  rerank::TermFreqCache* freq_cache() {
    return opened_read_only_ && !(shards_ && shards_->any_remote()) ? &term_freqs_ : nullptr;
  }
};

template <class T, class Body>
Result<T> Searcher::guarded(const std::string& what, Body&& body) {
  // A shard found down earlier (by a failed read or reopen) stays an error until a reopen
  // reaches it again, unless partial answers are on: never a silent answer from the others.
  if (shards_ && !shards_->options().partial && !shards_->missing().empty())
    return corpus::make_error(corpus::ErrorCode::unavailable,
                              shards_unavailable(shards_->missing()), "shard");
  for (int attempt = 0;; ++attempt) {
    try {
      return body();
    } catch (const Xapian::DatabaseModifiedError&) {
      if (attempt + 1 >= kMaxModifiedAttempts)
        return corpus::make_error(corpus::ErrorCode::unavailable, "the index changed too often during the " + what);
      db_.reopen();
      term_freqs_.clear();
    } catch (const Xapian::NetworkError& e) {
      if (!shards_ || attempt >= 2) return corpus::error_from_xapian(e, what);
      Status recovered = recover_shards();
      if (!recovered.ok()) return recovered.error();
    } catch (const Xapian::Error& e) {
      return corpus::error_from_xapian(e, what);
    }
  }
}

// The Xapian library version, for /health.
std::string xapian_version();

// Checks a request before searching; the error's param names the offending field
// ("q", "limit", "offset", "year_from", "year_to", "per_record", "snippet_bytes", "drug",
// "section", "evidence").
Status validate(const SearchRequest& request);

}  // namespace medsearch::searcher
