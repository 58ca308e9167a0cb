import { constants, zstdCompressSync } from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';

import { registerCodecs, type KafkajsCodec } from '../kafkajs';

const codecOf = (type: CompressionTypes): KafkajsCodec => (CompressionCodecs as unknown as Record<number, () => KafkajsCodec>)[type]!();

describe('registerCodecs', () => {
  beforeAll(() => registerCodecs());

  it.each([
    ['gzip', CompressionTypes.GZIP],
    ['snappy', CompressionTypes.Snappy],
    ['lz4', CompressionTypes.LZ4],
    ['zstd', CompressionTypes.ZSTD],
  ] as const)('%s: what kafkajs compresses it decompresses (3 MB, several internal blocks)', async (_name, type) => {
    const data = Buffer.from(
      Array.from({ length: 60_000 }, (_, i) => `record-${i}-${(i * 7919).toString(36)}|`)
        .join('')
        .repeat(3)
    );
    const codec = codecOf(type);
    const compressed = await codec.compress({ buffer: data });
    expect(compressed.length).toBeLessThan(data.length);
    expect((await codec.decompress(compressed)).equals(data)).toBe(true);
  });

  it('zstd reads a streaming frame without a content size, as Java producers write, beyond 1 MiB', async () => {
    const data = Buffer.from(Array.from({ length: 100_000 }, (_, i) => `{"id":"r-${i}","n":${(i * 7919) % 1000}}`).join('\n'));
    const frame = zstdCompressSync(data, { params: { [constants.ZSTD_c_contentSizeFlag]: 0 } });
    expect([data.length > 1024 * 1024, frame.readUInt8(4) & 0xe0]).toEqual([true, 0]); // descriptor: no content size, not single-segment
    expect((await codecOf(CompressionTypes.ZSTD).decompress(frame)).equals(data)).toBe(true);
  });

  it('is idempotent and loads each codec once', () => {
    registerCodecs();
    expect(codecOf(CompressionTypes.LZ4)).toBe(codecOf(CompressionTypes.LZ4));
  });

  it('a corrupt zstd frame is a rejection, not a throw', async () => {
    await expect(codecOf(CompressionTypes.ZSTD).decompress(Buffer.from('not zstd at all'))).rejects.toThrow();
  });
});
