-- wrk script for every HTTP cache in bench/compare.sh (cycas, nginx WebDAV,
-- Traffic Server). Blobs are rebuilt from the pool files `cycas-load gen`
-- writes (blob i = pool[offset(i), offset(i) + size), named by its SHA-256 in
-- names.txt), so requests cost no hashing and no file reads on the client.
--
-- Environment:
--   BENCH_MODE     get | exists | put | mixed (exists is a 1-byte ranged GET:
--                  wrk cannot time HEAD, whose response has no body)
--   BENCH_SMALL    directory of the small blob set (pool, names.txt, params)
--   BENCH_LARGE    directory of the large blob set (mixed only)
--   BENCH_HOT      blobs [0, HOT) of the small set are preloaded; get/head
--                  read them, put/mixed write new ones from HOT on
--   BENCH_LARGE_HOT  the same for the large set
--   BENCH_PREFIX   URL path before the name ("/cas/")
--   BENCH_THREADS  wrk's -t (each thread writes its own slice of new blobs)
--   BENCH_WRITE_METHOD  PUT, or GET for a proxy cache, where a "write" is a
--                  miss that fills the cache from the origin
--   BENCH_WRITE_PCT (10), BENCH_LARGE_PCT (2)  the mixed workload's shares
-- done() prints one line "BENCHJSON {...}" with requests, bytes sent and
-- received, errors and latency percentiles.

local function load_set(dir)
  if not dir or dir == "" then return nil end
  local s = { names = {} }
  local f = assert(io.open(dir .. "/pool", "rb"))
  s.pool = f:read("*a")
  f:close()
  for line in io.lines(dir .. "/params") do
    local k, v = line:match("^(%w+)=(%d+)$")
    if k then s[k] = tonumber(v) end
  end
  for line in io.lines(dir .. "/names.txt") do s.names[#s.names + 1] = line end
  return s
end

local function body(s, i)
  local off = (i % s.range) * s.stride % s.range
  return s.pool:sub(off + 1, off + s.size)
end

local threads = {}
local counter = 0
function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

function init(args)
  mode = os.getenv("BENCH_MODE")
  prefix = os.getenv("BENCH_PREFIX") or "/cas/"
  small = load_set(os.getenv("BENCH_SMALL"))
  large = load_set(os.getenv("BENCH_LARGE"))
  hot = tonumber(os.getenv("BENCH_HOT") or "0")
  large_hot = tonumber(os.getenv("BENCH_LARGE_HOT") or "0")
  step = tonumber(os.getenv("BENCH_THREADS") or "1")
  write_method = os.getenv("BENCH_WRITE_METHOD") or "PUT"
  write_pct = tonumber(os.getenv("BENCH_WRITE_PCT") or "10")
  large_pct = tonumber(os.getenv("BENCH_LARGE_PCT") or "2")
  next_small = hot + thread_index
  next_large = large_hot + thread_index
  sent = 0
  unit_size = small.size
  range_header = { Range = "bytes=0-0" }
  exhausted = 0
  math.randomseed(os.time() * 7919 + thread_index)
end

local function write(s, i)
  if i >= #s.names then
    exhausted = 1  -- reported: later writes would not be of new blobs
    i = i % #s.names
  end
  if write_method == "GET" then return wrk.format("GET", prefix .. s.names[i + 1]) end
  local b = body(s, i)
  sent = sent + #b
  return wrk.format("PUT", prefix .. s.names[i + 1], nil, b)
end

function request()
  if mode == "get" then
    return wrk.format("GET", prefix .. small.names[math.random(hot)])
  elseif mode == "exists" then
    return wrk.format("GET", prefix .. small.names[math.random(hot)], range_header)
  elseif mode == "put" then
    local i = next_small
    next_small = next_small + step
    return write(small, i)
  elseif mode == "mixed" then
    local s, h = small, hot
    local is_large = math.random(100) <= large_pct
    if is_large then s, h = large, large_hot end
    if math.random(100) <= write_pct then
      local i
      if is_large then
        i = next_large
        next_large = next_large + step
      else
        i = next_small
        next_small = next_small + step
      end
      return write(s, i)
    end
    return wrk.format("GET", prefix .. s.names[math.random(h)])
  end
  error("unknown BENCH_MODE " .. tostring(mode))
end

function done(summary, latency, requests)
  local total_sent, any_exhausted, size = 0, 0, 0
  for _, t in ipairs(threads) do
    size = t:get("unit_size") or 0
    total_sent = total_sent + (t:get("sent") or 0)
    any_exhausted = math.max(any_exhausted, t:get("exhausted") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_s":%.3f,"bytes_received":%d,"bytes_sent":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,' ..
    '"errors_timeout":%d,"p50_ms":%.3f,"p99_ms":%.3f,"exhausted":%d,"size":%d}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, total_sent, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, any_exhausted, size))
end
