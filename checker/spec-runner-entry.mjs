/**
 * The entry of checker/spec-runner.ts: `node checker/spec-runner-entry.mjs LIMIT_S`. vitest is loaded first, by
 * plain Node: through tsx's hooks its hundreds of modules cost a second more of CPU per runner, for nothing (they
 * are JavaScript). Only then are tsx's hooks registered, for the runner and the reporter, which are TypeScript.
 */
import 'vitest/node';
import { register } from 'tsx/esm/api';

register();
await import('./spec-runner.ts');
