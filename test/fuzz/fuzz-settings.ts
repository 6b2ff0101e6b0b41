import type { Test } from 'tap'

/** The seed every fuzz file starts from unless LOGWAY_FUZZ_SEED names another: a failure in CI replays locally. */
export const DEFAULT_SEED = 20260701

/** HTTP requests of the whole fuzz in `npm test`. */
export const SUITE_RUNS = 20_000

/** HTTP requests of the whole fuzz in its long mode, `npm run fuzz` (which sets LOGWAY_FUZZ_LONG=1). */
export const LONG_RUNS = 100_000

/** Requests (HTTP) or frames (WebSocket) a fuzz file sends, and the seed its generators start from. */
export interface FuzzSettings {
  seed: number
  runs: number
}

/**
 * Reads LOGWAY_FUZZ_SEED and LOGWAY_FUZZ_RUNS (the HTTP requests of the
 * whole fuzz: SUITE_RUNS in `npm test`, LONG_RUNS with LOGWAY_FUZZ_LONG=1).
 * `share` is this file's part of it (the HTTP fuzz is split over two files
 * that tap runs in parallel; the WebSocket fuzz sends 15% as many frames).
 * Prints both in the test output with the command that replays the run.
 */
export function fuzzSettings (t: Test, share: number): FuzzSettings {
  const seed = integerEnv('LOGWAY_FUZZ_SEED') ?? DEFAULT_SEED
  const total = integerEnv('LOGWAY_FUZZ_RUNS') ?? (process.env.LOGWAY_FUZZ_LONG === '1' ? LONG_RUNS : SUITE_RUNS)
  const runs = Math.max(1, Math.round(total * share))
  t.comment(`fuzz seed ${seed}, ${runs} runs (replay: LOGWAY_FUZZ_SEED=${seed}${total === SUITE_RUNS ? '' : ` LOGWAY_FUZZ_RUNS=${total}`} npx tap <this file>)`)
  return { seed, runs }
}

function integerEnv (name: string): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  const value = Number(raw)
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer (got ${JSON.stringify(raw)})`)
  return value
}
