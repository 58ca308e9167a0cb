import { asRedisRefusal } from '../checkpoint/refusals';
import { commandsCalledBy, scriptSources } from '../checkpoint/scripts';
import { isSluiceError } from '../errors';

/** Redis's replies refusing a command to an ACL user (7.0 and 7.2 wordings) become coded errors naming user, command and keys. */

const evalsha = { name: 'evalsha', args: ['0123abcd', '3', 'sluice:{j}:offsets', 'sluice:{j}:epoch', 'sluice:{j}:out:audit', 'arg'] };

function refusal(reply: string, command: { name: string; args: unknown[] } = evalsha): string {
  const e = asRedisRefusal(new Error(reply), 'app', command as never);
  expect(isSluiceError(e)).toBe(true);
  return (e as Error).message;
}

describe('asRedisRefusal', () => {
  it('a refused command names the user and the command, and what to grant', () => {
    expect(refusal("NOPERM this user has no permissions to run the 'evalsha' command")).toBe(
      "[SLUICE_REDIS_NOPERM] Redis user 'app' may not run EVALSHA: grant it, e.g. ACL SETUSER app +evalsha " +
        "[Redis: NOPERM this user has no permissions to run the 'evalsha' command]"
    );
    expect(
      refusal("NOPERM User app has no permissions to run the 'hset' command", { name: 'hset', args: ['sluice:{j}:x', 'f', 'v'] })
    ).toMatch(/^\[SLUICE_REDIS_NOPERM\] Redis user 'app' may not run HSET: /);
  });

  it('refused keys name the keys of the call and the pattern that covers the job', () => {
    expect(refusal('NOPERM this user has no permissions to access one of the keys used as arguments')).toBe(
      "[SLUICE_REDIS_NOPERM] Redis user 'app' may not read and write one of sluice:{j}:offsets, sluice:{j}:epoch, sluice:{j}:out:audit (EVALSHA): " +
        'its key patterns must include ~sluice:{j}:*, e.g. ACL SETUSER app ~sluice:{j}:* ' +
        '[Redis: NOPERM this user has no permissions to access one of the keys used as arguments]'
    );
    expect(
      refusal("ERR ACL failure in script: No permissions to access the 'sluice:{j}:out:audit' key script: 0123abcd, on @user_script:9.")
    ).toMatch(/^\[SLUICE_REDIS_NOPERM\] Redis user 'app' may not read and write sluice:\{j\}:out:audit \(EVALSHA\): /);
    expect(
      refusal(
        "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments script: 0123abcd, on @user_script:9."
      )
    ).toMatch(/may not read and write one of sluice:\{j\}:offsets, sluice:\{j\}:epoch, sluice:\{j\}:out:audit \(EVALSHA\)/);
    expect(refusal('NOPERM No permissions to access a key', { name: 'get', args: ['sluice:{j}:epoch'] })).toMatch(
      /may not read and write sluice:\{j\}:epoch \(GET\): its key patterns must include ~sluice:\{j\}:\*/
    );
  });

  it('a command refused inside a script (Redis does not say which) names the script call', () => {
    expect(refusal("ERR The user executing the script can't run this command or subcommand script: 0123abcd, on @user_script:12.")).toMatch(
      /^\[SLUICE_REDIS_NOPERM\] Redis user 'app' may not run one of the commands of the Lua script EVALSHA runs on sluice:\{j\}:offsets, /
    );
  });

  it('leaves every other error as it is', () => {
    const other = new Error('NOSCRIPT No matching script');
    expect(asRedisRefusal(other, 'app', evalsha as never)).toBe(other);
  });
});

describe('commandsCalledBy', () => {
  it('finds the commands of a script, through redis.call and its alias, with its includes', () => {
    const commitChunks = scriptSources().find((s) => s.name === 'commitChunks')?.lua as string;
    expect(commandsCalledBy(commitChunks).sort()).toEqual([
      'GET',
      'HDEL',
      'HGET',
      'HINCRBY',
      'HSET',
      'INCRBY',
      'RPUSH',
      'SADD',
      'SET',
      'TYPE',
    ]);
  });
});
