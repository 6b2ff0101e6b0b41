import type { Test } from 'tap'
import { GroupCoordinator, type GroupCoordinatorOptions } from '../../src/groups/group-coordinator.js'
import type { MemberEvent } from '../../src/groups/types.js'
import type { LogStoreOptions } from '../../src/log/log-store.js'
import { openTestLog } from '../helpers/open-test-log.js'

/** A log in the test's own data dir and a coordinator on it, both with one manual clock; closed at teardown. */
export async function openTestCoordinator (t: Test, options: Partial<GroupCoordinatorOptions> = {}, logOptions: Partial<LogStoreOptions> = {}) {
  const opened = await openTestLog(t, logOptions)
  const coordinator = await GroupCoordinator.open({ log: opened.log, clock: opened.clock, ...options })
  t.teardown(() => coordinator.close())
  return { ...opened, coordinator }
}

/** Collects a member's events. */
export function recorder (): { events: MemberEvent[], onEvent: (event: MemberEvent) => void, take: () => MemberEvent[] } {
  const events: MemberEvent[] = []
  return { events, onEvent: event => { events.push(event) }, take: () => events.splice(0) }
}

/** Lets queued events and promise callbacks run. */
export async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>(resolve => setImmediate(resolve))
}

export const code = (c: string) => ({ name: 'LogwayError', code: c })

/** `topic-partition` strings, for compact assertions. */
export const names = (partitions: ReadonlyArray<{ topic: string, partition: number }>): string[] => partitions.map(p => `${p.topic}-${p.partition}`)
