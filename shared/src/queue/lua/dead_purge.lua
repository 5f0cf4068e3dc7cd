-- Delete dead tasks' records: payload, meta, dead-set and finished-index entries, and the
-- idempotency key when it still names the task (so the same work can be submitted again).
--
-- KEYS[1] dead set  KEYS[2] finished zset  KEYS[3] data hash  KEYS[4] errors hash
-- ARGV[1] meta key prefix  ARGV[2] idempotency key prefix  ARGV[3] mode: "one" | "all"
-- ARGV[4] the task id (mode "one") or the most tasks to delete (mode "all")
-- Returns {"ok", deleted}, {"unknown"} or {"not_dead"}.
local prefix = ARGV[1]
local ids
if ARGV[3] == "one" then
    local id = ARGV[4]
    if redis.call("SISMEMBER", KEYS[1], id) == 0 then
        if redis.call("EXISTS", prefix .. ":" .. id) == 0 then
            return {"unknown"}
        end
        return {"not_dead"}
    end
    ids = {id}
else
    ids = redis.call("SRANDMEMBER", KEYS[1], tonumber(ARGV[4]))
end
for _, id in ipairs(ids) do
    local meta = prefix .. ":" .. id
    local idem = redis.call("HGET", meta, "idempotency_key")
    if idem and #idem > 0 then
        local key = ARGV[2] .. ":" .. idem
        if redis.call("GET", key) == id then
            redis.call("DEL", key)
        end
    end
    redis.call("SREM", KEYS[1], id)
    redis.call("ZREM", KEYS[2], id)
    redis.call("HDEL", KEYS[3], id)
    redis.call("HDEL", KEYS[4], id)
    redis.call("DEL", meta)
end
return {"ok", #ids}
