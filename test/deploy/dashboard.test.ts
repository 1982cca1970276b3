/**
 * deploy/grafana/interlink-dashboard.json imports as is: one datasource input
 * (`${DS_PROMETHEUS}`) used by every panel and target, unique panel ids and refIds, panels
 * within Grafana's 24-column grid. Whether its queries return data is
 * test/e2e/prometheus.test.ts's job.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './tools.ts';

// biome-ignore lint/suspicious/noExplicitAny: dashboard JSON read field by field
type Obj = Record<string, any>;
const dashboard = JSON.parse(
  readFileSync(join(ROOT, 'deploy/grafana/interlink-dashboard.json'), 'utf8'),
) as Obj;
// Grafana's import placeholder, literally.
const DS = { type: 'prometheus', uid: `\${DS_PROMETHEUS}` };

const all = (panels: Obj[]): Obj[] =>
  panels.flatMap((p) => [p, ...all((p.panels as Obj[] | undefined) ?? [])]);

describe('the Grafana dashboard', () => {
  it('declares its Prometheus datasource as an import input', () => {
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
    ]);
    expect(dashboard.id).toBeNull();
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
  });

  it('uses that datasource in every panel and target, with unique ids and refIds', () => {
    const panels = all(dashboard.panels as Obj[]);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const graphs = panels.filter((p) => p.type !== 'row');
    expect(graphs.length).toBeGreaterThan(20);
    for (const p of graphs) {
      expect(p.datasource, p.title).toEqual(DS);
      const targets = p.targets as Obj[];
      expect(targets.length, p.title).toBeGreaterThan(0);
      expect(new Set(targets.map((t) => t.refId)).size, p.title).toBe(targets.length);
      for (const t of targets) {
        expect(t.datasource, p.title).toEqual(DS);
        expect(t.expr, p.title).toMatch(/interlink_/);
      }
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    }
  });
});
