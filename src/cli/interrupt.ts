/** Exit code after a second Ctrl-C: 128 + SIGINT, as shells report it. */
const FORCED_EXIT = 130

/**
 * Calls `stop` on the first SIGINT or SIGTERM, so a command can finish
 * cleanly (commit, leave its group, report); a second signal exits at once.
 * Answers the function that removes the handlers.
 */
export function onInterrupt (stop: () => void, stderr: { write: (text: string) => unknown }): () => void {
  let interrupted = false
  const handler = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      stderr.write(`logway: ${signal} again, exiting without finishing\n`)
      process.exit(FORCED_EXIT)
    }
    interrupted = true
    stop()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}
