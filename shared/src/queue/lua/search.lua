-- One step of a search through a queue's tasks: which match a substring of their arguments
-- and/or of their last error, in the states asked for, finished within a time range.
--
-- KEYS[1] active list  KEYS[2] delayed zset (ms)  KEYS[3] done set  KEYS[4] dead set
-- KEYS[5] finished zset (ms)  KEYS[6] workers zset  KEYS[7] data hash
-- ARGV[1] states wanted, each a letter: w(aiting) l (delayed) f(in flight) d(one) x (dead)
-- ARGV[2] since (ms, or "-inf")  ARGV[3] until (ms, or "+inf"): finish time, done and dead only
-- ARGV[4] substring of the arguments ("": any), lower case
-- ARGV[5] substring of the last error ("": any), lower case
-- ARGV[6] where this step starts in the finished zset, newest first (0: also scan the states
--         that are not finished, which are bounded by the queue's cap, before it)
-- ARGV[7] finished tasks to examine in this step  ARGV[8] most matches to return
-- ARGV[9] meta key prefix  ARGV[10] in-flight key prefix
--
-- Matching is case-insensitive and literal (no patterns). A step examines at most ARGV[7]
-- finished tasks (one HMGET of their payloads per 1,000), so Redis is never held long; the
-- caller steps on from the position returned until it has enough or the range is done.
--
-- Returns {next position (-1: nothing left), examined, then per match: id, status, attempts,
-- max_attempts, last_error, enqueued_at, run_at, done_at, payload, state} with "" for a
-- missing field.
local states, since, upto = ARGV[1], ARGV[2], ARGV[3]
local args_needle, error_needle = ARGV[4], ARGV[5]
local position, budget, want = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local meta_prefix = ARGV[9]
local out = {-1, 0}

local function wanted(letter)
    return string.find(states, letter, 1, true) ~= nil
end

local function full()
    return (#out - 2) / 10 >= want
end

local function contains(text, needle)
    return needle == "" or (text and string.find(string.lower(text), needle, 1, true) ~= nil)
end

-- Appends task `id` (in `state`, with `payload`) when it matches. The meta hash is read only
-- for tasks whose arguments matched.
local function match(id, state, payload)
    if not contains(payload, args_needle) then
        return
    end
    local m = redis.call("HMGET", meta_prefix .. ":" .. id, "status", "attempts",
        "max_attempts", "last_error", "enqueued_at", "run_at", "done_at")
    if not contains(m[4], error_needle) then
        return
    end
    out[#out + 1] = id
    for j = 1, 7 do
        out[#out + 1] = m[j] or ""
    end
    out[#out + 1] = payload or ""
    out[#out + 1] = state
end

local function slice(ids, from)
    local chunk = {}
    for i = from, math.min(from + 999, #ids) do
        chunk[#chunk + 1] = ids[i]
    end
    return chunk
end

-- Every task of a state that is not finished (bounded by the queue's cap).
local function scan(ids, state)
    for from = 1, #ids, 1000 do
        local chunk = slice(ids, from)
        local payloads = redis.call("HMGET", KEYS[7], unpack(chunk))
        for i, id in ipairs(chunk) do
            if full() then
                return
            end
            match(id, state, payloads[i])
        end
    end
end

if position == 0 then
    if wanted("f") then
        local held = {}
        for _, worker in ipairs(redis.call("ZRANGE", KEYS[6], 0, -1)) do
            for _, id in ipairs(redis.call("SMEMBERS", ARGV[10] .. ":" .. worker)) do
                held[#held + 1] = id
            end
        end
        table.sort(held)
        scan(held, "in_flight")
    end
    if wanted("w") then
        scan(redis.call("LRANGE", KEYS[1], 0, -1), "waiting")
    end
    if wanted("l") then
        scan(redis.call("ZRANGE", KEYS[2], 0, -1), "delayed")
    end
end

if full() or not (wanted("d") or wanted("x")) then
    return out
end
-- Finished tasks, newest first, one step of them.
local ids = redis.call("ZREVRANGEBYSCORE", KEYS[5], upto, since, "LIMIT", position, budget)
out[2] = #ids
for from = 1, #ids, 1000 do
    local chunk = slice(ids, from)
    local in_done = redis.call("SMISMEMBER", KEYS[3], unpack(chunk))
    local payloads = redis.call("HMGET", KEYS[7], unpack(chunk))
    for i, id in ipairs(chunk) do
        if full() then
            out[1] = position + from + i - 2
            return out
        end
        -- A finished task is done or else dead.
        local state = in_done[i] == 1 and "done" or "dead"
        if (state == "done" and wanted("d")) or (state == "dead" and wanted("x")) then
            match(id, state, payloads[i])
        end
    end
end
if #ids == budget then
    out[1] = position + #ids
end
return out
