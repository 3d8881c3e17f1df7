-- wrk: GET a random blob from paths.txt (names relative to the cache root).
local paths = {}
for line in io.lines(os.getenv("BENCH_DIR") .. "/paths.txt") do paths[#paths + 1] = line end
math.randomseed(os.time())
request = function()
  return wrk.format("GET", os.getenv("BENCH_PREFIX") .. paths[math.random(#paths)])
end
