-- Pause or resume a queue for every replica at once (fetch.lua gives nothing while the flag is
-- there). Pausing twice keeps the first time; resuming wakes idle workers.
--
-- KEYS[1] the queue's paused flag
-- ARGV[1] "pause" | "resume"  ARGV[2] the queue's "tasks available" channel
--
-- Returns {1 if it was paused before this call else 0, paused since (unix ms, Redis's clock;
-- -1 when not paused after this call)}
local before = redis.call("GET", KEYS[1])
if ARGV[1] == "pause" then
    if before then
        return {1, tonumber(before)}
    end
    local clock = redis.call("TIME")
    local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
    redis.call("SET", KEYS[1], now)
    return {0, now}
end
if before then
    redis.call("DEL", KEYS[1])
    redis.call("PUBLISH", ARGV[2], "resumed")
end
return {before and 1 or 0, -1}
