-- wrk script: GET /l<i> over the links examples/genlinks wrote (slug i is "l<i>").
--
-- Usage: wrk ... -s benches/wrk/redirect.lua URL -- N SHAPE SEED
--   N      number of stored links: slugs l0 .. l<N-1>
--   SHAPE  uniform  every slug equally likely (the default)
--          zipf     rank k (slug l<k>) has probability ~ 1/(k+1): Zipf, s = 1
--   SEED   seed for math.random, so each run asks for a different sequence
--
-- The bare-hyper baseline gets the same script: its answer ignores the
-- path, so both servers receive requests of the same shape and size.

local n, pick, prefix, suffix

local function uniform()
  return math.random(0, n - 1)
end

-- Zipf with s = 1 by inverting the CDF of its continuous approximation.
-- With u uniform in [0, 1), k = floor((n+1)^u) - 1 gives
--   P(k <= K) = ln(K+2) / ln(n+1),  so  P(k) = ln((k+2)/(k+1)) / ln(n+1),
-- which is ~ 1/((k+1) ln(n+1)), i.e. proportional to 1/(k+1), except for
-- the first few ranks: the top slug gets ln 2 / ln(n+1) of the traffic
-- instead of the exact 1/H(n) (7.5% instead of 10.2% at n = 10,000;
-- 4.3% instead of 6.0% at n = 10M). Good enough to model "a few hot links,
-- a long cold tail", and it costs one pow() per request.
local function zipf()
  local k = math.floor((n + 1) ^ math.random()) - 1
  if k < 0 then k = 0 elseif k > n - 1 then k = n - 1 end
  return k
end

function init(args)
  n = tonumber(args[1])
  if not n or n < 1 then
    error("redirect.lua: the first script argument must be the link count N >= 1")
  end
  local shape = args[2] or "uniform"
  if shape == "uniform" then
    pick = uniform
  elseif shape == "zipf" then
    pick = zipf
  else
    error("redirect.lua: unknown shape '" .. shape .. "' (uniform or zipf)")
  end
  math.randomseed(tonumber(args[3]) or os.time())
  -- Build the request once with wrk.format (request line, Host header) and
  -- split it around the slug number, so request() only concatenates three
  -- strings. One wrk thread is the client; against the bare baseline the
  -- client is close to being the bottleneck, so its per-request cost matters.
  prefix, suffix = wrk.format("GET", "/l#"):match("^(.-)#(.*)$")
end

function request()
  return prefix .. pick() .. suffix
end
