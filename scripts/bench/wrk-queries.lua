-- wrk script for scripts/bench-query.sh: cycles GET requests through the URL paths in a file
-- (one per line, already percent-encoded, e.g. /search?q=...&limit=10), each wrk thread starting
-- at a different offset so that the threads do not ask the same question at the same moment.
-- At the end prints machine-readable lines the script parses:
--   wrk_requests N / wrk_seconds S / wrk_errors E / wrk_p50_ms .. wrk_p99_ms
-- usage: wrk -t2 -c8 -d20s --latency -s wrk-queries.lua http://127.0.0.1:PORT -- PATHS.txt
local threads = {}
local counter = 1

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  if #paths == 0 then error("no paths in " .. tostring(args[1])) end
  counter = (offset or 0) % #paths + 1
end

function request()
  local path = paths[counter]
  counter = counter % #paths + 1
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk_requests %d\n", summary.requests))
  io.write(string.format("wrk_seconds %.3f\n", summary.duration / 1e6))
  io.write(string.format("wrk_errors %d\n", e.connect + e.read + e.write + e.status + e.timeout))
  for _, p in ipairs({50, 90, 95, 99}) do
    io.write(string.format("wrk_p%d_ms %.3f\n", p, latency:percentile(p) / 1000))
  end
end
