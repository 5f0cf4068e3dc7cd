-- Every registered worker of a queue with its heartbeat, what it holds, and coinbeat's info
-- record (written when the incarnation started).
--
-- KEYS[1] workers zset (unix s)
-- ARGV[1] in-flight key prefix  ARGV[2] info key prefix
-- Returns {now_s, name, heartbeat_s, in_flight, host, pid, started_ms, ...} with "" for a
-- missing field; now_s is Redis's clock, which heartbeats are on.
local out = {redis.call("TIME")[1]}
local workers = redis.call("ZRANGE", KEYS[1], 0, -1, "WITHSCORES")
for i = 1, #workers, 2 do
    local name = workers[i]
    local info = redis.call("HMGET", ARGV[2] .. ":" .. name, "host", "pid", "started_ms")
    out[#out + 1] = name
    out[#out + 1] = workers[i + 1]
    out[#out + 1] = redis.call("SCARD", ARGV[1] .. ":" .. name)
    out[#out + 1] = info[1] or ""
    out[#out + 1] = info[2] or ""
    out[#out + 1] = info[3] or ""
end
return out
