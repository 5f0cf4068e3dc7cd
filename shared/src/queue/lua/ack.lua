-- Record the outcomes of a batch of tasks one worker finished (one task is a batch of one).
-- coinbeat acks itself instead of apalis's handle_results.lua, which retries every failure 25
-- times whatever max_attempts says (defect 6). This script is the one definition of what an ack
-- does; the runtime's acker sends whatever finished while its previous call was in flight, so
-- a busy worker pays one call for many tasks and an idle one waits for nothing.
--
-- KEYS[1] this worker's inflight set  KEYS[2] done set  KEYS[3] dead set  KEYS[4] delayed zset (ms)
-- KEYS[5] finished zset (ms)          KEYS[6] data hash  KEYS[7] errors hash (id → last error)
-- KEYS[8] search hours zset
-- ARGV[1] retry base ms  ARGV[2] retry max ms
-- ARGV[3] longest total time (ms) a task may spend throttled
-- ARGV[4] meta key prefix (a task's meta hash is ARGV[4] .. ":" .. id)
-- ARGV[5] prune age (ms; 0: oldest first whatever their age)  ARGV[6] most records to prune
-- ARGV[7] idempotency key prefix
-- ARGV[8] history key prefix (what finished, counted per minute and per hour: see the end)
-- ARGV[9] search log prefix  ARGV[10] a search log's lifetime (s)
-- then five per task, from ARGV[11]: task id, "ok" | "permanent" | "transient" | "throttled",
-- result JSON (ok) or error text, jitter in [0, 1), least delay (ms) before the retry (e.g. an
-- upstream's retry-after)
-- Times (done_at, run_at, the prune cut-off) are Redis's clock, `TIME`, never the worker's.
--
-- Returns one {state, attempts, wait_ms} per task, in order (wait_ms: how long until the next
-- attempt); state is "done", "dead", "retry", "throttled", or "stale" when the task is no
-- longer held by this worker (it was released or recovered; someone else owns it; or it came
-- twice in the batch, and the second is as late as a second ack would be).
--
-- A throttle (the upstream or the shared limit said "not now, wait this long") is not a failed
-- attempt: the task goes back, pending, for the wait it was told plus a little jitter (so the
-- tasks throttled together do not all come back at once), and `attempts` stays as it was. What
-- bounds it instead is `throttled_ms`, the waits it was told in total: past ARGV[3] it is dead.
--
-- Nothing below can fail on a task's data (counters are read and written as numbers, never
-- HINCRBY on what might not be one), so one odd record never fails the acks of its batch.
local FIXED, PER = 10, 5
local n = math.floor((#ARGV - FIXED) / PER)
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local base, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local max_throttled = tonumber(ARGV[3])
local meta_prefix, idem_prefix = ARGV[4], ARGV[7]

-- The holder check: only what this worker still holds is recorded, each id once.
local ids = {}
for i = 1, n do
    ids[i] = ARGV[FIXED + (i - 1) * PER + 1]
end
local results = {}
local member = {}
if n > 0 then
    member = redis.call("SMISMEMBER", KEYS[1], unpack(ids))
end
local held, held_ids = {}, {}
for i, id in ipairs(ids) do
    if member[i] == 1 and not held[id] then
        held[id] = i
        held_ids[#held_ids + 1] = id
    end
end
if #held_ids == 0 then
    for i = 1, n do
        results[i] = {"stale", 0, 0}
    end
    return results
end
redis.call("SREM", KEYS[1], unpack(held_ids))

-- Retention, a bounded step per batch (apalis defect 8 without waiting for the daily cleanup):
-- at most ARGV[6] finished records that finished ARGV[5] ms ago or earlier, oldest first. The
-- caller's budget is what the batch's acks would each have pruned, more than the one record
-- each ack finishes, so the finished set cannot outgrow the retention however fast tasks
-- finish. Above the memory high-water mark the caller passes an age of 0 (oldest first,
-- whatever their age). Deleting before writing also keeps this script runnable at maxmemory:
-- Redis refuses a script only when its first write could grow memory.
if tonumber(ARGV[6]) > 0 then
    local cutoff = now - tonumber(ARGV[5])
    local old = redis.call("ZRANGEBYSCORE", KEYS[5], "-inf", cutoff, "LIMIT", 0, tonumber(ARGV[6]))
    for _, gone in ipairs(old) do
        redis.call("SREM", KEYS[2], gone)
        redis.call("SREM", KEYS[3], gone)
        redis.call("HDEL", KEYS[6], gone)
        redis.call("DEL", meta_prefix .. ":" .. gone)
        redis.call("HDEL", KEYS[7], gone)
        redis.call("ZREM", KEYS[5], gone)
    end
    -- The search logs of hours before the oldest finished record left go with it.
    if #old > 0 then
        local oldest = redis.call("ZRANGE", KEYS[5], 0, 0, "WITHSCORES")
        -- (none left: every log goes; an ack appends its own lines after this)
        local below = "+inf"
        if #oldest == 2 then
            below = "(" .. math.floor(tonumber(oldest[2]) / 3600000)
        end
        local stale = redis.call("ZRANGEBYSCORE", KEYS[8], "-inf", below)
        for _, hour in ipairs(stale) do
            redis.call("DEL", ARGV[9] .. ":" .. hour)
        end
        if #stale > 0 then
            redis.call("ZREMRANGEBYSCORE", KEYS[8], "-inf", below)
        end
    end
end

-- What the batch adds to the shared sets, written once at the end; `errors` the last error of
-- each task that failed or was throttled (the meta's `last_error`, kept beside it for search).
local done, dead, finished, delayed, errors = {}, {}, {}, {}, {}

local function failed(id, text)
    errors[#errors + 1] = id
    errors[#errors + 1] = text
end

-- A finished single-flight task lets its key go (while it waited or ran, identical requests
-- joined it), so the next identical request enqueues anew and the key costs nothing after.
local function release_flight(id, meta)
    if meta[3] ~= "1" then
        return
    end
    local idem = meta[4] or ""
    if #idem > 0 then
        local key = idem_prefix .. ":" .. idem
        if redis.call("GET", key) == id then
            redis.call("DEL", key)
        end
    end
end

-- The tasks that finished, for a line each in this hour's search log (written at the end).
local finished_ids = {}

local function finish(set, id, meta_key, meta, fields)
    set[#set + 1] = id
    finished_ids[#finished_ids + 1] = id
    finished[#finished + 1] = now
    finished[#finished + 1] = id
    redis.call("HSET", meta_key, unpack(fields))
    release_flight(id, meta)
end

local function ack(id, outcome, text, jitter, least)
    local meta_key = meta_prefix .. ":" .. id
    -- What this script reads of the task, in one command.
    local meta = redis.call("HMGET", meta_key, "attempts", "max_attempts", "flight",
        "idempotency_key", "throttled_ms")
    local attempts_so_far = tonumber(meta[1] or "0") or 0

    if outcome == "throttled" then
        local wait = least
        local throttled = (tonumber(meta[5] or "0") or 0) + wait
        if throttled > max_throttled then
            local reason = "throttled for " .. math.floor(throttled / 1000) ..
                " s in total, past the queue's max_throttled_secs; last: " .. text
            finish(dead, id, meta_key, meta, {"throttled_ms", throttled, "status", "Killed",
                "last_error", reason, "done_at", now})
            failed(id, reason)
            return {"dead", attempts_so_far, 0}
        end
        local spread = wait
        if spread > 1000 then spread = 1000 end
        local run_at = now + wait + math.floor(spread * jitter)
        delayed[#delayed + 1] = run_at
        delayed[#delayed + 1] = id
        redis.call("HSET", meta_key, "throttled_ms", throttled, "status", "Pending",
            "last_error", text, "run_at", run_at)
        failed(id, text)
        return {"throttled", attempts_so_far, run_at - now}
    end

    local attempts = attempts_so_far + 1
    local max_attempts = tonumber(meta[2] or "1") or 1

    if outcome == "ok" then
        finish(done, id, meta_key, meta, {"attempts", attempts, "status", "Done", "result", text,
            "done_at", now})
        return {"done", attempts, 0}
    end

    if outcome == "permanent" or attempts >= max_attempts then
        finish(dead, id, meta_key, meta, {"attempts", attempts, "status", "Killed",
            "last_error", text, "done_at", now})
        failed(id, text)
        return {"dead", attempts, 0}
    end

    -- Exponential backoff with "equal jitter": half the delay fixed, half random, so delays
    -- grow while replicas that failed together spread out.
    local delay = base * (2 ^ (attempts - 1))
    if delay > cap then delay = cap end
    delay = math.floor(delay / 2 + (delay / 2) * jitter)
    if delay < least then delay = least end
    local run_at = now + delay
    delayed[#delayed + 1] = run_at
    delayed[#delayed + 1] = id
    redis.call("HSET", meta_key, "attempts", attempts, "status", "Failed", "last_error", text,
        "run_at", run_at)
    failed(id, text)
    return {"retry", attempts, run_at - now}
end

-- How the batch ended, counted for the queue's history.
local counts = {done = 0, retried = 0, throttled = 0, dead = 0}
local counted = {done = "done", retry = "retried", throttled = "throttled", dead = "dead"}

for i, id in ipairs(ids) do
    if held[id] == i then
        local at = FIXED + (i - 1) * PER
        results[i] = ack(id, ARGV[at + 2], ARGV[at + 3], tonumber(ARGV[at + 4]) or 0,
            tonumber(ARGV[at + 5]) or 0)
        local counter = counted[results[i][1]]
        counts[counter] = counts[counter] + 1
    else
        results[i] = {"stale", 0, 0}
    end
end

if #done > 0 then
    redis.call("SADD", KEYS[2], unpack(done))
end
if #dead > 0 then
    redis.call("SADD", KEYS[3], unpack(dead))
end
if #finished > 0 then
    redis.call("ZADD", KEYS[5], unpack(finished))
end
if #delayed > 0 then
    redis.call("ZADD", KEYS[4], unpack(delayed))
end
if #errors > 0 then
    redis.call("HSET", KEYS[7], unpack(errors))
end
-- This hour's search log: a line per finished task, its id and its payload (the payloads read
-- in one command, the lines joined once; the reader folds case, not this script).
if #finished_ids > 0 then
    local payloads = redis.call("HMGET", KEYS[6], unpack(finished_ids))
    local log_lines = {}
    for i, id in ipairs(finished_ids) do
        if payloads[i] then
            log_lines[#log_lines + 1] = id
            log_lines[#log_lines + 1] = "\t"
            log_lines[#log_lines + 1] = payloads[i]
            log_lines[#log_lines + 1] = "\n"
        end
    end
    if #log_lines > 0 then
        local hour = math.floor(now / 3600000)
        local log = ARGV[9] .. ":" .. hour
        redis.call("APPEND", log, table.concat(log_lines))
        redis.call("EXPIRE", log, tonumber(ARGV[10]))
        redis.call("ZADD", KEYS[8], hour, hour)
    end
end

-- The history (`queue/history.rs` reads it): per minute for a day, per hour for 30 days, in a
-- bounded number of small hashes. A minute's counters live in the hash of its hour (field
-- "<minute of the hour>:<counter>"), kept until a day after the hour ends; an hour's in the
-- hash of its day ("<hour of the day>:<counter>"), kept until 31 days after the day ends. So a
-- queue holds at most 25 + 32 history keys, whatever its rate.
local history = ARGV[8]
local hour, day = math.floor(now / 3600000), math.floor(now / 86400000)
local minute_key = history .. ":m:" .. hour
local hour_key = history .. ":h:" .. day
local minute_of_hour = math.floor(now / 60000) % 60
local hour_of_day = hour % 24
for counter, count in pairs(counts) do
    if count > 0 then
        redis.call("HINCRBY", minute_key, minute_of_hour .. ":" .. counter, count)
        redis.call("HINCRBY", hour_key, hour_of_day .. ":" .. counter, count)
    end
end
redis.call("EXPIREAT", minute_key, (hour + 1) * 3600 + 86400)
redis.call("EXPIREAT", hour_key, (day + 1) * 86400 + 31 * 86400)
return results
