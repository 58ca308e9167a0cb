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

  it('is idempotent and loads each codec once', () => {
    registerCodecs();
    expect(codecOf(CompressionTypes.LZ4)).toBe(codecOf(CompressionTypes.LZ4));
  });

  it('a corrupt zstd frame is a rejection, not a throw', async () => {
    await expect(codecOf(CompressionTypes.ZSTD).decompress(Buffer.from('not zstd at all'))).rejects.toThrow();
  });
});
