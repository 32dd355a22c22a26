// libFuzzer target for HTTP request parsing: the first byte picks the parser, the rest is a
// query string as httplib decodes it for GET /search (then parse_search_request), a POST
// /search body (parse_search_body) or a POST /context body (parse_context_body). A request
// that parses is then checked by searcher::validate, as the handler does before searching.
#include <httplib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "server/server.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace medsearch;
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      httplib::Params params;
      httplib::detail::parse_query_text(text, params);
      auto request = server::parse_search_request(params);
      if (request.ok()) (void)searcher::validate(*request);
      break;
    }
    case 1: {
      auto request = server::parse_search_body(text);
      if (request.ok()) (void)searcher::validate(*request);
      break;
    }
    case 2:
      (void)server::parse_context_body(text);
      break;
  }
  return 0;
}
