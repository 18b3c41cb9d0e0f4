-- wrk script for bench/bench_checkins.py: simulated agents, one device after another.
--
-- wrk -s agents.lua URL -- MODE DATADIR THREADS RATE
--   MODE     checkin | inventory | ceiling-async | ceiling-sync
--   DATADIR  holds devices.tsv (credential<TAB>inventory hash, one device a line)
--            and inventory/<line number from 0>.json (full inventory bodies)
--   THREADS  the -t value: thread k sends for the devices with line % THREADS == k
--   RATE     total requests/s to pace to on a fixed schedule; 0 = as fast as possible
-- Counts every response that is not 200/204 and prints one line "BENCH_JSON {...}".

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local PATHS = {
  checkin = "/agent/v1/checkin",
  inventory = "/agent/v1/inventory",
  ["inventory-changed"] = "/agent/v1/inventory",
  ["ceiling-async"] = "/ceiling/async",
  ["ceiling-sync"] = "/ceiling/sync",
}

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

local reqs = {}
local sent = 0
local interval = 0
local first = nil

local function paced_delay()
  local t = now_ms()
  first = first or t
  local due = first + sent * interval
  sent = sent + 1
  if due <= t then
    return 0
  end
  return math.floor(due - t + 0.5)
end

function init(args)
  local mode, dir = args[1], args[2]
  local nthreads, rate = tonumber(args[3]), tonumber(args[4])
  local path = assert(PATHS[mode], "unknown mode " .. tostring(mode))
  local i = 0
  local again = {}
  for line in io.lines(dir .. "/devices.tsv") do
    if i % nthreads == tid then
      local credential, hash = line:match("^([^\t]+)\t([^\t]*)$")
      local body
      if mode == "inventory" then
        body = slurp(dir .. "/inventory/" .. i .. ".json")
      elseif mode == "inventory-changed" then
        -- The second inventory first, then the enrolled one, and so on: every
        -- upload differs from what the server holds for that device.
        body = slurp(dir .. "/inventory/" .. i .. ".b.json")
        again[#again + 1] = {credential, slurp(dir .. "/inventory/" .. i .. ".json")}
      else
        body = '{"inventory_hash":"' .. hash .. '"}'
      end
      local headers = {
        ["Authorization"] = "Bearer " .. credential,
        ["Content-Type"] = "application/json",
      }
      reqs[#reqs + 1] = wrk.format("POST", path, headers, body)
    end
    i = i + 1
  end
  for _, pair in ipairs(again) do
    local headers = {
      ["Authorization"] = "Bearer " .. pair[1],
      ["Content-Type"] = "application/json",
    }
    reqs[#reqs + 1] = wrk.format("POST", path, headers, pair[2])
  end
  assert(#reqs > 0, "no devices for thread " .. tid)
  bad = 0
  codes = {}
  if rate > 0 then
    interval = nthreads * 1000 / rate
    delay = paced_delay
  end
end

local n = 0

function request()
  n = n + 1
  return reqs[(n - 1) % #reqs + 1]
end

function response(status)
  if status ~= 200 and status ~= 204 then
    bad = bad + 1
    codes[status] = (codes[status] or 0) + 1
  end
end

function done(summary, latency)
  local non2xx, codes_all = 0, {}
  for _, t in ipairs(threads) do
    non2xx = non2xx + (t:get("bad") or 0)
    for code, count in pairs(t:get("codes") or {}) do
      codes_all[code] = (codes_all[code] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(codes_all) do
    parts[#parts + 1] = string.format('"%d": %d', code, count)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, '
      .. '"non2xx": %d, "codes": {%s}, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    non2xx, table.concat(parts, ", "),
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean
  ))
end
