// medsearch-server: serves an index over HTTP until SIGINT or SIGTERM. Parses the arguments,
// calls the server library and maps the outcome to an exit code: 0 after a clean stop,
// 1 when the index cannot be opened or the address cannot be bound, 2 for usage errors.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "searcher/mapped_reads.h"
#include "server/server.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr char kWakeSignal = 's';  // written by the signal handler
constexpr char kWakeDone = 'd';    // written by main when run() returned on its own

// The self-pipe: the handler may only do async-signal-safe things, so it writes a byte and a
// watcher thread does the real work (stopping the server) outside signal context.
int g_wake_pipe[2] = {-1, -1};

void on_signal(int) {
  const int saved_errno = errno;
  const char byte = kWakeSignal;
  [[maybe_unused]] ssize_t written = write(g_wake_pipe[1], &byte, 1);
  errno = saved_errno;
}

bool install_signal_handlers() {
  if (pipe2(g_wake_pipe, O_CLOEXEC) != 0) return false;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  // Restart the watcher's read() rather than failing it with EINTR.
  action.sa_flags = SA_RESTART;
  return sigaction(SIGINT, &action, nullptr) == 0 && sigaction(SIGTERM, &action, nullptr) == 0;
}

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

int main(int argc, char** argv) {
  using medsearch::server::Server;
  using medsearch::server::ServerOptions;

  ServerOptions options;
  bool quiet = false;
  CLI::App app{"Serves a medsearch index over HTTP: the web page at /, and /search, /suggest, /context, "
                "/passages/{id}, /health, /stats, /metrics, /openapi.json, and with an API key /records."};
  std::vector<std::string> dbs;
  app.add_option("--db", dbs,
                 "Index directory; repeat for shards searched as one index: folders, tcp://HOST:PORT (xapian-tcpsrv), "
                 "or a Xapian stub file listing 'auto PATH' and 'remote HOST:PORT' lines")
      ->required()
      ->allow_extra_args(false);
  app.add_option("--lexicon", options.shard_options.lexicon,
                 "Local database with the index's spellings and synonyms (medsearch-index --export-lexicon), for "
                 "remote shards, which serve neither");
  app.add_option("--shard-timeout-ms", options.shard_options.timeout_ms,
                 "Longest wait for a remote shard's answer; a slower shard counts as down")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  app.add_option("--shard-connect-timeout-ms", options.shard_options.connect_timeout_ms,
                 "Longest wait to connect to a remote shard")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  app.add_option("--shard-retry-ms", options.shard_options.retry_initial_ms,
                 "After a shard is found down, wait this long before trying it again (doubling with each failure "
                 "in a row, up to --shard-retry-max-ms); meanwhile requests do not wait for it. 0 = try at every request")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
  app.add_option("--shard-retry-max-ms", options.shard_options.retry_max_ms, "Longest back-off for a shard that is down")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
  app.add_flag("--partial-results", options.shard_options.partial,
               "When a shard is down, answer from the others with \"partial\": true and \"missing_shards\" "
               "(default: 503 naming the shard)");
  app.add_option("--host", options.host, "Address to listen on")->capture_default_str();
  app.add_option("--port", options.port, "Port to listen on (0 = any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--threads", options.threads, "Worker threads (0 = one per core, at least 8)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--search-slots", options.search_slots,
                 "Searches that run at once; the others wait their turn in arrival order (0 = cores + 1)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  // The index's blocks through memory maps (searcher/mapped_reads.h); MEDSEARCH_MAP_MB sets the
  // same default for every program that searches.
  std::size_t index_map_mb = medsearch::searcher::mapped_reads::budget_from_environment() >> 20;
  app.add_option("--index-map-mb", index_map_mb,
                 "MiB of the index read through memory maps instead of a system call a block; at most this much of "
                 "it is mapped (resident) at once, least recently used unmapped first (0 = every read a pread)")
      ->check(CLI::Range(0, 1 << 24))
      ->capture_default_str();
  bool no_helper_threads = false;
  app.add_flag("--no-helper-threads", no_helper_threads,
               "Count a search's facets on the worker's own thread, not on a helper thread beside the search");
  // Limits (docs/RELIABILITY.md lists each with the test behind it).
  app.add_option("--max-queued", options.max_queued,
                 "Connections that may wait for a busy worker; past them the server answers 503 with Retry-After "
                 "(code overloaded)")
      ->capture_default_str();
  app.add_option("--retry-after", options.retry_after_s, "Seconds in the Retry-After of the server's 503 answers")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  app.add_option("--request-deadline-ms", options.request_deadline_ms,
                 "A search's deadline, counted from its connection's acceptance: past it before searching, 503 "
                 "(code deadline_exceeded); during the match, checking stops at the best hits (\"deadline_exceeded\": true). 0 = none")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
  app.add_option("--receive-timeout-ms", options.receive_timeout_ms,
                 "Longest time a client may take to send a whole request (line, headers, body); slower gets 408")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  app.add_option("--read-timeout", options.read_timeout_s, "Seconds to wait for each read from a client")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--write-timeout", options.write_timeout_s, "Seconds to wait for each write to a client")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--keep-alive-timeout", options.keep_alive_timeout_s,
                 "Seconds an idle keep-alive connection is kept (it holds a worker meanwhile)")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  app.add_option("--max-body-bytes", options.max_payload_bytes, "Largest request body; larger gets 413")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--max-uri-bytes", options.max_uri_bytes, "Longest request URI (path and query); longer gets 414")
      ->check(CLI::Range(std::size_t{16}, medsearch::server::kMaxUriBytesCeiling))
      ->capture_default_str();
  app.add_option("--max-headers", options.max_headers, "Most header lines in a request; more gets 431")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000}))
      ->capture_default_str();
  app.add_option("--max-header-bytes", options.max_header_bytes, "Most bytes of headers in a request; more gets 431")
      ->check(CLI::Range(std::size_t{64}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-query-terms", options.max_query_terms,
                 "Most words in a question (/search's q, /context's question); more gets 400")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1024}))
      ->capture_default_str();
  app.add_option("--max-query-bytes", options.max_query_bytes,
                 "Longest question in bytes (/search's q, /context's question); longer gets 400")
      ->check(CLI::Range(std::size_t{1}, medsearch::searcher::kMaxQueryBytes))
      ->capture_default_str();
  app.add_option("--max-limit", options.max_limit, "Largest /search limit; larger gets 400")
      ->check(CLI::Range(1, medsearch::searcher::kMaxLimit))
      ->capture_default_str();
  app.add_option("--max-offset", options.max_offset, "Largest /search offset; larger gets 400")
      ->check(CLI::Range(0, medsearch::searcher::kMaxOffset))
      ->capture_default_str();
  app.add_option("--cors-origin", options.cors_origins,
                 "Origin allowed to call the API from a page served elsewhere (repeat, or a comma-separated list; "
                 "\"*\" for any). Default: CORS off, no Access-Control-* headers")
      ->delimiter(',');
  auto* web_dir = app.add_option("--web-dir", options.web_dir, "Folder of the web page served at / (empty = no page)")
                      ->capture_default_str();
  app.add_flag("--quiet", quiet, "No access log on stderr");
  app.add_option("--rerank-model", options.rerank_model_path,
                 "Rerank weights written by medsearch-train (default: the shipped searcher/rerank_model.json, or "
                 "rerank_model_lexical.json over an index without a semantic model)")
      ->check(CLI::ExistingFile);
  std::string api_key_file;
  app.add_option("--api-key-file", api_key_file,
                 "File whose first line is the key that turns on the write API (POST /records, DELETE "
                 "/records/{id}); else the MEDSEARCH_API_KEY environment variable; else writes are off")
      ->check(CLI::ExistingFile);
  app.set_version_flag("--version", std::string(medsearch::server::version()));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; anything else is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  options.access_log = !quiet;
  medsearch::searcher::mapped_reads::enable(index_map_mb << 20);
  options.helper_threads = !no_helper_threads;
  // One local folder keeps the write API possible; anything else is a list of shards.
  if (dbs.size() == 1 && dbs[0].rfind("tcp://", 0) != 0 && std::filesystem::is_directory(dbs[0])) {
    options.db_path = dbs[0];
  } else {
    options.db_path = dbs[0];
    options.shards = dbs;
  }
  if (!api_key_file.empty()) {
    std::ifstream in(api_key_file);
    std::getline(in, options.api_key);
    while (!options.api_key.empty() && (options.api_key.back() == '\r' || options.api_key.back() == ' '))
      options.api_key.pop_back();
    if (!in && options.api_key.empty()) {
      std::cerr << "medsearch-server: cannot read the API key from " << api_key_file << "\n";
      return kExitUsage;
    }
    if (options.api_key.empty()) {
      std::cerr << "medsearch-server: " << api_key_file << " holds no API key\n";
      return kExitUsage;
    }
  } else if (const char* key = std::getenv("MEDSEARCH_API_KEY"); key != nullptr && *key != '\0') {
    options.api_key = key;
  }
  // The built-in default names the source tree; a binary copied elsewhere serves the API alone.
  if (web_dir->count() == 0 && !options.web_dir.empty() && !std::filesystem::is_directory(options.web_dir)) {
    std::cerr << "medsearch-server: no web page: " << options.web_dir << " is not a folder (see --web-dir)\n";
    options.web_dir.clear();
  }

  auto server = Server::create(options);
  if (!server.ok()) {
    std::cerr << "medsearch-server: " << server.error().message << "\n";
    return server.error().code == medsearch::corpus::ErrorCode::invalid_argument ? kExitUsage : kExitFailure;
  }
  auto port = (*server)->bind();
  if (!port.ok()) {
    std::cerr << "medsearch-server: " << port.error().message << "\n";
    return kExitFailure;
  }

  if (!install_signal_handlers()) {
    std::perror("medsearch-server: cannot install signal handlers");
    return kExitFailure;
  }
  // Only the watcher takes SIGINT/SIGTERM: the mask set here is inherited by the server's
  // worker threads, and the watcher unblocks the signals for itself.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::atomic<bool> signalled{false};
  Server& running = **server;
  std::thread watcher([&] {
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
    char byte = 0;
    while (read(g_wake_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    if (byte == kWakeSignal) {
      signalled = true;
      // Closes the listening socket; requests in flight finish before run() returns.
      running.stop();
    }
  });

  std::cerr << "medsearch-server: write API " << (options.api_key.empty() ? "off" : "on (API key set)") << "\n";
  std::cerr << "medsearch-server listening on http://" << url_host(options.host) << ":" << *port << std::endl;
  running.run();

  const char done = kWakeDone;
  [[maybe_unused]] ssize_t written = write(g_wake_pipe[1], &done, 1);
  watcher.join();

  if (!signalled) {
    std::cerr << "medsearch-server: stopped serving http://" << url_host(options.host) << ":" << *port
              << " unexpectedly\n";
    return kExitFailure;
  }
  std::cerr << "medsearch-server: stopped\n";
  return kExitOk;
}
