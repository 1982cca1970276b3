import { describe, expect, it } from 'vitest';
import { counterDelta, parsePrometheus, sumBy, total } from '../../bench/lib/prom.ts';

const SCRAPE = `# HELP interlink_api_http_requests_total HTTP requests served
# TYPE interlink_api_http_requests_total counter
interlink_api_http_requests_total{method="POST",route="/create",code="200"} 30
interlink_api_http_requests_total{method="GET",route="/status",code="200"} 4
interlink_api_http_requests_total{method="GET",route="/status",code="503"} 1
interlink_api_http_requests_total{method="GET",route="/metrics",code="200"} 2

apiserver_request_total{code="201",component="apiserver",resource="pods",subresource="status",verb="PATCH",version="v1"} 120 1700000000000
weird_total{path="a \\"quoted\\" \\\\ back\\nslash"} +Inf
no_labels 3.5e2
`;

describe('parsePrometheus', () => {
  const samples = parsePrometheus(SCRAPE);
  it('reads every sample, skipping comments and blank lines', () => {
    expect(samples).toHaveLength(7);
    expect(samples[0]).toEqual({
      name: 'interlink_api_http_requests_total',
      labels: { method: 'POST', route: '/create', code: '200' },
      value: 30,
    });
  });
  it('accepts a timestamp, +Inf, exponents and escaped label values', () => {
    expect(samples[4]!.value).toBe(120);
    expect(samples[5]).toEqual({
      name: 'weird_total',
      labels: { path: 'a "quoted" \\ back\nslash' },
      value: Infinity,
    });
    expect(samples[6]).toEqual({ name: 'no_labels', labels: {}, value: 350 });
  });
  it.each(['foo{bar=baz} 1', 'foo', '{a="b"} 1', 'foo{a="b"'])('rejects the malformed line %j', (line) => {
    expect(() => parsePrometheus(line)).toThrow(/malformed/);
  });
});

describe('sumBy and counterDelta', () => {
  const samples = parsePrometheus(SCRAPE);
  it('sums across the labels left out, with a filter', () => {
    const m = sumBy(
      samples,
      'interlink_api_http_requests_total',
      ['method', 'route'],
      (l) => l.route !== '/metrics',
    );
    expect([...m]).toEqual([
      ['POST /create', 30],
      ['GET /status', 5],
    ]);
    expect(total(m)).toBe(35);
  });
  it('treats an absent label as empty', () => {
    expect([...sumBy(samples, 'no_labels', ['x'])]).toEqual([['', 350]]);
  });
  it('keeps growth only, and counts a reset counter from zero', () => {
    const before = new Map([
      ['a', 10],
      ['b', 5],
      ['c', 7],
    ]);
    const after = new Map([
      ['a', 15],
      ['b', 5],
      ['c', 2],
      ['d', 1],
    ]);
    expect([...counterDelta(before, after)]).toEqual([
      ['a', 5],
      ['c', 2],
      ['d', 1],
    ]);
  });
});
