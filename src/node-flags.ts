/**
 * The V8 flags `logway serve` runs with. They are written out where Node reads
 * them before any code runs (the shebang of src/cli.ts and the `start` script
 * in package.json); test/node-flags.test.ts keeps those in step with this list,
 * and the benchmarks and the soak start their servers with it.
 *
 * --max-semi-space-size=32 doubles the young generation's semi-spaces (16 MiB
 * by default on 64-bit Node 20). A produce request's parsed body and answer
 * live across its fsync wait, long enough to survive a scavenge of 16 MiB and
 * be promoted, so the old generation fills with garbage that only a full mark
 * clears; with 32 MiB most of it dies young. Measured on the 2-core bench
 * machine: records:batch went from 2.0–2.5 to 1.75–1.8 µs of server-thread CPU
 * per record. It costs at most 32 MiB more RSS.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32']
