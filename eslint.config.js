import neostandard from 'neostandard'

// Imports point down only: cli → server → {http, ws} → groups → log → errors; src/records (how
// keys and values are written in JSON: BINARY, STRING, JSON) sits beside log and serves http and ws.
// Each folder lists the folders it must never import from.
const layers = [
  { files: ['src/log/**/*.ts'], banned: ['../groups', '../http', '../ws', '../server', '../cli', 'fastify', '@fastify/*'] },
  { files: ['src/records/**/*.ts'], banned: ['../log', '../groups', '../http', '../ws', '../server', '../cli', 'fastify', '@fastify/*'] },
  { files: ['src/groups/**/*.ts'], banned: ['../http', '../ws', '../server', '../cli', 'fastify', '@fastify/*'] },
  { files: ['src/http/**/*.ts'], banned: ['../ws', '../server', '../cli'] },
  { files: ['src/ws/**/*.ts'], banned: ['../http', '../server', '../cli'] },
  // The CLI's client commands speak only the public HTTP API; they may use src/records' encodings and src/errors.
  { files: ['src/cli/**/*.ts'], banned: ['../http', '../ws', '../server', '../log', '../groups', 'fastify', '@fastify/*'] },
  { files: ['src/errors.ts', 'src/clock.ts'], banned: ['./log', './groups', './http', './ws', './server', './cli', 'fastify', '@fastify/*'] }
]

// Written by `npm run openapi` in openapi-typescript's own formatting; a test fails when they are stale.
const generated = ['test/client/logway-api.ts']

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'dist-check/**', 'node_modules/**', '.tap/**', 'data/**', ...generated] }),
  ...layers.map(({ files, banned }) => ({
    files,
    rules: {
      'no-restricted-imports': ['error', {
        patterns: banned.map(group => ({ group: [group, `${group}/**`], message: 'imports point down only (see STYLE.md)' }))
      }]
    }
  }))
]
