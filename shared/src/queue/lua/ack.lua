-- Record a task's outcome. coinbeat acks itself instead of apalis's handle_results.lua, which
-- retries every failure 25 times whatever max_attempts says (defect 6).
--
-- KEYS[1] this worker's inflight set  KEYS[2] done set  KEYS[3] dead set  KEYS[4] delayed zset (ms)
-- KEYS[5] finished zset (ms)          KEYS[6] the task's meta hash  KEYS[7] data hash
-- ARGV[1] task id  ARGV[2] "ok" | "permanent" | "transient" | "throttled"
-- ARGV[3] result JSON (ok) or error text  ARGV[4] retry base ms  ARGV[5] retry max ms
-- ARGV[6] jitter in [0, 1)  ARGV[7] least delay (ms) before the retry, e.g. an upstream's retry-after
-- ARGV[8] longest total time (ms) a task may spend throttled
-- ARGV[9] meta key prefix  ARGV[10] prune age (ms; 0: oldest first whatever their age)
-- ARGV[11] most records to prune  ARGV[12] idempotency key prefix
-- Times (done_at, run_at, the prune cut-off) are Redis's clock, `TIME`, never the worker's.
--
-- Returns {state, attempts, wait_ms} (how long until the next attempt); state is "done", "dead", "retry", "throttled", or "stale"
-- when the task is no longer held by this worker (it was released or recovered; someone else
-- owns it).
--
-- A throttle (the upstream or the shared limit said "not now, wait this long") is not a failed
-- attempt: the task goes back, pending, for the wait it was told plus a little jitter (so the
-- tasks throttled together do not all come back at once), and `attempts` stays as it was. What
-- bounds it instead is `throttled_ms`, the waits it was told in total: past ARGV[8] it is dead.
local id = ARGV[1]
local outcome = ARGV[2]
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- Retention, a bounded step per ack (apalis defect 8 without waiting for the daily cleanup):
-- at most ARGV[11] finished records that finished ARGV[10] ms ago or earlier, oldest first.
-- Each ack finishes at most one record and may prune more, so the finished set cannot outgrow
-- the retention however fast tasks finish. Above the memory high-water mark the caller passes
-- an age of 0 (oldest first, whatever their age). Deleting first also keeps this script
-- runnable at maxmemory: Redis refuses a script only when its first write could grow memory.
local function prune()
    local cutoff = now - tonumber(ARGV[10])
    local old = redis.call("ZRANGEBYSCORE", KEYS[5], "-inf", cutoff, "LIMIT", 0, tonumber(ARGV[11]))
    for _, gone in ipairs(old) do
        redis.call("SREM", KEYS[2], gone)
        redis.call("SREM", KEYS[3], gone)
        redis.call("HDEL", KEYS[7], gone)
        redis.call("DEL", ARGV[9] .. ":" .. gone)
        redis.call("ZREM", KEYS[5], gone)
    end
end

-- A finished single-flight task lets its key go (while it waited or ran, identical requests
-- joined it), so the next identical request enqueues anew and the key costs nothing after.
local meta = {}
local function release_flight()
    if meta.flight ~= "1" then
        return
    end
    local idem = meta.idempotency_key or ""
    if #idem > 0 then
        local key = ARGV[12] .. ":" .. idem
        if redis.call("GET", key) == id then
            redis.call("DEL", key)
        end
    end
end

if redis.call("SREM", KEYS[1], id) == 0 then
    return {"stale", 0, 0}
end
if tonumber(ARGV[11]) > 0 then
    prune()
end
-- What this script reads of the task, in one command.
local fields = redis.call("HMGET", KEYS[6], "attempts", "max_attempts", "flight", "idempotency_key")
meta.attempts, meta.max_attempts, meta.flight, meta.idempotency_key =
    fields[1], fields[2], fields[3], fields[4]

if outcome == "throttled" then
    local wait = tonumber(ARGV[7]) or 0
    local attempts_so_far = tonumber(meta.attempts or "0") or 0
    local throttled = redis.call("HINCRBY", KEYS[6], "throttled_ms", wait)
    if throttled > tonumber(ARGV[8]) then
        local reason = "throttled for " .. math.floor(throttled / 1000) ..
            " s in total, past the queue's max_throttled_secs; last: " .. ARGV[3]
        redis.call("SADD", KEYS[3], id)
        redis.call("ZADD", KEYS[5], now, id)
        redis.call("HSET", KEYS[6], "status", "Killed", "last_error", reason, "done_at", now)
        release_flight()
        return {"dead", attempts_so_far, 0}
    end
    local spread = wait
    if spread > 1000 then spread = 1000 end
    local run_at = now + wait + math.floor(spread * tonumber(ARGV[6]))
    redis.call("ZADD", KEYS[4], run_at, id)
    redis.call("HSET", KEYS[6], "status", "Pending", "last_error", ARGV[3], "run_at", run_at)
    return {"throttled", attempts_so_far, run_at - now}
end

local attempts = redis.call("HINCRBY", KEYS[6], "attempts", 1)
local max_attempts = tonumber(meta.max_attempts or "1") or 1

if outcome == "ok" then
    redis.call("SADD", KEYS[2], id)
    redis.call("ZADD", KEYS[5], now, id)
    redis.call("HSET", KEYS[6], "status", "Done", "result", ARGV[3], "done_at", now)
    release_flight()
    return {"done", attempts, 0}
end

if outcome == "permanent" or attempts >= max_attempts then
    redis.call("SADD", KEYS[3], id)
    redis.call("ZADD", KEYS[5], now, id)
    redis.call("HSET", KEYS[6], "status", "Killed", "last_error", ARGV[3], "done_at", now)
    release_flight()
    return {"dead", attempts, 0}
end

-- Exponential backoff with "equal jitter": half the delay fixed, half random, so delays grow
-- while replicas that failed together spread out.
local base = tonumber(ARGV[4])
local cap = tonumber(ARGV[5])
local delay = base * (2 ^ (attempts - 1))
if delay > cap then delay = cap end
delay = math.floor(delay / 2 + (delay / 2) * tonumber(ARGV[6]))
local least = tonumber(ARGV[7]) or 0
if delay < least then delay = least end
local run_at = now + delay
redis.call("ZADD", KEYS[4], run_at, id)
redis.call("HSET", KEYS[6], "status", "Failed", "last_error", ARGV[3], "run_at", run_at)
return {"retry", attempts, run_at - now}
