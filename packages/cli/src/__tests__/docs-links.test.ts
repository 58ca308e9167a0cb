import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import MarkdownIt from 'markdown-it';

/**
 * The manual is README.md plus docs/ and a few READMEs beside what they describe, linked to each
 * other by relative paths and #anchors. A renamed heading or a moved page breaks those links
 * silently on GitHub, so every relative link of every markdown file in the repository is checked
 * here: the file exists, and an anchor names a heading of it (GitHub's slug rules).
 */

const repoRoot = resolve(__dirname, '..', '..', '..', '..');
const README_MAX_BYTES = 16_000;
const markdown = new MarkdownIt({ html: true });
type Token = MarkdownIt.Token;

/** GitHub's anchor for a heading's text: lower case, punctuation dropped (but - and _), spaces to hyphens. */
function githubSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a markdown text's headings; a repeated slug gets -1, -2, ... as on GitHub. */
function anchorsOf(text: string): Set<string> {
  const tokens = markdown.parse(text, {});
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  tokens.forEach((token, i) => {
    if (token.type !== 'heading_open') return;
    const inline = tokens[i + 1];
    const rendered = (inline?.children ?? [])
      .filter((child) => child.type === 'text' || child.type === 'code_inline')
      .map((child) => child.content)
      .join('');
    const slug = githubSlug(rendered);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  });
  return anchors;
}

/** Link and image targets of a markdown text, outside code. */
function targetsOf(text: string): string[] {
  const walk = (tokens: Token[]): string[] =>
    tokens.flatMap((token) => {
      const own = token.type === 'link_open' ? token.attrGet('href') : token.type === 'image' ? token.attrGet('src') : null;
      return [...(own == null ? [] : [String(own)]), ...walk(token.children ?? [])];
    });
  return walk(markdown.parse(text, {}));
}

/** Every broken relative link of `files` (absolute paths), as `file: target (why)`, paths relative to `root`. */
function brokenLinks(files: string[], root: string): string[] {
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (file: string): Set<string> => {
    let known = anchorCache.get(file);
    if (!known) anchorCache.set(file, (known = anchorsOf(readFileSync(file, 'utf8'))));
    return known;
  };
  const broken: string[] = [];
  for (const file of files) {
    for (const target of targetsOf(readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not ours to check offline
      const report = (why: string): void => void broken.push(`${relative(root, file)}: ${target} (${why})`);
      if (target.startsWith('/')) {
        report('absolute path: use a relative one');
        continue;
      }
      const hash = target.indexOf('#');
      const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
      const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
      const resolved = path === '' ? file : resolve(dirname(file), path);
      if (resolved !== root && !resolved.startsWith(root + sep)) report('outside the repository');
      else if (!existsSync(resolved)) report('no such file');
      else if (anchor === undefined) continue;
      else if (!resolved.endsWith('.md')) report('anchor into a file that is not markdown');
      else if (!anchors(resolved).has(anchor)) report(`no heading with anchor #${anchor}`);
    }
  }
  return broken;
}

/** Markdown files of the repository: everything but dependencies, build output and dot folders. */
function markdownFiles(dir: string): string[] {
  const skipped = new Set(['node_modules', 'dist', 'coverage', 'test-artifacts']);
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.') || skipped.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.isFile() && entry.name.endsWith('.md') ? [path] : [];
  });
}

describe('documentation links', () => {
  it('slugs headings as GitHub does', () => {
    const text = [
      '# `sluice run`: everything on one machine',
      '## Driver–executor gRPC: TLS, mutual TLS, token',
      "### Lag in Kafka's own tools",
      '### `deadLetter`',
      '## Data loss: `failOnDataLoss`',
      '## Keys',
      '## Keys',
      '```bash',
      '# not a heading',
      '```',
    ].join('\n');
    expect([...anchorsOf(text)]).toEqual([
      'sluice-run-everything-on-one-machine',
      'driverexecutor-grpc-tls-mutual-tls-token',
      'lag-in-kafkas-own-tools',
      'deadletter',
      'data-loss-failondataloss',
      'keys',
      'keys-1',
    ]);
  });

  it('reports a missing file, a missing anchor and an absolute path, and ignores links in code and to the web', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-docs-links-'));
    try {
      mkdirSync(join(dir, 'docs'));
      writeFileSync(join(dir, 'docs', 'page.md'), '# Page\n\n## A section\n');
      writeFileSync(
        join(dir, 'README.md'),
        [
          '# Top',
          '[ok](docs/page.md#a-section) [ok too](#top) [web](https://example.com/x.md#nowhere)',
          '[gone](docs/gone.md) [bad anchor](docs/page.md#b-section) [abs](/docs/page.md)',
          '`[in code](docs/nothing.md)`',
          '```',
          '[in a block](docs/nothing.md)',
          '```',
        ].join('\n')
      );
      expect(brokenLinks(markdownFiles(dir), dir)).toEqual([
        'README.md: docs/gone.md (no such file)',
        'README.md: docs/page.md#b-section (no heading with anchor #b-section)',
        'README.md: /docs/page.md (absolute path: use a relative one)',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every relative link and #anchor of the repository markdown resolves', () => {
    const files = markdownFiles(repoRoot);
    for (const required of ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', 'docs/architecture.md', 'deploy/helm/sluice/README.md']) {
      expect(files).toContain(join(repoRoot, required));
    }
    expect(brokenLinks(files, repoRoot)).toEqual([]);
  });

  it(`README.md stays under ${README_MAX_BYTES} bytes: reference material belongs in docs/`, () => {
    expect(statSync(join(repoRoot, 'README.md')).size).toBeLessThan(README_MAX_BYTES);
  });
});
