import t from 'tap'
import { runHttpFuzz } from './http-fuzz-runner.js'

// The v2 consumer API half of the HTTP fuzz (40% of the requests: 8,000 in npm test; see http-fuzz.test.ts for the rest).
t.test('hostile HTTP requests to the v2 consumer API', async t => {
  await runHttpFuzz(t, op => op.path.startsWith('/consumers/'), 0.4)
})
