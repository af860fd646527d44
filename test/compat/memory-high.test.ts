/**
 * memory.high's charges over the limit are the cgroup's (try_charge in mm/memcontrol.c):
 * once a group is over, the pages charged in it are over, so what a sample finds a group
 * charged over its high is its growth, at most how far it is over, shared among its address
 * spaces by what each grew. Unit check of overHighCharges (the guest side is cp_cgroup_high,
 * whose penalty sleeps Linux's 2 s cap hides any difference in pages).
 */
import { describe, expect, it } from 'vitest';
import { highDelayNs, overage, overHighCharges } from '../../src/kernel/memory-pressure';

const MiB = 1 << 20;
const PAGE = 4096;

describe('memory.high: pages charged over it, per cgroup', () => {
  it('two address spaces pushing one group over share its overage (neither is charged all of it)', () => {
    // high 64 MiB; A and B grew 2 MiB each since the last sample, the group is 2 MiB over.
    const grew = new Map([['A', 2 * MiB], ['B', 2 * MiB]]);
    const c = overHighCharges([{ over: 2 * MiB, members: ['A', 'B'] }], (m) => grew.get(m)!);
    expect(c.get('A')).toBe(MiB / PAGE);
    expect(c.get('B')).toBe(MiB / PAGE);
    // The penalty differs: overage 2/64 of high, 256 pages each, not 512.
    const o = overage(66 * MiB, 64 * MiB);
    expect(highDelayNs(o, c.get('A')!)).toBeLessThan(highDelayNs(o, 2 * MiB / PAGE));
  });

  it('in proportion to what each grew; one that did not grow owes nothing', () => {
    const grew = new Map([['A', 3 * MiB], ['B', MiB], ['C', 0], ['D', -MiB]]);
    const c = overHighCharges([{ over: 2 * MiB, members: ['A', 'B', 'C', 'D'] }], (m) => grew.get(m)!);
    expect(c.get('A')).toBe((1.5 * MiB) / PAGE);
    expect(c.get('B')).toBe((0.5 * MiB) / PAGE);
    expect(c.has('C')).toBe(false);
    expect(c.has('D')).toBe(false);
  });

  it('a group already over: all of its growth is over', () => {
    const c = overHighCharges([{ over: 40 * MiB, members: ['A'] }], () => 8 * MiB);
    expect(c.get('A')).toBe((8 * MiB) / PAGE);
  });

  it('a charge counts once however many groups of the chain are over: the largest share', () => {
    // g/q is 1 MiB over, g (q and a sibling S) 6 MiB over; A in q grew 4 MiB, S 4 MiB.
    const grew = new Map([['A', 4 * MiB], ['S', 4 * MiB]]);
    const c = overHighCharges([{ over: MiB, members: ['A'] }, { over: 6 * MiB, members: ['A', 'S'] }], (m) => grew.get(m)!);
    expect(c.get('A')).toBe((3 * MiB) / PAGE);
    expect(c.get('S')).toBe((3 * MiB) / PAGE);
  });
});
