-- Put dead tasks back on the active list as new: attempts reset, removed from the dead set and
-- the finished index, idle workers woken as enqueue does. One script, so a task is never both
-- dead and waiting.
--
-- KEYS[1] dead set  KEYS[2] finished zset  KEYS[3] active list  KEYS[4] delayed zset
-- KEYS[5] data hash  KEYS[6] signal list  KEYS[7] errors hash
-- ARGV[1] meta key prefix  ARGV[2] "available" channel  ARGV[3] backlog cap
-- ARGV[4] mode: "one" | "all"
-- ARGV[5] the task id (mode "one") or the most tasks to move (mode "all")
-- ARGV[6] idempotency key prefix  ARGV[7] single-flight key lifetime (s)
--
-- A retried single-flight task takes its key back (ack.lua let it go when the task died), so
-- identical requests join it again; unless an identical task enqueued since holds the key and
-- still waits or runs, which then keeps it (both run).
-- Times are Redis's clock (`TIME`).
--
-- The cap is checked against every task still dead (mode "all") or the one task, before
-- anything is written, so a retry that does not fit writes nothing.
-- A dead id whose payload is gone cannot run again: mode "all" deletes its record and counts it
-- as discarded; mode "one" refuses it.
-- Returns {"ok", retried, discarded}, {"full", depth, wanted}, {"unknown"}, {"not_dead"} or
-- {"no_payload"}.
local prefix = ARGV[1]
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local cap = tonumber(ARGV[3])
local mode = ARGV[4]

local ids
if mode == "one" then
    local id = ARGV[5]
    if redis.call("SISMEMBER", KEYS[1], id) == 0 then
        if redis.call("EXISTS", prefix .. ":" .. id) == 0 then
            return {"unknown"}
        end
        return {"not_dead"}
    end
    if redis.call("HEXISTS", KEYS[5], id) == 0 then
        return {"no_payload"}
    end
    ids = {id}
else
    ids = redis.call("SRANDMEMBER", KEYS[1], tonumber(ARGV[5]))
end

local depth = redis.call("LLEN", KEYS[3]) + redis.call("ZCARD", KEYS[4])
local wanted = #ids
if mode == "all" then
    wanted = redis.call("SCARD", KEYS[1])
end
if depth + wanted > cap then
    return {"full", depth, wanted}
end

local retried = 0
local discarded = 0
for _, id in ipairs(ids) do
    local meta = prefix .. ":" .. id
    redis.call("SREM", KEYS[1], id)
    redis.call("ZREM", KEYS[2], id)
    if redis.call("HEXISTS", KEYS[5], id) == 1 then
        redis.call("HDEL", meta, "last_error", "done_at", "result")
        redis.call("HDEL", KEYS[7], id)
        redis.call("HSET", meta, "attempts", 0, "status", "Pending", "run_at", now,
            "retried_at", now)
        local idem = redis.call("HGET", meta, "idempotency_key") or ""
        if redis.call("HGET", meta, "flight") == "1" and #idem > 0 then
            local key = ARGV[6] .. ":" .. idem
            local holder = redis.call("GET", key)
            local live = false
            if holder and holder ~= id then
                local status = redis.call("HGET", prefix .. ":" .. holder, "status")
                live = status and status ~= "Done" and status ~= "Killed"
            end
            if not live then
                redis.call("SET", key, id, "EX", ARGV[7])
            end
        end
        redis.call("RPUSH", KEYS[3], id)
        retried = retried + 1
    else
        redis.call("DEL", meta)
        redis.call("HDEL", KEYS[7], id)
        discarded = discarded + 1
    end
end

if retried > 0 then
    redis.call("DEL", KEYS[6])
    redis.call("LPUSH", KEYS[6], 1)
    redis.call("PUBLISH", ARGV[2], retried)
end
return {"ok", retried, discarded}
