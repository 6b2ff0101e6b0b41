import t from 'tap'
import { colorAllowed, Output, Progress, renderTable, type OutputStream } from '../../src/cli/output.js'

/** A stream that keeps what is written; a terminal or not. */
function stream (isTTY: boolean): OutputStream & { text: () => string } {
  const chunks: string[] = []
  return {
    isTTY,
    write: (chunk: string) => { chunks.push(chunk); return true },
    once: () => undefined,
    removeListener: () => undefined,
    text: () => chunks.join('')
  }
}

t.test('renderTable aligns columns, two spaces apart, no trailing spaces', async t => {
  t.equal(renderTable(['TOPIC', 'PARTITIONS', 'RECORDS'], [['rider-updates', 2, 1234], ['a', 10, 0]]), [
    'TOPIC          PARTITIONS  RECORDS',
    'rider-updates  2           1234',
    'a              10          0',
    ''
  ].join('\n'))
  t.equal(renderTable(['A', 'B'], []), 'A  B\n', 'no rows: the header alone')
})

t.test('the header is bold only when colour is allowed', async t => {
  t.equal(renderTable(['A', 'B'], [['x', 'y']], true), '\u001b[1mA  B\u001b[22m\nx  y\n')
  t.equal(colorAllowed(stream(true), {}), true, 'a terminal')
  t.equal(colorAllowed(stream(true), { NO_COLOR: '1' }), false, 'NO_COLOR is respected')
  t.equal(colorAllowed(stream(true), { NO_COLOR: '' }), true, 'an empty NO_COLOR is unset')
  t.equal(colorAllowed(stream(false), {}), false, 'not a terminal')

  const tty = stream(true)
  await new Output({ json: false, stdout: tty, stderr: stream(true), env: { NO_COLOR: 'yes' } }).table(['A'], [['x']])
  t.equal(tty.text(), 'A\nx\n', 'Output passes NO_COLOR on')
})

t.test('progress on a terminal: at most every interval, total and rate, erased when done', async t => {
  let now = 1_000
  const stderr = stream(true)
  const progress = new Progress(stderr, 'records', { now: () => now, intervalMs: 250 })
  progress.update(10)
  now += 100
  progress.update(50)
  t.equal(stderr.text(), '', 'nothing before the interval has passed')
  now += 150
  progress.update(100)
  t.equal(stderr.text(), '\r\u001b[K100 records, 400 records/s', '100 records in 250 ms')
  now += 249
  progress.update(200)
  t.equal(stderr.text(), '\r\u001b[K100 records, 400 records/s', 'throttled')
  now += 251
  progress.update(300)
  t.equal(stderr.text().split('\r\u001b[K').pop(), '300 records, 400 records/s', 'the rate over the last interval')
  progress.done()
  t.ok(stderr.text().endsWith('\r\u001b[K'), 'the line is erased at the end')
})

t.test('progress prints nothing when stderr is not a terminal', async t => {
  let now = 0
  const stderr = stream(false)
  const progress = new Progress(stderr, 'records', { now: () => now })
  for (let i = 1; i <= 10; i++) {
    now += 1_000
    progress.update(i * 1_000)
  }
  progress.done()
  t.equal(stderr.text(), '')
})
