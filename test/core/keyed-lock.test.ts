import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../../src/core/keyed-lock.ts';

/** A promise the test settles by hand. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Let queued promise continuations run. */
const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('KeyedLock', () => {
  it('runs the calls of one key one at a time, in call order', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const runs = gates.map((g, i) =>
      lock.run('k', async () => {
        log.push(`start ${i}`);
        await g.promise;
        log.push(`end ${i}`);
        return i;
      }),
    );
    await flush();
    expect(log).toEqual(['start 0']);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await flush();
    expect(log).toEqual(['start 0']);
    gates[0]!.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('runs different keys concurrently', async () => {
    const lock = new KeyedLock();
    const gate = deferred();
    const started: string[] = [];
    const a = lock.run('a', async () => {
      started.push('a');
      await gate.promise;
    });
    const b = lock.run('b', async () => {
      started.push('b');
    });
    await b;
    expect(started).toEqual(['a', 'b']);
    gate.resolve();
    await a;
  });

  it('a rejection reaches only its caller and does not poison the key', async () => {
    const lock = new KeyedLock();
    const failed = lock.run('k', async () => {
      throw new Error('boom');
    });
    const after = lock.run('k', async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    expect(await after).toBe('ok');
  });

  it('a synchronous throw inside fn is a rejection, not a thrown call', async () => {
    const lock = new KeyedLock();
    const failed = lock.run('k', () => {
      throw new Error('sync');
    });
    await expect(failed).rejects.toThrow('sync');
    expect(await lock.run('k', async () => 1)).toBe(1);
  });

  it('drops a key once idle (after success and after failure)', async () => {
    const lock = new KeyedLock();
    const gate = deferred();
    const a = lock.run('a', () => gate.promise);
    const b = lock.run('b', async () => {
      throw new Error('x');
    });
    expect(lock.size).toBe(2);
    await expect(b).rejects.toThrow('x');
    await flush();
    expect(lock.size).toBe(1);
    gate.resolve();
    await a;
    await flush();
    expect(lock.size).toBe(0);
  });
});
