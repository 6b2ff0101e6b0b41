/**
 * A command that could not do its job for a reason other than how it was
 * called (exit code 1): the server refused a request, could not be reached,
 * a file could not be read. The message is one line for `logway: <message>`.
 */
export class CliFailure extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CliFailure'
  }
}
