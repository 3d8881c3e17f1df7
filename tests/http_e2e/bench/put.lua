-- wrk: PUT blobs from BENCH_DIR/blobs, each thread walking its own slice of
-- paths.txt, so every request uploads a blob the server does not hold yet
-- (until the list runs out; then it wraps and uploads repeat).
-- `first` (set by setup) and `idx`, `step` are globals of each thread's VM.
local paths = {}
local counter = 0
function setup(thread)
  thread:set("first", counter)
  counter = counter + 1
end
function init(args)
  for line in io.lines(os.getenv("BENCH_DIR") .. "/paths.txt") do paths[#paths + 1] = line end
  step = tonumber(os.getenv("BENCH_THREADS"))
  idx = first
end
request = function()
  idx = idx + step
  local p = paths[(idx % #paths) + 1]
  local f = io.open(os.getenv("BENCH_DIR") .. "/blobs/" .. p, "rb")
  local body = f:read("*a")
  f:close()
  return wrk.format("PUT", os.getenv("BENCH_PREFIX") .. p, nil, body)
end
