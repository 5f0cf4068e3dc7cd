-- Register a worker incarnation: its heartbeat in the registry and its metadata hash, on Redis's
-- clock. apalis-redis's register_worker.lua takes "now" from the worker's own clock and also
-- writes the global key `core:apalis:queues:list`, which a script may not touch on a Redis
-- Cluster; this one writes only the queue's own keys.
--
-- KEYS[1] workers zset (unix s)  KEYS[2] this worker's metadata hash
-- ARGV[1] worker name  ARGV[2] threshold (s): a name heard from within it is refused
-- ARGV[3] backend name  ARGV[4] service
-- Returns the registration time (unix s, Redis's clock).
local now = tonumber(redis.call("TIME")[1])
local last = redis.call("ZSCORE", KEYS[1], ARGV[1])
if last and now - tonumber(last) < tonumber(ARGV[2]) then
    return redis.error_reply("worker is still active within threshold")
end
redis.call("ZADD", KEYS[1], now, ARGV[1])
redis.call("HSET", KEYS[2], "backend_name", ARGV[3], "service", ARGV[4])
return now
