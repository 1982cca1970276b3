/**
 * Serialises async work per key; different keys run concurrently. The one lock of the
 * plugins (issue #13): a create and a delete of the same pod never overlap.
 *
 * Contract: `run` never blocks the caller; `fn` starts once every earlier `fn` of the same
 * key has settled, in call order. A rejection reaches only its own caller; the next `fn` of
 * the key still runs. A key's entry is dropped once its last `fn` settles.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return next;
  }

  /** Keys with work queued or running (for tests and leak checks). */
  get size(): number {
    return this.#tails.size;
  }
}
