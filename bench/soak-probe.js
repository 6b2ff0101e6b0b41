// Preloaded into the soak's server process only (node --import ./bench/soak-probe.js dist/cli.js
// serve …): answers the soak harness's IPC requests with the process's memory figures, so the
// product needs no debug route. Plain JavaScript, so the server process loads no TypeScript loader
// and its memory is the product's own.
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8'

process.on('message', message => {
  if (message?.type !== 'sample') return
  // Only with --expose-gc (bench/soak.ts --gc): garbage then no longer blurs the heap figures.
  if (message.gc === true) globalThis.gc?.()
  const resources = {}
  for (const name of process.getActiveResourcesInfo()) resources[name] = (resources[name] ?? 0) + 1
  const spaces = {}
  for (const space of getHeapSpaceStatistics()) spaces[space.space_name] = space.space_used_size
  process.send({ type: 'sample', id: message.id, memory: process.memoryUsage(), heap: getHeapStatistics(), spaces, resources })
})
// The channel must not keep a server that was told to stop alive.
process.channel?.unref()
