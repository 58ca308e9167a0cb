/**
 * Compression codecs for kafkajs. kafkajs 2.2.4 ships only gzip and throws `KafkaJSNotImplemented`
 * for record batches compressed with snappy, lz4 or zstd; {@link registerCodecs} fills its
 * `CompressionCodecs` table once per process, before the first fetch:
 *
 * | codec  | package                                | kind                                                    |
 * |--------|----------------------------------------|---------------------------------------------------------|
 * | snappy | `kafkajs-snappy` (on `snappyjs`)       | pure JS; raw snappy (librdkafka) and xerial framing (Java) |
 * | lz4    | `lz4-napi`                             | N-API, prebuilt binaries shipped as npm packages        |
 * | zstd   | `node:zlib` (Node >= 22.15)            | built in (libzstd)                                      |
 *
 * zstd uses Node's own libzstd: it reads both the frames librdkafka writes (with a content size) and
 * Java's streaming frames (without one), several times faster than the pure-JS `fzstd` (figures:
 * docs/benchmarks.md, "Figures behind design choices").
 *
 * Each package is loaded the first time a batch of its codec is seen (kafkajs calls the factory per
 * batch), so a process that never meets lz4 never loads its native binary.
 */
import * as zlib from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';

/** The shape kafkajs expects from a codec (`src/protocol/message/compression/gzip.js`). */
export interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

type CodecFactory = () => KafkajsCodec;

/** Loads `load()` once, on first use; a failure to load is reported with the codec's name. */
function lazy(name: string, load: () => KafkajsCodec): CodecFactory {
  let codec: KafkajsCodec | undefined;
  return () => {
    if (codec === undefined) {
      try {
        codec = load();
      } catch (e) {
        throw new Error(`cannot load the ${name} codec for Kafka record batches: ${e instanceof Error ? e.message : String(e)}`, {
          cause: e,
        });
      }
    }
    return codec;
  };
}

function snappyCodec(): KafkajsCodec {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const factory = require('kafkajs-snappy') as () => KafkajsCodec;
  return factory();
}

function lz4Codec(): KafkajsCodec {
  // Kafka's LZ4 is the LZ4 frame format (KIP-57), which is what compressFrame/decompressFrame speak.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lz4 = require('lz4-napi') as {
    compressFrame(data: Buffer): Promise<Buffer>;
    decompressFrame(data: Buffer): Promise<Buffer>;
  };
  return {
    compress: (encoder) => lz4.compressFrame(encoder.buffer),
    decompress: (buffer) => lz4.decompressFrame(buffer),
  };
}

/** zstd level of compressed batches kafkajs produces (Kafka's default, `compression.zstd.level`). */
const ZSTD_LEVEL = 3;

function zstdCodec(): KafkajsCodec {
  if (typeof zlib.zstdDecompressSync !== 'function')
    throw new Error(`node:zlib has no zstd in Node ${process.version}; sluice needs >= 22.15`);
  const level = { params: { [zlib.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } };
  // Synchronous: a batch takes less time than the round trips of zlib's thread-pool API would.
  // A corrupt frame becomes a rejection, as kafkajs expects of a codec.
  return {
    compress: (encoder) => new Promise<Buffer>((resolve) => resolve(zlib.zstdCompressSync(encoder.buffer, level))),
    decompress: (buffer) => new Promise<Buffer>((resolve) => resolve(zlib.zstdDecompressSync(buffer))),
  };
}

let registered = false;

/**
 * Registers the snappy, lz4 and zstd codecs into kafkajs's `CompressionCodecs` (idempotent; called by
 * every kafkajs factory of this layer). Affects every kafkajs client of the process, producers too.
 */
export function registerCodecs(): void {
  if (registered) return;
  const codecs = CompressionCodecs as unknown as Record<number, CodecFactory>;
  codecs[CompressionTypes.Snappy] = lazy('snappy', snappyCodec);
  codecs[CompressionTypes.LZ4] = lazy('lz4', lz4Codec);
  codecs[CompressionTypes.ZSTD] = lazy('zstd', zstdCodec);
  registered = true;
}
