-- One step of a search through a queue's tasks by error text, or of a listing by state and
-- finish time, or of a search by arguments through the states that are not finished. (The
-- finished tasks' arguments are searched by the caller in the search logs `ack.lua` writes,
-- and its matches looked up by `search_pick.lua`: Redis turns payloads into replies at about
-- a microsecond each, too slow for a million.)
--
-- KEYS[1] active list  KEYS[2] delayed zset (ms)  KEYS[3] done set  KEYS[4] dead set
-- KEYS[5] finished zset (ms)  KEYS[6] workers zset  KEYS[7] data hash
-- KEYS[8] errors hash (id → last error)
-- ARGV[1] states wanted, each a letter: w(aiting) l (delayed) f(in flight) d(one) x (dead)
-- ARGV[2] since (ms, or "-inf")  ARGV[3] until (ms; "+inf": now, pinned by the first step and
--         returned, so later steps see the same range while tasks go on finishing)
-- ARGV[4] substring of the arguments ("": any), lower case (with an error text, or for the
--         states that are not finished)
-- ARGV[5] substring of the last error ("": none: a listing), lower case
-- ARGV[6] where this step starts: "" the first step, else what the previous step returned
-- ARGV[7] entries to examine in this step  ARGV[8] most matches to return
-- ARGV[9] meta key prefix  ARGV[10] in-flight key prefix
--
-- Both ways are bounded steps, so Redis is never held long:
-- - With an error text: the errors hash (only tasks that failed or were throttled are in it),
--   walked with HSCAN; the matches come in no order (the caller sorts them) and every match of
--   a step is returned (ARGV[8] does not apply). Matching ignores case and is literal.
-- - Without: the first step lists the states that are not finished (bounded by the queue's
--   cap), then the finished zset is walked newest first by rank (ZRANGE ... REV; the tasks
--   after `until` and before `since` are counted away with ZCOUNT, so a step costs its own
--   length whatever its offset), until ARGV[8] are listed or the range ends.
--
-- Returns {next ("" when nothing is left), examined, until (ms), then per match: id, status,
-- attempts, max_attempts, last_error, enqueued_at, run_at, done_at, payload, state} with ""
-- for a missing field.
local states, since = ARGV[1], ARGV[2]
local position, budget, want = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
local meta_prefix, inflight_prefix = ARGV[9], ARGV[10]

local upto = ARGV[3]
if upto == "+inf" then
    local clock = redis.call("TIME")
    upto = tostring(tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000))
end
local out = {"", 0, upto}

local function wanted(letter)
    return string.find(states, letter, 1, true) ~= nil
end

local args_needle, error_needle = ARGV[4], ARGV[5]

-- Whether `text` holds the lower-case `needle` ("" holds everywhere), ignoring case.
local function holds(text, needle)
    return needle == "" or (text and string.find(string.lower(text), needle, 1, true) ~= nil)
end

local function full()
    return (#out - 3) / 10 >= want
end

-- Appends task `id` in `state` with `payload`; its meta is read here, for matches only.
local function emit(id, state, payload)
    local m = redis.call("HMGET", meta_prefix .. ":" .. id, "status", "attempts",
        "max_attempts", "last_error", "enqueued_at", "run_at", "done_at")
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

local workers = nil
local function in_flight(id)
    if not workers then
        workers = redis.call("ZRANGE", KEYS[6], 0, -1)
    end
    for _, worker in ipairs(workers) do
        if redis.call("SISMEMBER", inflight_prefix .. ":" .. worker, id) == 1 then
            return true
        end
    end
    return false
end

if error_needle ~= "" then
    local cursor = position == "" and "0" or position
    local scanned = redis.call("HSCAN", KEYS[8], cursor, "COUNT", budget)
    local entries = scanned[2]
    out[1] = scanned[1] == "0" and "" or scanned[1]
    out[2] = #entries / 2
    local low, high = tonumber(since) or -math.huge, tonumber(upto)
    for i = 1, #entries, 2 do
        local id, text = entries[i], entries[i + 1]
        if holds(text, error_needle) then
            local state
            local finished_at = redis.call("ZSCORE", KEYS[5], id)
            if finished_at then
                local at = tonumber(finished_at)
                if at >= low and at <= high then
                    state = redis.call("SISMEMBER", KEYS[3], id) == 1 and "done" or "dead"
                end
            elseif redis.call("ZSCORE", KEYS[2], id) then
                state = "delayed"
            elseif in_flight(id) then
                state = "in_flight"
            else
                state = "waiting"
            end
            local letter = ({waiting = "w", delayed = "l", in_flight = "f", done = "d",
                dead = "x"})[state or ""]
            if letter and wanted(letter) then
                local payload = redis.call("HGET", KEYS[7], id)
                if holds(payload, args_needle) then
                    emit(id, state, payload)
                end
            end
        end
    end
    return out
end

-- Every task of a state that is not finished.
local function scan(ids, state)
    for from = 1, #ids, 1000 do
        local chunk = slice(ids, from)
        local payloads = redis.call("HMGET", KEYS[7], unpack(chunk))
        for i, id in ipairs(chunk) do
            if full() then
                return
            end
            if holds(payloads[i], args_needle) then
                emit(id, state, payloads[i])
            end
        end
    end
end

if position == "" then
    if wanted("f") then
        local held = {}
        for _, worker in ipairs(redis.call("ZRANGE", KEYS[6], 0, -1)) do
            for _, id in ipairs(redis.call("SMEMBERS", inflight_prefix .. ":" .. worker)) do
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
-- Finished tasks, newest first by rank: those after `upto` and before `since` are left out by
-- counting them (ZCOUNT is logarithmic), so a step costs its own length whatever its offset.
local start = tonumber(position) or 0
local above = redis.call("ZCOUNT", KEYS[5], "(" .. upto, "+inf")
local below = 0
if since ~= "-inf" then
    below = redis.call("ZCOUNT", KEYS[5], "-inf", "(" .. since)
end
local first = above + start
local last_in_range = redis.call("ZCARD", KEYS[5]) - below - 1
local last = math.min(first + budget - 1, last_in_range)
local ids = {}
if last >= first then
    ids = redis.call("ZRANGE", KEYS[5], first, last, "REV")
end
out[2] = #ids
for from = 1, #ids, 1000 do
    local chunk = slice(ids, from)
    local in_done = redis.call("SMISMEMBER", KEYS[3], unpack(chunk))
    for i, id in ipairs(chunk) do
        if full() then
            out[1] = tostring(start + from + i - 2)
            out[2] = from + i - 2
            return out
        end
        -- A finished task is done or else dead.
        local state = in_done[i] == 1 and "done" or "dead"
        if (state == "done" and wanted("d")) or (state == "dead" and wanted("x")) then
            emit(id, state, redis.call("HGET", KEYS[7], id))
        end
    end
end
if last < last_in_range then
    out[1] = tostring(start + #ids)
end
return out
