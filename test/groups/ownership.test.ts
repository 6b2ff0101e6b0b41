import t from 'tap'
import { assignPartitions } from '../../src/groups/assignors.js'
import type { GroupCoordinator } from '../../src/groups/group-coordinator.js'
import { TopicSubscription } from '../../src/groups/subscription.js'
import type { AssignorName, MemberEvent, Subscription } from '../../src/groups/types.js'
import type { LogStore } from '../../src/log/log-store.js'
import { openTestCoordinator, settle } from './open-test-coordinator.js'

/** A small seeded PRNG (mulberry32), so a failing sequence can be replayed. */
function random (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const SUBSCRIPTIONS: Subscription[] = [{ topics: ['p1'] }, { topics: ['p2'] }, { topics: ['p1', 'p2'] }, { pattern: 'p.*' }, { topics: ['p3', 'p1'] }]

/** Checks what must hold at every instant; returns a description of the first violation, or null. */
function violation (coordinator: GroupCoordinator, log: LogStore, groupId: string, assignor: AssignorName): string | null {
  const group = coordinator.describeGroup(groupId)
  const owners = new Map<string, string>()
  for (const member of group.members) {
    for (const { topic, partition } of member.assignment) {
      const key = `${topic}-${partition}`
      const other = owners.get(key)
      if (other !== undefined) return `${key} is owned by ${other} and ${member.memberId} in state ${group.state}`
      owners.set(key, member.memberId)
    }
  }
  if (group.state !== 'Stable') return null
  const topics = new Map(log.listTopics().map(d => [d.name, d.partitionCount]))
  const expected = assignPartitions(assignor, group.members.map(m => ({ memberId: m.memberId, topics: TopicSubscription.from(m.subscription).select(topics.keys()) })), topics)
  for (const member of group.members) {
    const want = JSON.stringify(expected.get(member.memberId))
    if (JSON.stringify(member.assignment) !== want) return `${member.memberId} owns ${JSON.stringify(member.assignment)}, the assignor says ${want}`
  }
  for (const [topic, count] of topics) {
    const subscribed = group.members.some(m => TopicSubscription.from(m.subscription).matches(topic))
    for (let p = 0; p < count; p++) {
      if (subscribed !== owners.has(`${topic}-${p}`)) return `${topic}-${p}: subscribed ${subscribed}, owned ${owners.has(`${topic}-${p}`)}`
    }
  }
  return null
}

/**
 * A client as a transport would drive it. It consumes `owned` until it
 * gives the partitions up itself (before calling rejoin, subscribe, leave,
 * or assignment while a rebalance waits for it); it learns of assignments
 * from its events, handled whenever it gets to them, or from `assignment`.
 */
interface Client {
  memberId: string
  owned: Set<string>
  /** The group's generation when it last gave its partitions up: assignments up to it are stale. */
  gaveUpAt: number
  inbox: MemberEvent[]
  polling: boolean
  /** Gives its partitions up as soon as it handles a revoke event (a WebSocket session); else only when it polls (REST). */
  eager: boolean
}

for (const [seed, assignor] of [[1, 'range'], [2, 'roundrobin'], [3, 'range'], [4, 'roundrobin'], [5, 'range']] as const) {
  t.test(`never two owners of one partition (seed ${seed}, ${assignor})`, async t => {
    const { log, clock, coordinator } = await openTestCoordinator(t, {}, { unsafeNoSync: true })
    await log.createTopic('p1', { partitions: 2 })
    await log.createTopic('p2', { partitions: 3 })
    const next = random(seed)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T
    const groupId = `prop-${seed}`
    const clients: Client[] = []
    const inGroup = (c: Client): boolean => coordinator.listGroups().length > 0 && coordinator.describeGroup(groupId).members.some(m => m.memberId === c.memberId)
    const giveUp = (c: Client): void => {
      c.owned.clear()
      c.gaveUpAt = coordinator.memberStatus(groupId, c.memberId).generationId
    }
    const take = (c: Client, generationId: number, partitions: ReadonlyArray<{ topic: string, partition: number }>): void => {
      if (generationId > c.gaveUpAt) c.owned = new Set(partitions.map(p => `${p.topic}-${p.partition}`))
    }
    const handleInbox = (c: Client): void => {
      for (const event of c.inbox.splice(0)) {
        if (event.type === 'assign') take(c, event.generationId, event.partitions)
        else if (event.type === 'removed') c.owned.clear()
        else if (c.eager && inGroup(c)) {
          giveUp(c)
          coordinator.rejoin(groupId, c.memberId)
        }
      }
    }
    let steps = 0
    let stableSeen = 0
    let moves = 0
    let topicChanges = 0
    const previousOwner = new Map<string, string>()
    const check = async (what: string): Promise<boolean> => {
      await settle()
      const owners = new Map<string, string>()
      for (const c of clients.filter(inGroup)) {
        for (const key of c.owned) {
          const other = owners.get(key)
          if (other !== undefined) {
            t.fail(`step ${steps} (${what}): ${key} is consumed by ${other} and ${c.memberId}`)
            return false
          }
          owners.set(key, c.memberId)
          if (previousOwner.has(key) && previousOwner.get(key) !== c.memberId) moves++
          previousOwner.set(key, c.memberId)
        }
      }
      if (coordinator.listGroups().length === 0) return true
      const problem = violation(coordinator, log, groupId, assignor)
      if (problem !== null) {
        t.fail(`step ${steps} (${what}): ${problem}`)
        return false
      }
      if (coordinator.describeGroup(groupId).state === 'Stable') stableSeen++
      return true
    }
    for (; steps < 500; steps++) {
      const live = clients.filter(inGroup)
      const roll = next()
      let what: string
      if (roll < 0.15 || live.length === 0) {
        const client: Client = { memberId: '', owned: new Set(), gaveUpAt: -1, inbox: [], polling: false, eager: next() < 0.5 }
        const { memberId } = await coordinator.join(groupId, {
          clientId: `c${Math.floor(next() * 10)}`,
          subscription: pick(SUBSCRIPTIONS),
          assignor,
          sessionTimeoutMs: 10_000 + Math.floor(next() * 20_000),
          rebalanceTimeoutMs: 5_000 + Math.floor(next() * 20_000),
          onEvent: event => { client.inbox.push(event) }
        })
        client.memberId = memberId
        clients.push(client)
        what = 'join'
      } else if (roll < 0.4) {
        const c = pick(clients)
        handleInbox(c)
        what = 'a client handles its events'
      } else if (roll < 0.55) {
        const c = pick(live)
        if (!c.polling) {
          if (coordinator.memberStatus(groupId, c.memberId).mustRejoin) giveUp(c)
          c.polling = true
          coordinator.assignment(groupId, c.memberId, Math.floor(next() * 5_000)).then(result => {
            c.polling = false
            if (result !== null) take(c, result.generationId, result.partitions)
          }, () => {
            c.polling = false
            c.owned.clear()
          })
        }
        what = 'poll'
      } else if (roll < 0.6) {
        const c = pick(live)
        giveUp(c)
        coordinator.leave(groupId, c.memberId)
        what = 'leave'
      } else if (roll < 0.65) {
        const c = pick(live)
        try { coordinator.heartbeat(groupId, c.memberId, coordinator.memberStatus(groupId, c.memberId).generationId) } catch {}
        what = 'heartbeat'
      } else if (roll < 0.7) {
        const c = pick(live)
        giveUp(c)
        coordinator.subscribe(groupId, c.memberId, pick(SUBSCRIPTIONS))
        what = 'subscribe'
      } else if (roll < 0.75 && topicChanges < 15) {
        topicChanges++
        const change = pick(['grow-p1', 'grow-p2', 'p3'])
        if (change === 'p3') {
          if (log.hasTopic('p3')) await log.deleteTopic('p3')
          else await log.createTopic('p3', { partitions: 1 + Math.floor(next() * 3) })
        } else {
          const topic = change === 'grow-p1' ? 'p1' : 'p2'
          await log.createPartitions(topic, log.describeTopic(topic).partitionCount + 1)
        }
        what = change
      } else {
        await clock.advance(Math.floor(next() * 8_000))
        what = 'time passes'
      }
      if (!await check(what)) break
    }
    t.equal(steps, 500, 'no partition is ever consumed by two members, and Stable means the assignor\'s exact result')
    t.ok(stableSeen > 20, `the group was Stable often enough to matter (${stableSeen} times)`)
    t.ok(moves > 10, `partitions moved between members often enough to matter (${moves} times)`)
  })
}
