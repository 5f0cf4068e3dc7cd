-- Delete worker metadata hashes whose worker is no longer in the registry. apalis writes a
-- worker's metadata and its registry entry in one script (register_worker.lua), and its orphan
-- recovery removes the entry but leaves the metadata (reenqueue_orphaned.lua), so a hash with
-- no entry belongs to an incarnation that is gone for good.
--
-- KEYS[1] workers zset
-- ARGV[1] metadata key prefix  ARGV[2..] metadata keys found by SCAN
-- Returns the number deleted.
local prefix = ARGV[1] .. ":"
local deleted = 0
for i = 2, #ARGV do
    local key = ARGV[i]
    if string.sub(key, 1, #prefix) == prefix then
        local worker = string.sub(key, #prefix + 1)
        if not redis.call("ZSCORE", KEYS[1], worker) then
            deleted = deleted + redis.call("DEL", key)
        end
    end
end
return deleted
