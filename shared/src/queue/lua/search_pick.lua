-- The tasks a search by arguments matched (the caller read the payloads with HSCAN): each one's
-- state, kept when it is one of the states asked for and, finished, within the time range;
-- with what a search answers of it.
--
-- KEYS[1] delayed zset (ms)  KEYS[2] done set  KEYS[3] finished zset (ms)  KEYS[4] workers zset
-- KEYS[5] data hash
-- ARGV[1] states wanted, each a letter: w(aiting) l (delayed) f(in flight) d(one) x (dead)
-- ARGV[2] since (ms, or "-inf")  ARGV[3] until (ms, or "+inf": now)
-- ARGV[4] meta key prefix  ARGV[5] in-flight key prefix  ARGV[6...] the task ids
--
-- Returns {until (ms), then per task kept: id, status, attempts, max_attempts, last_error,
-- enqueued_at, run_at, done_at, payload, state} with "" for a missing field. An id whose
-- payload is gone (pruned since it was read) is left out.
local states, meta_prefix, inflight_prefix = ARGV[1], ARGV[4], ARGV[5]
local upto = ARGV[3]
if upto == "+inf" then
    local clock = redis.call("TIME")
    upto = tostring(tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000))
end
local low, high = tonumber(ARGV[2]) or -math.huge, tonumber(upto)
local letters = {waiting = "w", delayed = "l", in_flight = "f", done = "d", dead = "x"}
local workers = redis.call("ZRANGE", KEYS[4], 0, -1)

local out = {upto}
for i = 6, #ARGV do
    local id = ARGV[i]
    local state
    local finished_at = redis.call("ZSCORE", KEYS[3], id)
    if finished_at then
        local at = tonumber(finished_at)
        if at >= low and at <= high then
            state = redis.call("SISMEMBER", KEYS[2], id) == 1 and "done" or "dead"
        end
    elseif redis.call("ZSCORE", KEYS[1], id) then
        state = "delayed"
    else
        state = "waiting"
        for _, worker in ipairs(workers) do
            if redis.call("SISMEMBER", inflight_prefix .. ":" .. worker, id) == 1 then
                state = "in_flight"
                break
            end
        end
    end
    local payload = redis.call("HGET", KEYS[5], id)
    if state and payload and string.find(states, letters[state], 1, true) then
        local m = redis.call("HMGET", meta_prefix .. ":" .. id, "status", "attempts",
            "max_attempts", "last_error", "enqueued_at", "run_at", "done_at")
        out[#out + 1] = id
        for j = 1, 7 do
            out[#out + 1] = m[j] or ""
        end
        out[#out + 1] = payload
        out[#out + 1] = state
    end
end
return out
