--[[
  Receiver mode: applies the sink writes of one block of the planned batch and marks the block
  done, in one atomic step, once per block: a retried or repeated block task changes nothing. The
  driver marks a block whose records are gone (its receiver's executor died, no write-ahead log)
  done as 'lost', with no writes.

  Input (numKeys = 4 + number of distinct sink keys):
    KEYS[1]    epoch               (fencing counter)
    KEYS[2]    blocks:planned      (hash: id, block:<id> -> 1, ...)
    KEYS[3]    blocks:done         (hash: block id -> "<records> <bytes>" or "lost <records> <bytes>")
    KEYS[4]    (unused, reserved: keeps the sink keys from KEYS[5] on)
    KEYS[5..]  sink keys           (same hash tag as the job)
    ARGV[1]    caller's epoch
    ARGV[2]    batch id
    ARGV[3]    block id
    ARGV[4]    mode                'commit' | 'lost'
    ARGV[5]    records of the block
    ARGV[6]    key and value bytes of the block
    ARGV[7]    number of writes
    ARGV[8..]  writes, 4 values each: op, key index into KEYS, arg1, arg2 (see sink-writes.lua)
  Output:
    {'committed'}
    {'skipped'}                    the block is done already; nothing applied
    {'fenced', currentEpoch}
    {'outside-plan', plannedId}    the block is not in the planned batch
    {'invalid', reason}            a write cannot be applied; nothing applied
]]
--- @include "sink-writes"
local rcall = redis.call

local current = rcall('GET', KEYS[1])
if current ~= ARGV[1] then
  return {'fenced', current}
end
local plannedId = rcall('HGET', KEYS[2], 'id')
if plannedId ~= ARGV[2] or not rcall('HGET', KEYS[2], 'block:' .. ARGV[3]) then
  return {'outside-plan', plannedId}
end
if rcall('HEXISTS', KEYS[3], ARGV[3]) == 1 then
  return {'skipped'}
end
local writes = sinkWritesFromArgv(8, 7 + 4 * tonumber(ARGV[7]))
local invalid = checkSinkWrites(writes, 5)
if invalid then
  return {'invalid', invalid}
end
applySinkWrites(writes)
local counts = ARGV[5] .. ' ' .. ARGV[6]
if ARGV[4] == 'lost' then counts = 'lost ' .. counts end
rcall('HSET', KEYS[3], ARGV[3], counts)
return {'committed'}
