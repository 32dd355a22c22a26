// The OpenAPI 3.1 description of the HTTP API (server/openapi.json, compiled in).
#pragma once

#include <string_view>

namespace medsearch::server {

std::string_view openapi_json();

}  // namespace medsearch::server
