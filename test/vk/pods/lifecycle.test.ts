/** The life-cycle table itself: allowed moves pass, anything else is a bug that throws. */
import { describe, expect, it } from 'vitest';
import { type PodRecord, PodState, TRANSITIONS, transition } from '../../../src/vk/pods/lifecycle.ts';
import { makePod } from './fakes.ts';

const rec = (state: PodState): PodRecord => ({
  key: 'ns/p',
  uid: 'u',
  state,
  pod: makePod('p'),
  deleteFailures: 0,
});

const states = Object.values(PodState);
const pairs = states.flatMap((from) => states.filter((to) => to !== from).map((to) => [from, to] as const));

describe('life-cycle table', () => {
  it('names every state, and nothing leaves Gone', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...states].sort());
    expect(TRANSITIONS.Gone).toEqual([]);
  });

  it('every other move follows the table: allowed ones move (and are reported), the rest throw', () => {
    const outcome = (from: PodState, to: PodState) => {
      const r = rec(from);
      const seen: string[] = [];
      try {
        transition(r, to, (_k, a, b) => seen.push(`${a}→${b}`));
      } catch (err) {
        return { state: r.state, seen, err: (err as Error).message };
      }
      return { state: r.state, seen };
    };
    for (const [from, to] of pairs) {
      const want = TRANSITIONS[from].includes(to)
        ? { state: to, seen: [`${from}→${to}`] }
        : { state: from, seen: [], err: `pod ns/p: no transition ${from} → ${to}` };
      expect(outcome(from, to), `${from} → ${to}`).toEqual(want);
    }
  });

  it('staying in a state is no transition', () => {
    const r = rec(PodState.InBackend);
    const seen: string[] = [];
    transition(r, PodState.InBackend, (_k, a, b) => seen.push(`${a}→${b}`));
    expect(seen).toEqual([]);
  });
});
