import t from 'tap'
import { runHttpFuzz } from './http-fuzz-runner.js'

// The admin, records and streaming half of openapi.yaml; the v2 consumer API is fuzzed by
// http-fuzz-consumers.fuzz.ts, in parallel. Together they send 20,000 requests (`npm run fuzz`; not yet part of npm test, whose time budget they would exceed).
t.test('hostile HTTP requests to the v3 API, v2 topics and produce, health, console and openapi routes', async t => {
  await runHttpFuzz(t, op => !op.path.startsWith('/consumers/'), 12_000, 0.6)
})
