import { describe, expect, it } from 'vitest';
import { codeOf } from '../../../src/errors/index.ts';
import {
  DEFAULT_BEHAVIOUR,
  type MockDefaults,
  parseBehaviour,
  parseCreateError,
  parseDuration,
} from '../../../src/plugins/mock/behaviour.ts';

const P = 'mock.interlink.io/';

function pod(annotations: Record<string, string>, init: string[] = [], app: string[] = ['main']) {
  return {
    metadata: { annotations },
    spec: {
      initContainers: init.map((name) => ({ name, image: `img-${name}` })),
      containers: app.map((name) => ({ name, image: `img-${name}` })),
    },
  };
}

const defaults: MockDefaults = {
  ...DEFAULT_BEHAVIOUR,
  startDelayMs: 100,
  runTimeMs: undefined,
  initRunTimeMs: 50,
};

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['500ms', 500],
    ['2s', 2000],
    [' 2s ', 2000],
    ['1.5s', 1500],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1h2m3s4ms', 3_723_004],
    ['0s', 0],
  ])('%j → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['', /empty duration/],
    ['5', /no unit .*"5s"/],
    ['-1s', /not a duration/],
    ['2 s', /not a duration/],
    ['2d', /not a duration/],
    ['abc', /not a duration/],
    ['2s3', /not a duration/],
    ['9999h', /longer than a year/],
  ])('%j is rejected (%s)', (text, message) => {
    expect(() => parseDuration(text)).toThrow(message);
  });
});

describe('parseCreateError', () => {
  it.each([
    ['quota exceeded', { code: 'BACKEND', message: 'quota exceeded' }],
    ['INVALID_INPUT: image not allowed', { code: 'INVALID_INPUT', message: 'image not allowed' }],
    ['UNAVAILABLE: busy', { code: 'UNAVAILABLE', message: 'busy' }],
    ['NOPE: x', { code: 'BACKEND', message: 'NOPE: x' }],
    ['', { code: 'BACKEND', message: 'create refused' }],
  ])('%j', (text, want) => {
    expect(parseCreateError(text)).toEqual(want);
  });
});

describe('parseBehaviour', () => {
  it('uses the defaults without annotations; init containers come first', () => {
    const b = parseBehaviour(pod({}, ['setup'], ['main', 'side']), defaults);
    expect(b.startDelayMs).toBe(100);
    expect(b.createError).toBeUndefined();
    expect(b.containers).toEqual([
      {
        name: 'setup',
        image: 'img-setup',
        init: true,
        runTimeMs: 50,
        exitCode: 0,
        logLines: 10,
        logIntervalMs: 1000,
      },
      {
        name: 'main',
        image: 'img-main',
        init: false,
        runTimeMs: undefined,
        exitCode: 0,
        logLines: 10,
        logIntervalMs: 1000,
      },
      {
        name: 'side',
        image: 'img-side',
        init: false,
        runTimeMs: undefined,
        exitCode: 0,
        logLines: 10,
        logIntervalMs: 1000,
      },
    ]);
  });

  // [annotations, container, expected subset]
  const cases: Array<[string, Record<string, string>, string, Record<string, unknown>]> = [
    ['pod run-time applies to app containers', { [`${P}run-time`]: '2s' }, 'main', { runTimeMs: 2000 }],
    ['pod run-time leaves init containers alone', { [`${P}run-time`]: '2s' }, 'setup', { runTimeMs: 50 }],
    ['init-run-time', { [`${P}init-run-time`]: '3s' }, 'setup', { runTimeMs: 3000 }],
    ['run-time forever', { [`${P}run-time`]: 'forever' }, 'main', { runTimeMs: undefined }],
    [
      'per-container run-time wins',
      { [`${P}run-time`]: '2s', [`${P}run-time.main`]: '5s' },
      'main',
      { runTimeMs: 5000 },
    ],
    [
      'per-container forever wins',
      { [`${P}run-time`]: '2s', [`${P}run-time.side`]: 'forever' },
      'side',
      { runTimeMs: undefined },
    ],
    ['per-container run-time on init', { [`${P}run-time.setup`]: '1s' }, 'setup', { runTimeMs: 1000 }],
    ['pod exit-code on app', { [`${P}exit-code`]: '3' }, 'main', { exitCode: 3 }],
    ['pod exit-code not on init', { [`${P}exit-code`]: '3' }, 'setup', { exitCode: 0 }],
    [
      'per-container exit-code',
      { [`${P}exit-code`]: '3', [`${P}exit-code.side`]: '7' },
      'side',
      { exitCode: 7 },
    ],
    ['init exit-code', { [`${P}exit-code.setup`]: '1' }, 'setup', { exitCode: 1 }],
    [
      'log-lines and interval',
      { [`${P}log-lines`]: '3', [`${P}log-interval`]: '250ms' },
      'setup',
      { logLines: 3, logIntervalMs: 250 },
    ],
    [
      'per-container log-lines',
      { [`${P}log-lines`]: '3', [`${P}log-lines.main`]: '0' },
      'main',
      { logLines: 0 },
    ],
  ];
  it.each(cases)('%s', (_name, annotations, container, want) => {
    const b = parseBehaviour(pod(annotations, ['setup'], ['main', 'side']), defaults);
    expect(b.containers.find((c) => c.name === container)).toMatchObject(want);
  });

  it('reads start-delay and create-error(+times); ignores other annotations', () => {
    const b = parseBehaviour(
      pod({
        [`${P}start-delay`]: '2s',
        [`${P}create-error`]: 'UNAVAILABLE: later',
        [`${P}create-error-times`]: '2',
        'other.io/x': 'y',
      }),
      defaults,
    );
    expect(b.startDelayMs).toBe(2000);
    expect(b.createError).toEqual({ code: 'UNAVAILABLE', message: 'later', times: 2 });
  });

  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ [`${P}start-delay`]: 'soon' }, /start-delay: "soon" is not a duration/],
    [{ [`${P}run-time`]: '10' }, /run-time: duration "10" has no unit/],
    [{ [`${P}exit-code`]: '256' }, /exit-code: 256 is out of range \(0-255\)/],
    [{ [`${P}exit-code`]: '-1' }, /exit-code: "-1" is not a whole number/],
    [{ [`${P}exit-code.main`]: 'one' }, /exit-code.main: "one" is not a whole number/],
    [{ [`${P}log-lines`]: '1.5' }, /log-lines: "1.5" is not a whole number/],
    [{ [`${P}exit-code.nosuch`]: '1' }, /the pod has no container "nosuch" \(containers: main\)/],
    [{ [`${P}start-delay.main`]: '1s' }, /start-delay.main: unknown mock key/],
    [{ [`${P}runtime`]: '1s' }, /runtime: unknown mock key \(accepted: .*run-time/],
    [{ [`${P}create-error-times`]: '2' }, /needs mock.interlink.io\/create-error/],
    [{ [`${P}create-error`]: 'x', [`${P}create-error-times`]: '0' }, /create-error-times: 0 is out of range/],
  ];
  it.each(bad)('rejects %j', (annotations, message) => {
    let err: unknown;
    try {
      parseBehaviour(pod(annotations), defaults);
    } catch (e) {
      err = e;
    }
    expect(codeOf(err)).toBe('INVALID_INPUT');
    expect((err as Error).message).toMatch(message);
    const key = Object.keys(annotations)
      .sort((a, b) => b.length - a.length)
      .find((k) => (err as Error).message.includes(k));
    expect((err as { field?: string }).field).toBe(`pod.metadata.annotations["${key}"]`);
  });
});
