--[[
  Receiver mode: commits the planned batch once each of its blocks is done (processed, or marked
  lost): records it in the history (shared with commit-batch-7.lua), removes its blocks from the
  block log and trims the write-ahead logs up to the entries processed.

  Input (numKeys = 7 + number of write-ahead log streams to trim):
    KEYS[1]    epoch               (fencing counter)
    KEYS[2]    blocks:planned      (hash: id, blocks (JSON list of ids), block:<id> -> 1)
    KEYS[3]    blocks:done         (hash: block id -> counts)
    KEYS[4]    blocks              (hash: block id -> block JSON)
    KEYS[5]    batch:committed
    KEYS[6]    batches             (stream: the history)
    KEYS[7]    totals              (hash)
    KEYS[8..]  write-ahead log streams (wal:<receiver>)
    ARGV[1]    caller's epoch
    ARGV[2]    batch id
    ARGV[3]    history length to keep (approximate MAXLEN)
    ARGV[4]    batch summary (JSON)
    ARGV[5]    records of the batch
    ARGV[6]    bytes of the batch
    ARGV[7..]  per stream of KEYS[8..]: the first entry id to keep (XTRIM MINID; entries before it are processed)
  Output:
    {'ok'}
    {'fenced', currentEpoch}
    {'not-planned', plannedId}
    {'incomplete', blockId}        a block of the batch is not done
]]
--- @include "batch-history"
local rcall = redis.call

local current = rcall('GET', KEYS[1])
if current ~= ARGV[1] then
  return {'fenced', current}
end
local planned = rcall('HGET', KEYS[2], 'id')
if planned ~= ARGV[2] then
  return {'not-planned', planned}
end
local ids = cjson.decode(rcall('HGET', KEYS[2], 'blocks'))
for _, id in ipairs(ids) do
  if rcall('HEXISTS', KEYS[3], id) == 0 then
    return {'incomplete', id}
  end
end

recordBatchHistory(KEYS[5], KEYS[7], KEYS[6], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
for _, id in ipairs(ids) do
  rcall('HDEL', KEYS[3], id)
  rcall('HDEL', KEYS[4], id)
end
rcall('DEL', KEYS[2])
for i = 8, #KEYS do
  rcall('XTRIM', KEYS[i], 'MINID', ARGV[i - 1])
end
return {'ok'}
