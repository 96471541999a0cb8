import { FaultQueue, mulberry32, type RandomFaultPlan } from '../fakes/http-faults';

type Fault = { kind: 'slow'; delayMs: number } | { kind: 'server_error' } | { kind: 'ambiguous_500' };

const KINDS: Fault[] = [{ kind: 'slow', delayMs: 10 }, { kind: 'server_error' }, { kind: 'ambiguous_500' }];

/** The faults `queue` hands out to `n` requests, `undefined` where a request got none. */
function drain<F>(queue: FaultQueue<F>, n: number): Array<F | undefined> {
  return Array.from({ length: n }, () => queue.next());
}

function withPlan(plan: RandomFaultPlan<Fault>): FaultQueue<Fault> {
  const queue = new FaultQueue<Fault>();
  queue.setRandom(plan);
  return queue;
}

describe('mulberry32', () => {
  it('when seeded alike, then it yields the same numbers in [0, 1); another seed yields others', () => {
    const [a, b, c] = [mulberry32(1), mulberry32(1), mulberry32(2)];
    const first = Array.from({ length: 100 }, a);

    expect(Array.from({ length: 100 }, b)).toEqual(first);
    expect(Array.from({ length: 100 }, c)).not.toEqual(first);
    expect(first.every((n) => n >= 0 && n < 1)).toBe(true);
  });
});

describe('FaultQueue random plan', () => {
  it('when two queues get the same plan, then they hand out the same sequence; another seed gives another', () => {
    const plan = { rate: 0.3, seed: 1234, kinds: KINDS };

    const first = drain(withPlan(plan), 200);

    expect(drain(withPlan(plan), 200)).toEqual(first);
    expect(drain(withPlan({ ...plan, seed: 1235 }), 200)).not.toEqual(first);
  });

  it('when the plan is set again, then its sequence restarts from the seed', () => {
    const queue = withPlan({ rate: 0.5, seed: 9, kinds: KINDS });
    const first = drain(queue, 50);

    queue.setRandom({ rate: 0.5, seed: 9, kinds: KINDS });

    expect(drain(queue, 50)).toEqual(first);
  });

  it('when rate is 0, then no request ever gets a fault (kinds may then be empty)', () => {
    expect(drain(withPlan({ rate: 0, seed: 1, kinds: KINDS }), 1000).every((f) => f === undefined)).toBe(true);
    expect(drain(withPlan({ rate: 0, seed: 1, kinds: [] }), 10).every((f) => f === undefined)).toBe(true);
  });

  it('when rate is 1, then every request gets one of the kinds, each about equally often', () => {
    const faults = drain(withPlan({ rate: 1, seed: 77, kinds: KINDS }), 3000);

    expect(faults.every((f) => f !== undefined && KINDS.includes(f))).toBe(true);
    for (const kind of KINDS) {
      const share = faults.filter((f) => f === kind).length / faults.length;
      expect(share).toBeGreaterThan(0.28);
      expect(share).toBeLessThan(0.39);
    }
  });

  it('when rate is 0.1, then about one request in ten gets a fault', () => {
    const hits = drain(withPlan({ rate: 0.1, seed: 2025, kinds: KINDS }), 5000).filter((f) => f !== undefined).length;

    expect(hits).toBeGreaterThan(400);
    expect(hits).toBeLessThan(600);
  });

  it('when faults are queued, then they come first and do not use up the random sequence', () => {
    const plan = { rate: 0.4, seed: 31, kinds: KINDS };
    const queue = withPlan(plan);
    const queued: Fault = { kind: 'slow', delayMs: 999 };
    queue.push(queued, 2);

    const faults = drain(queue, 42);

    expect(faults.slice(0, 2)).toEqual([queued, queued]);
    expect(faults.slice(2)).toEqual(drain(withPlan(plan), 40));
  });

  it('when faults are handed out, then stats() counts them by kind, queued and random alike; none handed out, none counted', () => {
    const queue = withPlan({ rate: 1, seed: 4, kinds: [{ kind: 'server_error' }] });
    queue.push({ kind: 'ambiguous_500' });

    drain(queue, 3);
    queue.setRandom(undefined);
    drain(queue, 5);

    expect(queue.stats()).toEqual({ ambiguous_500: 1, server_error: 2 });
  });

  it('when stats() is read, then it is a copy that later faults do not change', () => {
    const queue = withPlan({ rate: 1, seed: 4, kinds: [{ kind: 'server_error' }] });
    queue.next();
    const before = queue.stats();

    queue.next();

    expect(before).toEqual({ server_error: 1 });
    expect(queue.stats()).toEqual({ server_error: 2 });
  });

  it('when faults are plain values without a kind, then stats() counts them by value', () => {
    const queue = new FaultQueue<string>();
    queue.push('a', 2);
    queue.push('b');

    drain(queue, 4);

    expect(queue.stats()).toEqual({ a: 2, b: 1 });
  });

  it('when cleared, then queued faults and the plan are gone but stats stay; reset() forgets the stats too', () => {
    const queue = withPlan({ rate: 1, seed: 4, kinds: KINDS });
    queue.push({ kind: 'server_error' }, 3);
    queue.next();

    queue.clear();

    expect([queue.size, queue.next()]).toEqual([0, undefined]);
    expect(queue.stats()).toEqual({ server_error: 1 });
    queue.reset();
    expect(queue.stats()).toEqual({});
  });

  it('when the plan is invalid, then setRandom throws a RangeError and keeps the previous plan', () => {
    const queue = withPlan({ rate: 1, seed: 4, kinds: [{ kind: 'server_error' }] });

    expect(() => queue.setRandom({ rate: 1.5, seed: 1, kinds: KINDS })).toThrow(RangeError);
    expect(() => queue.setRandom({ rate: -0.1, seed: 1, kinds: KINDS })).toThrow(RangeError);
    expect(() => queue.setRandom({ rate: Number.NaN, seed: 1, kinds: KINDS })).toThrow(RangeError);
    expect(() => queue.setRandom({ rate: 0.5, seed: 1.5, kinds: KINDS })).toThrow(RangeError);
    expect(() => queue.setRandom({ rate: 0.5, seed: 1, kinds: [] })).toThrow(RangeError);
    expect(queue.next()).toEqual({ kind: 'server_error' });
  });
});
