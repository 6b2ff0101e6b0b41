import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mountSmallDisk } from '../helpers/small-disk.js'

const scenario = fileURLToPath(new URL('../fixtures/disk-full-scenario.ts', import.meta.url))

t.test('a full disk rejects appends with a storage error; reads go on; appends resume when space is back', async t => {
  const disk = mountSmallDisk('8m')
  if (typeof disk === 'string') {
    t.plan(0, `disk-full test skipped: ${disk}`)
    return
  }
  t.teardown(disk.unmount)
  // The scenario runs in its own process, as the server would.
  const child = spawn(process.execPath, [...process.execArgv, scenario, disk.dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
  const [code, signal] = await new Promise<[number | null, string | null]>(resolve => child.on('close', (c, s) => resolve([c, s])))
  const line = out.split('\n').find(l => l.startsWith('{'))
  if (line === undefined) {
    t.fail(`the scenario printed no result (exit ${code}, signal ${signal}): ${err.slice(-2000)}`)
    return
  }
  const r = JSON.parse(line) as {
    acked: Array<{ partition: number, offset: number, value: string }>
    failure: { code: string },
    secondFailure: { code: string }
    endsWhenFull: number[],
    endsAfterRetry: number[],
    firstRead: string,
    resumedOffset: number
    onDisk: Array<Array<[number, string]>>
  }
  t.ok(r.acked.length > 100, `${r.acked.length} appends acknowledged before the disk filled`)
  t.match(r.failure, { code: 'KAFKA_STORAGE_ERROR', message: /nearly full/ }, 'the append that did not fit is rejected with a typed storage error naming the cause')
  t.match(r.secondFailure, { code: 'KAFKA_STORAGE_ERROR' }, 'still full: still rejected, and the process is still up')
  for (const p of [0, 1]) {
    t.equal(r.endsWhenFull[p], r.acked.filter(a => a.partition === p).length, `partition ${p} end offset counts exactly the acked records`)
  }
  t.same(r.endsAfterRetry, r.endsWhenFull, 'failed appends moved no offset')
  t.equal(r.firstRead, r.acked[0]?.value, 'reads keep working on a full disk')
  t.equal(r.resumedOffset, r.endsWhenFull[0], 'appends resume at the next offset once space is back, with no gap')
  for (const p of [0, 1]) {
    const mine = r.acked.filter(a => a.partition === p).map(a => [a.offset, a.value])
    t.same(r.onDisk[p]?.slice(0, mine.length), mine, `every acked record of partition ${p} is on disk after reopen`)
  }
  t.equal(r.onDisk[0]?.at(-1)?.[1], 'after', 'the record written after recovery is there too')
  // The reserve keeps LMDB from ever meeting ENOSPC itself: lmdb-js 3.5 can
  // corrupt its native heap on that path, so a clean exit is part of the proof.
  t.equal(code, 0, `the process stayed healthy to the end (signal ${signal}) ${code === 0 ? '' : err.slice(-500)}`)
})
