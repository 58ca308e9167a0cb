--[[
  Renews the job's leader lease, only if the caller still owns it (compare-and-pexpire): a driver
  whose lease expired and was taken by another never extends the new owner's lease.

  Input:
    KEYS[1]    leader              (string: driver id of the lease owner, with a TTL)
    ARGV[1]    caller's driver id
    ARGV[2]    lease TTL in ms
  Output:
    {'ok'}                         still the owner; TTL reset to ARGV[2]
    {'lost', owner}                the lease expired (owner false) or another driver owns it
]]
local owner = redis.call('GET', KEYS[1])
if owner ~= ARGV[1] then
  return {'lost', owner}
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'ok'}
