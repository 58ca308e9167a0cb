--[[
  Persists the plan of a batch before any task is sent (Structured Streaming's offset log), and
  records the starting offset of partitions that have no checkpoint yet, so that a restart never
  re-resolves `latest` and every task commit finds its `from` in place.

  Input:
    KEYS[1]    epoch               (fencing counter)
    KEYS[2]    batch:planned       (hash: id, epoch, plan)
    KEYS[3]    offsets             (hash: topic:partition -> next offset)
    ARGV[1]    caller's epoch
    ARGV[2]    batch id
    ARGV[3]    plan (JSON: id, epoch, time, ranges)
    ARGV[4..]  pairs: offsets field, from offset (set only where the field is absent)
  Output:
    {'ok'}
    {'fenced', currentEpoch}
]]
local rcall = redis.call

local current = rcall('GET', KEYS[1])
if current ~= ARGV[1] then
  return {'fenced', current}
end

rcall('HSET', KEYS[2], 'id', ARGV[2], 'epoch', ARGV[1], 'plan', ARGV[3])
for i = 4, #ARGV, 2 do
  rcall('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1])
end
return {'ok'}
