-- One attempt to take `cost` permits from a limiter, on Redis's clock, atomically, in the order
-- the callers arrived: a caller that cannot be served at once takes a ticket in the limiter's
-- line and is served only when the permits free now cover its own cost and the costs of every
-- ticket ahead of it.
--
-- KEYS[1] blocked-until STRING (unix µs)   KEYS[2] metrics HASH   KEYS[3] log sums HASH
-- KEYS[4] line ZSET (score = arrival, unix µs; member = "<ticket>:<cost>")
-- KEYS[5] leases ZSET (same members; score = unix µs after which the ticket is dropped)
-- KEYS[6..] one key per window: a ZSET log (score = grant time in µs, member = "<nonce>:<cost>")
--           or a HASH of buckets (field = bucket index, value = cost granted in it)
-- ARGV[1] cost   ARGV[2] ms the caller has waited so far (0 on its first attempt)
-- ARGV[3] ms the caller may still wait   ARGV[4] guard (ms)   ARGV[5] nonce (unique per attempt)
-- ARGV[6] ticket (unique per acquisition)   ARGV[7] arrival (unix µs; 0 on the first attempt)
-- ARGV[8] longest sleep between two attempts (ms)   ARGV[9] lease margin (ms)
-- ARGV[10] grace (ms): how late for its turn a waiter may be before those behind it go first
-- ARGV[11..] groups of 3 per window, in KEYS order: limit, period (ms), bucket width (ms, 0 = log)
--
-- A grant at time t counts against a window until t + period + guard: the guard covers the
-- jitter between Redis's clock and the moment the request reaches the upstream. A bucket counts
-- its grants as if made at the bucket's end, so it can only over-count (never over-grant).
--
-- The line: a caller's ticket is scored by its arrival (Redis's clock at its first attempt, kept
-- by the caller and sent again, so a ticket dropped while its caller still waits comes back at
-- its place). Each attempt that does not grant renews the ticket's lease for the sleep it tells
-- the caller plus a margin; a caller that died (or gave up without a word) stops renewing it,
-- and its ticket is dropped once the lease ends. A ticket whose caller is late for the turn it
-- was told by more than the grace (a stalled or dead process) does not count ahead of the
-- others meanwhile, so it holds the line up for the grace at most; it counts again, at its
-- place, once its caller is back. A grant or a denial removes the ticket at once.
--
-- Returns {1, 0, now_us, arrival_us} granted; {0, wait_ms, now_us, arrival_us} not yet, try
-- again in wait_ms (the caller's own turn as far as the line can tell: it sleeps at most
-- ARGV[8] of it); {2, wait_ms, now_us, arrival_us} not within the caller's remaining wait
-- (counted as a denial, the ticket is dropped).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local waited_ms = tonumber(ARGV[2])
local budget = tonumber(ARGV[3]) * 1000
local guard = tonumber(ARGV[4]) * 1000
local nonce = ARGV[5]
local ticket = ARGV[6] .. ':' .. ARGV[1]
local arrival = tonumber(ARGV[7])
local poll = tonumber(ARGV[8]) * 1000
local margin = tonumber(ARGV[9]) * 1000
local grace = tonumber(ARGV[10]) * 1000
local sums = KEYS[3]
local line = KEYS[4]
local leases = KEYS[5]
local FIRST_WINDOW_KEY = 6

local function cost_of(member)
    return tonumber(string.match(member, ':(%d+)$')) or 1
end

local function log_total(key)
    local total = 0
    for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
        total = total + cost_of(m)
    end
    return total
end

-- Tickets whose caller stopped renewing them leave the line (a bounded step per attempt).
local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 100)
if #expired > 0 then
    redis.call('ZREM', line, unpack(expired))
    redis.call('ZREM', leases, unpack(expired))
end

local block = 0
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if blocked > now then
    block = blocked - now
end

