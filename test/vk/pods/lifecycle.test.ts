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

  it.each(pairs)('%s → %s follows the table', (from, to) => {
    const r = rec(from);
    const seen: string[] = [];
    const move = () => transition(r, to, (_k, a, b) => seen.push(`${a}→${b}`));
    if (TRANSITIONS[from].includes(to)) {
      move();
      expect([r.state, seen]).toEqual([to, [`${from}→${to}`]]);
    } else {
      expect(move).toThrow(`pod ns/p: no transition ${from} → ${to}`);
      expect([r.state, seen]).toEqual([from, []]);
    }
  });

  it('staying in a state is no transition', () => {
    const r = rec(PodState.InBackend);
    const seen: string[] = [];
    transition(r, PodState.InBackend, (_k, a, b) => seen.push(`${a}→${b}`));
    expect(seen).toEqual([]);
  });
});
