import type { Test } from 'tap'

/** The seed every fuzz file starts from unless LOGWAY_FUZZ_SEED names another: a failure in CI replays locally. */
export const DEFAULT_SEED = 20260701

/** Requests (HTTP) or frames (WebSocket) a fuzz file sends, and the seed its generators start from. */
export interface FuzzSettings {
  seed: number
  runs: number
}

/**
 * Reads LOGWAY_FUZZ_SEED and LOGWAY_FUZZ_RUNS (the HTTP requests of the
 * whole fuzz, 20,000 in CI). `share` is this file's part of it (the HTTP
 * fuzz is split over two files that tap runs in parallel; the WebSocket
 * fuzz sends 15% as many frames); `defaultRuns` its count in CI. Prints
 * both in the test output with the command that replays the run.
 */
export function fuzzSettings (t: Test, defaultRuns: number, share = 1): FuzzSettings {
  const seed = integerEnv('LOGWAY_FUZZ_SEED') ?? DEFAULT_SEED
  const total = integerEnv('LOGWAY_FUZZ_RUNS')
  const runs = total === undefined ? defaultRuns : Math.max(1, Math.round(total * share))
  t.comment(`fuzz seed ${seed}, ${runs} runs (replay: LOGWAY_FUZZ_SEED=${seed}${total === undefined ? '' : ` LOGWAY_FUZZ_RUNS=${total}`} npx tap <this file>)`)
  return { seed, runs }
}

function integerEnv (name: string): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  const value = Number(raw)
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer (got ${JSON.stringify(raw)})`)
  return value
}
