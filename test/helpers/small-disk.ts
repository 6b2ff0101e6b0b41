import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A size-limited tmpfs mounted for one test, and how to unmount it. */
export interface SmallDisk {
  dir: string
  unmount: () => void
}

/**
 * A real full disk: a tmpfs of `size` (mount's notation: '8m') mounted on a
 * new temp dir. Mounting needs root: answers why it cannot, for the test to
 * skip with, when not root or when the mount fails.
 */
export function mountSmallDisk (size: string): SmallDisk | string {
  if (process.getuid?.() !== 0) return 'needs root to mount a size-limited tmpfs'
  const dir = mkdtempSync(join(tmpdir(), 'logway-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    return `cannot mount tmpfs here: ${(err as Error).message.split('\n')[0]}`
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', ['-l', dir])
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
