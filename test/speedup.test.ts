import { describe, expect, it } from 'vitest';
import {
  amdahl,
  analyse,
  fitSerialFraction,
  karpFlatt,
  median,
  parallelism,
  speedupChart,
  spread,
} from '../kit/speedup.ts';

describe('speedup arithmetic (worked examples)', () => {
  it('speedup, efficiency and Karp–Flatt from times', () => {
    const analysis = analyse([
      { workers: 1, seconds: 8 },
      { workers: 2, seconds: 5 },
      { workers: 4, seconds: 3 },
    ]);
    const [one, two, four] = analysis.points;
    expect(one).toMatchObject({ speedup: 1, efficiency: 1, karpFlatt: undefined });
    expect(two!.speedup).toBeCloseTo(1.6, 10);
    expect(two!.efficiency).toBeCloseTo(0.8, 10);
    // e = (1/1.6 - 1/2) / (1 - 1/2) = (0.625 - 0.5) / 0.5 = 0.25
    expect(two!.karpFlatt).toBeCloseTo(0.25, 10);
    // S = 8/3, e = (3/8 - 1/4) / (3/4) = 1/6
    expect(four!.karpFlatt).toBeCloseTo(1 / 6, 10);
  });

  it("Amdahl's law and its fit recover a known serial fraction", () => {
    expect(amdahl(0.1, 2)).toBeCloseTo(1 / 0.55, 10);
    expect(amdahl(0.1, 4)).toBeCloseTo(1 / 0.325, 10);
    expect(amdahl(0, 16)).toBe(16);
    expect(amdahl(1, 16)).toBe(1);
    const points = [1, 2, 4, 8].map((workers) => ({ workers, speedup: amdahl(0.1, workers) }));
    expect(fitSerialFraction(points)).toBeCloseTo(0.1, 10);
    const fitted = analyse(points.map((p) => ({ workers: p.workers, seconds: 1 / p.speedup })));
    expect(fitted.serialFraction).toBeCloseTo(0.1, 10);
    // 1 / (0.1 + 0.9/8) = 4.7059, 1 / (0.1 + 0.9/16) = 6.4, 1 / (0.1 + 0.9/64) = 8.767
    expect(fitted.predicted?.[8]).toBeCloseTo(4.7059, 3);
    expect(fitted.predicted?.[16]).toBeCloseTo(6.4, 10);
    expect(fitted.predicted?.[64]).toBeCloseTo(8.767, 3);
  });

  it('clamps a fit pushed past ideal by noise to 0, and never exceeds 1', () => {
    expect(fitSerialFraction([{ workers: 2, speedup: 2.1 }])).toBe(0);
    expect(fitSerialFraction([{ workers: 2, speedup: 0.4 }])).toBe(1);
    expect(fitSerialFraction([{ workers: 1, speedup: 1 }])).toBe(0);
  });

  it('parallelism: tasks at once while any ran, gaps between them ignored', () => {
    const span = (startedAt: number, finishedAt: number) => ({ startedAt, finishedAt });
    expect(parallelism([span(0, 10), span(10, 20), span(20, 30)]), 'one after another').toBe(1);
    expect(parallelism([span(0, 10), span(0, 10)]), 'two side by side').toBe(2);
    // Two pairs side by side, with a 500 ms gap between the pairs (a fork per task): still 2.
    expect(parallelism([span(0, 10), span(0, 10), span(510, 520), span(510, 520)])).toBe(2);
    expect(parallelism([span(0, 10), span(5, 15)])).toBeCloseTo(20 / 15, 10);
    expect(parallelism([])).toBe(0);
  });

  it('median and spread', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(spread([9, 10, 11])).toBeCloseTo(0.2, 10);
    expect(karpFlatt(2, 2)).toBe(0);
  });

  it('draws measured points, the ideal line and the fit', () => {
    const chart = speedupChart(
      analyse([
        { workers: 1, seconds: 4 },
        { workers: 2, seconds: 2.2 },
        { workers: 3, seconds: 1.9 },
      ]),
    );
    expect(chart.match(/●/g)?.length).toBeGreaterThanOrEqual(3 + 1); // 3 points and the legend
    expect(chart).toContain('·');
    expect(chart).toContain('Amdahl fit (serial fraction');
    for (const line of chart.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });

  it('Karp–Flatt is a fraction or nothing: undefined below S = 1 and above S = p', () => {
    expect(karpFlatt(0.57, 2)).toBeUndefined();
    expect(karpFlatt(2.5, 2)).toBeUndefined();
    expect(karpFlatt(1.43, 2)).toBeCloseTo(0.3986, 3);
  });

  it('fits Amdahl only to points within the cores, and predicts nothing from fewer than two', () => {
    const onTwo = analyse(
      [
        { workers: 1, seconds: 1 },
        { workers: 2, seconds: 0.52 },
        { workers: 3, seconds: 0.51 },
      ],
      2,
    );
    expect(onTwo.predicted).toBeUndefined();
    expect(onTwo.fitNote).toMatch(/not measurable on P = 2/);
    expect(speedupChart(onTwo)).toContain('no Amdahl fit');
    const onFour = analyse(
      [1, 2, 3, 4, 5].map((workers) => ({ workers, seconds: 0.1 + 0.9 / Math.min(workers, 4) })),
      4,
    );
    // p = 5 is past the cores: left out of the fit, which recovers f = 0.1 from p = 2..4.
    expect(onFour.serialFraction).toBeCloseTo(0.1, 6);
    expect(onFour.predicted?.[64]).toBeCloseTo(1 / (0.1 + 0.9 / 64), 6);
  });
});
