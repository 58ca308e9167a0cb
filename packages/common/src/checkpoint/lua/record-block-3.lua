--[[
  Receiver mode: the driver records a block its receiver reported in the block log, once. Only
  then is the block acknowledged and its offsets committed to the Kafka group: a block the log
  holds is processed by a later batch, whatever happens to its receiver.

  Input:
    KEYS[1]  epoch                 (fencing counter)
    KEYS[2]  blocks                (hash: block id -> block JSON: receiver, executor, wal entry, ranges, records, bytes)
    KEYS[3]  blocks:unallocated    (list: ids of recorded blocks no batch has taken yet, in the order received)
    ARGV[1]  caller's epoch
    ARGV[2]  block id
    ARGV[3]  block JSON
  Output:
    {'recorded'}
    {'known'}                  recorded before (a report repeated after a lost acknowledgement)
    {'fenced', currentEpoch}
]]
local rcall = redis.call

local current = rcall('GET', KEYS[1])
if current ~= ARGV[1] then
  return {'fenced', current}
end
if rcall('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 0 then
  return {'known'}
end
rcall('RPUSH', KEYS[3], ARGV[2])
return {'recorded'}
