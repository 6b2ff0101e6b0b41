import t from 'tap'
import { runHttpFuzz } from './http-fuzz-runner.js'

// The admin, records and streaming half of openapi.yaml (60% of the requests: 12,000 in npm test); the v2
// consumer API is fuzzed by http-fuzz-consumers.test.ts, in parallel. `npm run fuzz` sends five times as many.
t.test('hostile HTTP requests to the v3 API, v2 topics and produce, health, console and openapi routes', async t => {
  await runHttpFuzz(t, op => !op.path.startsWith('/consumers/'), 0.6)
})
