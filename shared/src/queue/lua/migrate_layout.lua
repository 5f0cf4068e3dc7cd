-- Moves keys of one queue from the layout before the hash tag (`{prefix}:q:{queue}:…`) to the
-- current one (`{{prefix}:q:{queue}}:…`), merging into what the current layout holds already
-- (tasks enqueued by upgraded producers before the queue's worker started). Only ever run on a
-- single Redis: the old layout never worked on a cluster. The old keys come from a SCAN, so this
-- script is passed them in ARGV, not KEYS.
--
-- ARGV[1] old namespace  ARGV[2] new namespace  ARGV[3..] old keys of that queue
-- Returns how many old keys it moved or dropped.
local old, new = ARGV[1], ARGV[2]
local active = new .. ":active"

-- Prepends `ids` (in order) to the list `dst`, 1,000 at a time, last chunk first.
local function prepend(dst, ids)
    local last = #ids
    while last >= 1 do
        local first = math.max(1, last - 999)
        local chunk = {}
        for j = last, first, -1 do
            chunk[#chunk + 1] = ids[j]
        end
        redis.call("LPUSH", dst, unpack(chunk))
        last = first - 1
    end
end

local moved = 0
for i = 3, #ARGV do
    local key = ARGV[i]
    local rest = string.sub(key, #old + 1)
    local target = new .. rest
    local kind = redis.call("TYPE", key).ok
    if kind == "none" or string.sub(key, 1, #old) ~= old then
        -- gone meanwhile (another replica migrated it), or not this queue's
    elseif rest == ":workers" or string.find(rest, "^:workers:") or rest == ":signal"
        or rest == ":scheduled" then
        -- The registry of the old release's workers, all stopped by the upgrade.
        redis.call("DEL", key)
        moved = moved + 1
    elseif string.find(rest, "^:inflight:") then
        -- Held by a worker of the old release, which is gone: back to the head of the queue.
        prepend(active, redis.call("SMEMBERS", key))
        redis.call("DEL", key)
        moved = moved + 1
    elseif kind == "list" then
        -- The active list: the old tasks were there first, so they run first.
        prepend(target, redis.call("LRANGE", key, 0, -1))
        redis.call("DEL", key)
        moved = moved + 1
    elseif kind == "zset" then
        redis.call("ZUNIONSTORE", target, 2, target, key, "AGGREGATE", "MIN")
        redis.call("DEL", key)
        moved = moved + 1
    elseif kind == "set" then
        redis.call("SUNIONSTORE", target, target, key)
        redis.call("DEL", key)
        moved = moved + 1
    elseif rest == ":data" then
        local fields = redis.call("HGETALL", key)
        for j = 1, #fields, 2 do
            redis.call("HSETNX", target, fields[j], fields[j + 1])
        end
        redis.call("DEL", key)
        moved = moved + 1
    else
        -- A task's meta hash, an idempotency key, a tick claim: one per name, its TTL kept.
        -- A name taken in the new layout already keeps the newer one.
        if redis.call("EXISTS", target) == 0 then
            redis.call("RENAME", key, target)
        else
            redis.call("DEL", key)
        end
        moved = moved + 1
    end
end
return moved
