/**
 * docs/configuration.md is generated from the configuration schemas
 * (scripts/docs/config-reference.ts); it must be what the code says today.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  OUTPUT,
  renderConfigReference,
  renderSection,
  SECTIONS,
} from '../../scripts/docs/config-reference.ts';
import { ApiConfigSchema } from '../../src/api/config.ts';
import { VkConfigSchema } from '../../src/vk/config.ts';

describe('docs/configuration.md', () => {
  it('is up to date (regenerate with `make docs`)', async () => {
    const rendered = await renderConfigReference();
    expect(readFileSync(OUTPUT, 'utf8')).toBe(rendered);
  });

  it('documents every command, none of them missing', async () => {
    const text = await renderConfigReference();
    expect(text).not.toContain('Not available in this build');
    expect(text).not.toContain('exports no');
    for (const s of SECTIONS) expect(text).toContain(`## ${s.title}`);
  });

  it('lists every top-level key of the API and VK schemas, with the env variables that set them', async () => {
    const text = await renderConfigReference();
    const section = (title: string) =>
      text.slice(text.indexOf(title), text.indexOf('\n## ', text.indexOf(title) + 1));
    const api = section('## interLink API');
    for (const key of Object.keys(ApiConfigSchema.shape)) expect(api).toContain(`| \`${key}\` |`);
    const vk = section('## Virtual kubelet');
    for (const key of Object.keys(VkConfigSchema.shape)) expect(vk).toContain(`| \`${key}\` |`);
    expect(vk).toMatch(/\| `nodeName` \|[^\n]*\| `NODENAME` \|/);
    expect(api).toMatch(/\| `sidecarPort` \|[^\n]*\| `SIDECARPORT` \|/);
  });

  it('takes descriptions from the JSDoc of each key and defaults from the schema', async () => {
    const text = await renderConfigReference();
    // src/vk/config.ts: `/** Interval of the one batched /status call for all active pods. */ statusIntervalMs: ...default(2_000)`
    expect(text).toMatch(
      /\| `statusIntervalMs` \| integer[^|]*\| `2000` \|[^|]*\| Interval of the one batched `\/status` call/,
    );
    // Nested keys and list items.
    expect(text).toContain('| `auth.oidc.issuer` | URL | **required** |');
    expect(text).toContain('| `resources.accelerators[].resourceType` |');
  });

  it('tolerates a module that does not exist yet', async () => {
    const text = await renderSection({
      title: 'Future plugin',
      intro: 'x',
      module: 'src/plugins/nope/index.ts',
      exportName: 'default.configSchema',
    });
    expect(text).toContain('## Future plugin');
    expect(text).toContain('`src/plugins/nope/index.ts` does not exist yet');
  });
});
