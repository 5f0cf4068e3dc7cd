-- Take the next tasks off the active list for one worker, in the reply shape of apalis-redis's
-- fetch_next.lua ({payloads}, {{id, meta field, value, ...}, ...}) so its decoder reads it.
-- apalis-redis rejects the whole batch when one task's record cannot be read (a meta hash lost
-- to eviction, say), its run ends, release puts the batch back at the head and the queue is
-- stuck. Here each task is checked first: one whose id, payload or meta cannot be read is dead
-- with the reason, and the rest of the batch runs. Each task's meta is read in one HMGET of the
-- fields checked here and decoded by apalis (not HGETALL: the reply is a third of the size).
--
-- KEYS[1] workers zset  KEYS[2] active list  KEYS[3] this worker's in-flight set
-- KEYS[4] data hash  KEYS[5] signal list  KEYS[6] dead set  KEYS[7] finished zset (ms)
-- KEYS[8] the queue's paused flag  KEYS[9] errors hash (id → last error)
-- ARGV[1] meta key prefix  ARGV[2] batch size (<= 1000)  ARGV[3] worker name
if not redis.call("ZSCORE", KEYS[1], ARGV[3]) then
    return redis.error_reply("Cant fetch next: worker not registered")
end
-- A paused queue gives nothing to any replica; its tasks wait where they are.
if redis.call("EXISTS", KEYS[8]) == 1 then
    return {{}, {}}
end
local batch = tonumber(ARGV[2])
local ids = redis.call("LRANGE", KEYS[2], 0, batch - 1)
if #ids < batch then
    redis.call("DEL", KEYS[5])
end
if #ids == 0 then
    return {{}, {}}
end
redis.call("LTRIM", KEYS[2], #ids, -1)

local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local statuses = {Pending = true, Queued = true, Running = true, Done = true, Failed = true,
    Killed = true}
local payloads, metas, taken = {}, {}, {}
local all_payloads = redis.call("HMGET", KEYS[4], unpack(ids))
for i, id in ipairs(ids) do
    local meta_key = ARGV[1] .. ":" .. id
    local payload = all_payloads[i]
    -- Only what is checked here and what apalis's decoder reads (the rest of the meta is
    -- coinbeat's, read by ack.lua and lookups).
    local m = redis.call("HMGET", meta_key, "attempts", "max_attempts", "status", "idempotency_key")
    local attempts, max_attempts, status, idem = m[1], m[2], m[3], m[4]
    local reason = nil
    if #id ~= 26 or not string.match(id, "^[0-9A-HJKMNP-TV-Z]+$") then
        reason = "its id is not a task id"
    elseif not payload then
        reason = "its payload is missing"
    elseif not tonumber(attempts or "") or not tonumber(max_attempts or "") then
        if redis.call("EXISTS", meta_key) == 0 then
            reason = "its meta record is missing"
        else
            reason = "its meta record has no attempts or max_attempts"
        end
    elseif not statuses[status or ""] then
        reason = "its meta record has no known status"
    end
    if reason then
        redis.call("SADD", KEYS[6], id)
        redis.call("ZADD", KEYS[7], now, id)
        redis.call("HSET", meta_key, "status", "Killed", "done_at", now,
            "last_error", "unreadable task: " .. reason)
        redis.call("HSET", KEYS[9], id, "unreadable task: " .. reason)
        if not tonumber(attempts or "") then
            redis.call("HSET", meta_key, "attempts", 0)
        end
        if not tonumber(max_attempts or "") then
            redis.call("HSET", meta_key, "max_attempts", 1)
        end
    else
        taken[#taken + 1] = id
        payloads[#payloads + 1] = payload
        if idem then
            metas[#metas + 1] = {id, "attempts", attempts, "max_attempts", max_attempts,
                "status", status, "idempotency_key", idem}
        else
            metas[#metas + 1] = {id, "attempts", attempts, "max_attempts", max_attempts,
                "status", status}
        end
    end
end
if #taken > 0 then
    redis.call("SADD", KEYS[3], unpack(taken))
end
return {payloads, metas}
