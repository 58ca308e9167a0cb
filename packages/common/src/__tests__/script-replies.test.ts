import { decodeReply } from '../checkpoint/replies';

describe('decodeReply', () => {
  it('decodes each documented reply, Lua false as null', () => {
    expect(
      decodeReply.commitChunks(
        [
          ['committed', '10'],
          ['skipped', null],
          ['outside-plan', null, null, '7'],
        ],
        3
      )
    ).toEqual([
      { status: 'committed', until: '10' },
      { status: 'skipped', stored: null },
      { status: 'outside-plan', plannedId: null, plannedRange: null, until: '7' },
    ]);
    expect(decodeReply.writePlan(['skip-conflict', 't:0', null, '5'])).toEqual({
      status: 'skip-conflict',
      field: 't:0',
      stored: null,
      expected: '5',
    });
    expect(decodeReply.commitBatch(['incomplete', 't:0', '3'])).toEqual({ status: 'incomplete', field: 't:0', stored: '3' });
    expect(decodeReply.replayDeadLetter(['skipped'])).toEqual({ status: 'skipped' });
    expect(decodeReply.followOffsets(['ok', 't:0', '', '5', 't:1', '3', '9'])).toEqual({
      status: 'ok',
      moved: [
        { field: 't:0', from: null, to: '5' },
        { field: 't:1', from: '3', to: '9' },
      ],
    });
  });

  it.each<[string, () => unknown, string]>([
    ['an unknown tag', () => decodeReply.commitBatch(['done']), 'commitBatch replied ["done"]'],
    ['not an array', () => decodeReply.writePlan('OK'), 'writePlan replied "OK"'],
    ['a missing field', () => decodeReply.replayDeadLetter(['invalid']), 'replayDeadLetter replied ["invalid"]'],
    ['a number for a string', () => decodeReply.commitChunks([['committed', 10]], 1), 'commitChunks replied ["committed",10]'],
    ['fewer entries than sent', () => decodeReply.commitChunks([['staged']], 2), 'commitChunks replied [["staged"]]'],
  ])('refuses %s with a coded error naming the script and the reply', (_, decode, message) => {
    expect(decode).toThrow(`[SLUICE_CHECKPOINT_CONFLICT] the Redis script ${message}, which is none of its documented replies`);
  });
});
