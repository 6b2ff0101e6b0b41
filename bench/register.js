// Lets Node 20 (no type stripping) run a bench file written in TypeScript:
//   node --import ./bench/register.js bench/<name>.ts
// It reuses the ts-node ESM loader that tap already runs the tests with (tap's
// built-in @tapjs/typescript plugin), in transpile-only mode: no type check at
// run time; `npm run typecheck` covers bench/ through tsconfig.json.
import { fileURLToPath } from 'node:url'

process.env.TS_NODE_TRANSPILE_ONLY ??= '1'
process.env.TS_NODE_PROJECT ??= fileURLToPath(new URL('../tsconfig.json', import.meta.url))
await import('@tapjs/typescript/import')
