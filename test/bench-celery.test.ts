/**
 * The Celery peer's pure logic, with no Python needed (CI has no Celery): which interpreters it tries, the one
 * line it prints without one, and the key patterns it deletes, which must never reach beyond its own keys.
 */
import { describe, expect, it } from 'vitest';
import { celeryPatterns, findPython, pythonCandidates, skipLine } from '../bench/peers/celery.ts';

describe('the Celery peer', () => {
  it('tries BENCH_PYTHON alone when set, else python3 and then /usr/bin/python3 (Debian packages)', () => {
    expect(pythonCandidates({ BENCH_PYTHON: '/opt/py/bin/python' })).toEqual(['/opt/py/bin/python']);
    const usual = pythonCandidates({});
    expect(usual.indexOf('python3')).toBeLessThan(usual.indexOf('/usr/bin/python3'));
  });

  it('without a Python that has Celery, says in one line what was tried and how to install it', () => {
    const found = findPython({ BENCH_PYTHON: '/nonexistent/bench-python' });
    expect(found).toEqual({ tried: ['/nonexistent/bench-python'] });
    const line = skipLine(['/nonexistent/bench-python']);
    expect(line).not.toContain('\n');
    expect(line).toContain('/nonexistent/bench-python');
    expect(line).toContain('apt-get install python3-celery python3-gevent python3-eventlet python3-redis');
    expect(line).toContain('pip install "celery[redis]" gevent eventlet urllib3');
  });

  it("deletes only its driver's keys: a prefix that is not one is refused", () => {
    expect(celeryPatterns('bench-celery-42-')).toEqual([
      'bench-celery-42-*',
      '_kombu.binding.bench-celery-42-*',
      'celery-task-meta-bench-celery-42-*',
    ]);
    for (const bad of ['', '*', 'bench-celery-', 'bench-celery-42', 'celery-']) {
      expect(() => celeryPatterns(bad), bad).toThrow(/not a bench driver's key prefix/);
    }
  });
});