-- Each window: the permits it holds now (`used`), and `frees(k)`, when the k-th of them (oldest
-- first) leaves it.
local windows = {}
local room = math.huge
for i = 1, #KEYS - (FIRST_WINDOW_KEY - 1) do
    local a = 10 + (i - 1) * 3
    local w = {
        key = KEYS[FIRST_WINDOW_KEY - 1 + i],
        limit = tonumber(ARGV[a + 1]),
        field = ARGV[a + 2],
        span = tonumber(ARGV[a + 2]) * 1000 + guard,
        width = tonumber(ARGV[a + 3]) * 1000,
        used = 0,
    }
    if w.width == 0 then
        -- Sliding log: drop grants that left the window, keeping the running sum in step.
        local horizon = now - w.span
        local gone = redis.call('ZRANGEBYSCORE', w.key, '-inf', horizon)
        local stored = tonumber(redis.call('HGET', sums, w.field) or '')
        local sum = stored
        if #gone > 0 then
            redis.call('ZREMRANGEBYSCORE', w.key, '-inf', horizon)
            if sum then
                for _, m in ipairs(gone) do
                    sum = sum - cost_of(m)
                end
            end
        end
        if redis.call('ZCARD', w.key) == 0 then
            sum = 0
        elseif sum == nil or sum < 0 then
            sum = log_total(w.key) -- the sum was lost or is off: count again
        end
        if sum > 0 and sum ~= stored then
            -- Written back whether or not this attempt is granted: the grants just dropped are
            -- gone from the log, and a later attempt must not count them again (an attempt
            -- that waits, behind the line, would otherwise leave the sum too high for good).
            redis.call('HSET', sums, w.field, sum)
            if stored == nil then
                redis.call('PEXPIRE', sums, math.ceil(w.span / 1000))
            end
        end
        w.used = sum
        w.period_span = w.span
        w.frees = function(k)
            -- Each entry holds at least 1 permit, so the oldest k entries free k permits.
            local oldest = redis.call('ZRANGE', w.key, 0, k - 1, 'WITHSCORES')
            local freed = 0
            for j = 1, #oldest, 2 do
                freed = freed + cost_of(oldest[j])
                if freed >= k then
                    return tonumber(oldest[j + 1]) + w.span
                end
            end
            return now + w.span
        end
    else
        -- Buckets: a grant in bucket b counts until (b + 1) * width + span.
        local flat = redis.call('HGETALL', w.key)
        local live = {}
        for j = 1, #flat, 2 do
            local ends = (tonumber(flat[j]) + 1) * w.width + w.span
            if ends <= now then
                redis.call('HDEL', w.key, flat[j])
            else
                local c = tonumber(flat[j + 1])
                w.used = w.used + c
                live[#live + 1] = { ends, c }
            end
        end
        w.period_span = w.span + w.width
        w.frees = function(k)
            table.sort(live, function(x, y) return x[1] < y[1] end)
            local freed = 0
            for _, e in ipairs(live) do
                freed = freed + e[2]
                if freed >= k then
                    return e[1]
                end
            end
            return now + w.period_span
        end
    end
    if w.limit - w.used < room then
        room = w.limit - w.used
    end
    windows[#windows + 1] = w
end

-- When the window has room for `need` more permits. Past the permits it holds now, the permits
-- that free are those granted meanwhile to the tickets ahead, each a period after it was
-- granted: the k-th frees a period after the (k - limit)-th.
local function room_at(w, need)
    local k = w.used + need - w.limit
    if k <= 0 then
        return now
    end
    local later = 0
    if k > w.used then
        local periods = math.ceil((k - w.used) / w.limit)
        k = k - periods * w.limit
        later = periods * w.period_span
    end
    if k <= 0 then
        return now + later
    end
    return w.frees(k) + later
end

local function grant()
    local sums_ttl = 0
    for _, w in ipairs(windows) do
        if w.width == 0 then
            redis.call('ZADD', w.key, now, nonce .. ':' .. cost)
            redis.call('HSET', sums, w.field, w.used + cost)
            local ttl = math.ceil(w.span / 1000)
            redis.call('PEXPIRE', w.key, ttl)
            if ttl > sums_ttl then
                sums_ttl = ttl
            end
        else
            redis.call('HINCRBY', w.key, math.floor(now / w.width), cost)
            redis.call('PEXPIRE', w.key, math.ceil((w.span + w.width) / 1000))
        end
    end
    if sums_ttl > 0 then
        redis.call('PEXPIRE', sums, sums_ttl)
    end
    redis.call('HINCRBY', KEYS[2], 'acquired', 1)
    redis.call('HINCRBY', KEYS[2], 'permits', cost)
    if waited_ms > 0 then
        redis.call('HINCRBY', KEYS[2], 'waited', 1)
        redis.call('HINCRBY', KEYS[2], 'wait_ms', waited_ms)
    end
end

local function leave()
    redis.call('ZREM', line, ticket)
    redis.call('ZREM', leases, ticket)
end

if arrival == 0 then
    arrival = now
end

-- No line and room now: granted without touching the line (the common, uncontended case).
if block == 0 and cost <= room and redis.call('ZCARD', line) == 0 then
    grant()
    return { 1, 0, now, arrival }
end

-- Take (or keep, or take back) this caller's place, then add up the costs ahead of it. Only
-- the first 1,000 tickets are read; a line longer than that is counted at their mean cost.
if not redis.call('ZSCORE', line, ticket) then
    redis.call('ZADD', line, arrival, ticket)
end
local rank = redis.call('ZRANK', line, ticket)
local ahead = 0
if rank > 0 then
    -- Late tickets: due (their lease's end less the margin) more than the grace ago.
    local late = {}
    local late_lease = now + margin - grace
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', late_lease, 'LIMIT', 0, 1000)) do
        late[m] = true
    end
    local read = math.min(rank, 1000)
    for _, m in ipairs(redis.call('ZRANGE', line, 0, read - 1)) do
        if not late[m] then
            ahead = ahead + cost_of(m)
        end
    end
    if rank > read then
        ahead = ahead + math.ceil(ahead / read * (rank - read))
    end
end
local need = ahead + cost

if block == 0 and need <= room then
    leave()
    grant()
    return { 1, 0, now, arrival }
end

local wait = block
for _, w in ipairs(windows) do
    local turn = room_at(w, need) - now
    if turn > wait then
        wait = turn
    end
end
if wait < 1000 then
    wait = 1000 -- a permit is due now, but tickets ahead take it first: look again soon
end
local wait_ms = math.ceil(wait / 1000)
if wait > budget then
    leave()
    redis.call('HINCRBY', KEYS[2], 'denied', 1)
    return { 2, wait_ms, now, arrival }
end

local lease = math.min(wait, poll) + margin
redis.call('ZADD', leases, now + lease, ticket)
local lease_ms = math.ceil(lease / 1000)
for _, key in ipairs({ line, leases }) do
    if redis.call('PTTL', key) < lease_ms then
        redis.call('PEXPIRE', key, lease_ms)
    end
end
return { 0, wait_ms, now, arrival }
