--[[
  Receiver mode: allocates every recorded, unallocated block to the next batch and stores that
  batch as planned (before any block task is sent), so that a new driver runs the same batch again.

  Input:
    KEYS[1]  epoch                 (fencing counter)
    KEYS[2]  blocks:planned        (hash: id, epoch, time, blocks (JSON list of ids), block:<id> -> 1)
    KEYS[3]  blocks:unallocated    (list of block ids)
    KEYS[4]  batch:committed       (id of the last committed batch)
    ARGV[1]  caller's epoch
    ARGV[2]  batch id
    ARGV[3]  batch time (ms)
  Output:
    {'allocated', blockId...}      the batch's blocks, in the order received (none for an empty batch)
    {'fenced', currentEpoch}
    {'planned', plannedId}         a batch is planned and not committed: it must run (again) first
    {'not-next', committedId}      the batch id does not follow the last committed one
]]
local rcall = redis.call

local current = rcall('GET', KEYS[1])
if current ~= ARGV[1] then
  return {'fenced', current}
end
local planned = rcall('HGET', KEYS[2], 'id')
if planned then
  return {'planned', planned}
end
local committed = rcall('GET', KEYS[4]) or '0'
if tonumber(committed) + 1 ~= tonumber(ARGV[2]) then
  return {'not-next', committed}
end

local ids = rcall('LRANGE', KEYS[3], 0, -1)
rcall('DEL', KEYS[3])
rcall('HSET', KEYS[2], 'id', ARGV[2], 'epoch', ARGV[1], 'time', ARGV[3], 'blocks', cjson.encode(ids))
for _, id in ipairs(ids) do
  rcall('HSET', KEYS[2], 'block:' .. id, '1')
end
local reply = {'allocated'}
for _, id in ipairs(ids) do reply[#reply + 1] = id end
return reply
