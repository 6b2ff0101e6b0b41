import t from 'tap'
import { runHttpFuzz } from './http-fuzz-runner.js'

// The v2 consumer API half of the HTTP fuzz (see http-fuzz.fuzz.ts for the rest).
t.test('hostile HTTP requests to the v2 consumer API', async t => {
  await runHttpFuzz(t, op => op.path.startsWith('/consumers/'), 8_000, 0.4)
})
