-- Queue statistics in one round trip. (apalis's overview_by_queue.lua ZCARDs the done SET and
-- fails with WRONGTYPE: defect 7.)
--
-- KEYS[1] active list  KEYS[2] delayed zset (ms)  KEYS[3] done set  KEYS[4] dead set
-- KEYS[5] workers zset (unix s)  KEYS[6] paused flag
-- ARGV[1] inflight key prefix  ARGV[2] meta key prefix
-- ARGV[3] orphan window (s): workers heard from within it are live
-- (times are Redis's clock, `TIME`, whoever asks)
--
-- Returns {waiting, due, future, in_flight, done, dead, oldest_waiting_ms (-1: none),
--          live_workers, registered_workers, paused (1 or 0)}
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local cutoff = tonumber(clock[1]) - tonumber(ARGV[3])
local waiting = redis.call("LLEN", KEYS[1])
local due = redis.call("ZCOUNT", KEYS[2], "-inf", now)
local future = redis.call("ZCARD", KEYS[2]) - due

local in_flight = 0
local workers = redis.call("ZRANGE", KEYS[5], 0, -1)
for _, w in ipairs(workers) do
    in_flight = in_flight + redis.call("SCARD", ARGV[1] .. ":" .. w)
end

local oldest = -1
local head = redis.call("LINDEX", KEYS[1], 0)
if head then
    local t = tonumber(redis.call("HGET", ARGV[2] .. ":" .. head, "run_at") or "")
    if t then oldest = math.max(0, now - t) end
end
local first_due = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", now, "WITHSCORES", "LIMIT", 0, 1)
if #first_due == 2 then
    oldest = math.max(oldest, now - tonumber(first_due[2]))
end

local live = redis.call("ZCOUNT", KEYS[5], "(" .. cutoff, "+inf")
return {waiting, due, future, in_flight, redis.call("SCARD", KEYS[3]), redis.call("SCARD", KEYS[4]),
        oldest, live, #workers, redis.call("EXISTS", KEYS[6])}
