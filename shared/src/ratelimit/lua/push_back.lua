-- The upstream said "stop" (429 + Retry-After, Binance 418, Etherscan "Max rate limit
-- reached"): block every acquisition on this limiter until now + ARGV[1] ms on Redis's clock,
-- or until the block already in place if that ends later.
--
-- KEYS[1] blocked-until STRING (unix µs, expires when the block ends)   KEYS[2] metrics HASH
-- ARGV[1] how long to block (ms)
--
-- Returns the blocked-until instant (unix µs) now in force; `now` when nothing blocks.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local blocked_until = now + tonumber(ARGV[1]) * 1000
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if current > blocked_until then
    blocked_until = current
end
if blocked_until > now then
    redis.call('SET', KEYS[1], blocked_until, 'PX', math.ceil((blocked_until - now) / 1000))
end
redis.call('HINCRBY', KEYS[2], 'push_backs', 1)
return blocked_until
