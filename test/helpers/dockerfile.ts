import { readFileSync } from 'node:fs';

/** One instruction of a Dockerfile: `COPY --from=build a b` is `{ op: 'COPY', flags: { from: 'build' }, args: ['a', 'b'] }`. */
export interface Instruction {
  op: string;
  flags: Record<string, string>;
  args: string[];
  /** The text after the instruction and its flags (for RUN, ENV, ENTRYPOINT). */
  rest: string;
}

export interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

/**
 * Parses the subset of the Dockerfile syntax sluice's Dockerfile uses (comments, `\` continuations,
 * `--flag=value` flags, `FROM <image> AS <name>`), enough to replay a stage without Docker.
 */
export function parseDockerfile(path: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = readFileSync(path, 'utf8').replace(/\\\n/g, ' ').split('\n');
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [op = '', ...words] = line.split(/\s+/);
    const flags: Record<string, string> = {};
    while (words[0]?.startsWith('--')) {
      const [key = '', value = ''] = (words.shift() as string).slice(2).split('=');
      flags[key] = value;
    }
    const rest = line.slice(line.indexOf(op) + op.length).trim();
    const instruction = { op: op.toUpperCase(), flags, args: words, rest: rest.replace(/^(--\S+\s+)+/, '') };
    if (instruction.op === 'FROM') {
      const [base = '', as, name] = words;
      if (as?.toUpperCase() !== 'AS' || !name) throw new Error(`FROM without a stage name: ${line}`);
      stages.push({ name, base: base.replace(/^\$\{(\w+)\}$/, (_, arg: string) => args[arg] ?? ''), instructions: [] });
    } else if (instruction.op === 'ARG' && stages.length === 0) {
      const [key = '', value = ''] = (words[0] ?? '').split('=');
      args[key] = value;
    } else {
      const stage = stages[stages.length - 1];
      if (!stage) throw new Error(`instruction before FROM: ${line}`);
      stage.instructions.push(instruction);
    }
  }
  return { args, stages };
}
