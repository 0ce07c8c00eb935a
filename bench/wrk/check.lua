-- wrk script for POST /v1/check: rotates through WRK_BODIES (default 4096) pre-built requests with
-- varied public IPv4/IPv6 addresses and meeting ids, generated deterministically (an LCG), so every run
-- sends the same sequence. About 1 in 16 bodies names meeting 95500112233 (blocked in RU), 1 in 16
-- meeting 81234567890 (blocked in IN-MH); half of those come from inside the country. 1 in 32 carries
-- account acct_5Yt2 (a shadow order in IN-MH). The rest name meetings without orders (NO_ORDER).
--
-- Environment: CORDON_TOKEN (a checker token), WRK_PATH (default /v1/check; the hello POST echo
-- baseline uses /), WRK_BODIES, WRK_SEED.
--
--   CORDON_TOKEN=... wrk -t1 -c32 -d10s --latency -s bench/wrk/check.lua http://127.0.0.1:8787

local token = os.getenv("CORDON_TOKEN") or ""
local path = os.getenv("WRK_PATH") or "/v1/check"
local count = tonumber(os.getenv("WRK_BODIES") or "4096")
local seed = tonumber(os.getenv("WRK_SEED") or "20261122")

-- Numerical Recipes LCG mod 2^32; every product stays below 2^53, so doubles compute it exactly.
local function rnd(n)
  seed = (1664525 * seed + 1013904223) % 4294967296
  return math.floor(seed / 4294967296 * n)
end

-- First octets whose whole /8 is public unicast: no 0, 10, 100 (100.64/10 CGNAT), 127, 169 (link-local),
-- 172 (172.16/12), 192 (192.168/16, 192.0.2/24, ...), 198 (198.18/15, 198.51.100/24), 203 (203.0.113/24),
-- nothing from 224 up (multicast, reserved).
local excluded = { [10] = true, [100] = true, [127] = true, [169] = true, [172] = true, [192] = true,
  [198] = true, [203] = true }
local firsts = {}
for a = 1, 223 do
  if not excluded[a] then firsts[#firsts + 1] = a end
end

local function ipv4()
  return string.format("%d.%d.%d.%d", firsts[rnd(#firsts) + 1], rnd(256), rnd(256), rnd(254) + 1)
end

-- Allocated, routed IPv6 /32s (Google, Cloudflare, DigitalOcean, Meta, Hetzner, AWS, Afrinic space).
local v6prefixes = { "2a00:1450", "2400:cb00", "2604:a880", "2a03:2880", "2a01:4f8", "2600:1f18", "2c0f:fb50" }
local function ipv6(prefix)
  return string.format("%s:%x:%x:%x:%x:%x:%x", prefix, rnd(65536), rnd(65536), rnd(65536), rnd(65536),
    rnd(65536), rnd(65535) + 1)
end

local function publicIp()
  if rnd(5) == 0 then return ipv6(v6prefixes[rnd(#v6prefixes) + 1]) end
  return ipv4()
end

-- Networks the bundled GeoLite2 country database places in Russia and in India.
local function russianIp()
  local r = rnd(4)
  if r == 0 then return ipv6("2a02:6b8") end
  local nets = { "5.8", "77.88", "87.250" }
  return string.format("%s.%d.%d", nets[r], rnd(256), rnd(254) + 1)
end
local function indianIp()
  local r = rnd(5)
  if r == 0 then return ipv6("2405:200") end
  local nets = { "49.36", "117.192", "59.88", "106.51" }
  return string.format("%s.%d.%d", nets[r], rnd(256), rnd(254) + 1)
end

local function body()
  local m = rnd(16)
  local meeting, ip
  if m == 0 then
    meeting = "95500112233"
    ip = rnd(2) == 0 and russianIp() or publicIp()
  elseif m == 1 then
    meeting = "81234567890"
    ip = rnd(2) == 0 and indianIp() or publicIp()
  else
    meeting = string.format("9%010d", rnd(1000000000))
    ip = publicIp()
  end
  local account = ""
  local a = rnd(32)
  if a == 0 then
    account = ',"accountId":"acct_5Yt2"'
    ip = indianIp()
  elseif a < 8 then
    account = string.format(',"accountId":"acct_%d"', rnd(1000000))
  end
  return string.format('{"meetingId":"%s","ip":"%s"%s}', meeting, ip, account)
end

local requests = {}
local index = 0

-- Built in init, after wrk has set the Host header from the URL.
function init(args)
  for k = 1, count do
    local headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
      ["Accept-Language"] = (k % 8 == 0) and "nl-NL,nl;q=0.9,en;q=0.5" or "en-US,en;q=0.9",
    }
    requests[k] = wrk.format("POST", path, headers, body())
  end
end

function request()
  index = index + 1
  if index > #requests then index = 1 end
  return requests[index]
end
