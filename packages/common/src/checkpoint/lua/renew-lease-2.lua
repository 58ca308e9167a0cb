--[[
  Renews the job's leader lease, only if the caller still owns it (compare-and-pexpire): a driver
  whose lease expired and was taken by another never extends the new owner's lease. With the lease,
  it writes where the leader is reached, with the same TTL, so that both lapse together.

  Input:
    KEYS[1]    leader              (string: driver id of the lease owner, with a TTL)
    KEYS[2]    leader:info         (string: JSON {id, httpUrl, grpcAddress, epoch, since}, with the lease's TTL)
    ARGV[1]    caller's driver id
    ARGV[2]    lease TTL in ms
    ARGV[3]    the caller's leader info JSON, or '' while it has none to publish (KEYS[2] left alone)
  Output:
    {'ok'}                         still the owner; TTL reset to ARGV[2]
    {'lost', owner}                the lease expired (owner false) or another driver owns it
]]
local owner = redis.call('GET', KEYS[1])
if owner ~= ARGV[1] then
  return {'lost', owner}
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
end
return {'ok'}
