import { describe, expect, it } from 'vitest';
import { niceStep, renderChart, type TimelineSample, thin } from '../../bench/lib/chart.ts';

describe('niceStep', () => {
  it.each([
    [10, 6, 2],
    [60, 6, 10],
    [1000, 5, 200],
    [7.5, 6, 2],
    [0.5, 6, 0.1],
    [0, 6, 1],
  ])('max %d, %d ticks → %d', (max, target, want) => {
    expect(niceStep(max, target)).toBeCloseTo(want, 10);
  });
});

describe('thin', () => {
  const ten = Array.from({ length: 10 }, (_, i) => i);
  it.each([
    ['fewer than the maximum: all', 10, ten],
    ['exactly the maximum: all', 10, ten],
    ['half: evenly spaced, first and last kept', 5, [0, 2, 5, 7, 9]],
    ['two: the ends', 2, [0, 9]],
    ['below two: all (nothing sensible to drop)', 1, ten],
  ])('%s', (_, max, want) => {
    expect(thin(ten, max)).toEqual(want);
  });
  it('draws at most maxPoints per series', () => {
    const zero = { unscheduled: 0, scheduled: 0, running: 0, succeeded: 0, failed: 0, deleted: 0 };
    const many = Array.from({ length: 1000 }, (_, i) => ({ t: i / 2, ...zero, running: i }));
    const svg = renderChart(many, { title: 't', maxPoints: 50 });
    const polygon = svg.split('\n').find((l) => l.includes('<title>Running</title>'))!;
    // Upper and lower edge: two points per sample.
    expect(polygon.match(/[\d.]+,[\d.]+/g)).toHaveLength(100);
  });
});

describe('renderChart', () => {
  const zero = { unscheduled: 0, scheduled: 0, running: 0, succeeded: 0, failed: 0, deleted: 0 };
  const samples: TimelineSample[] = [
    { t: 0, ...zero, unscheduled: 5 },
    { t: 1, ...zero, scheduled: 3, running: 7 },
    { t: 2.5, ...zero, succeeded: 9, failed: 1 },
    { t: 3, ...zero, deleted: 10 },
  ];
  const svg = renderChart(samples, {
    title: 'a <title> & more',
    subtitle: 'sub',
    markers: [
      { t: 1, label: 'all Running' },
      { t: 99, label: 'off the chart' },
    ],
  });
  it('is one SVG document with a stacked area per phase and a legend', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polygon /g)).toHaveLength(6);
    for (const label of ['Unscheduled', 'Scheduled', 'Running', 'Succeeded', 'Failed', 'Deleted'])
      expect(svg).toContain(`>${label}</text>`);
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  });
  it('escapes text and draws only markers inside the time range', () => {
    expect(svg).toContain('a &lt;title&gt; &amp; more');
    expect(svg).toContain('all Running');
    expect(svg).not.toContain('off the chart');
  });
  it('stacks to the number of pods created: the top edge reaches 10 at t=1', () => {
    // y axis 0..10 over the plot height; the top series' upper edge at t=1 is y(10) = the top margin.
    const unscheduled = svg.split('\n').find((l) => l.includes('<title>Unscheduled</title>'))!;
    expect(unscheduled).toMatch(/ [\d.]+,56 /);
  });
  it('renders an empty run without failing', () => {
    const empty = renderChart([], { title: 'nothing' });
    expect(empty).toContain('</svg>');
    expect(empty).not.toMatch(/NaN/);
  });
});
