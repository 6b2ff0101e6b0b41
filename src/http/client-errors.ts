import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { renderError } from './error-handler.js'

/** A failure of Node's HTTP parser or of its request timers, as the server's 'clientError' event hands it over. */
interface ClientError extends Error {
  code?: string
}

/**
 * Fastify's `clientErrorHandler`: a request Node refuses before it becomes a
 * request (no route, hook or reply exists yet) is answered with the usual
 * error body, written on the socket, and the connection is closed. Headers
 * over maxHeaderBytes are 431, a request head not received within Node's
 * headersTimeout is 408, anything else the parser rejects is 400.
 */
export function handleClientError (this: FastifyInstance, err: ClientError, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  const message = status === 431
    ? 'The request line and headers are larger than the server\'s maxHeaderBytes'
    : status === 408 ? 'The request was not received in time' : `The request is not valid HTTP (${err.code ?? 'parse error'})`
  const { body } = renderError(Object.assign(new Error(message), { statusCode: status }))
  this.log.debug({ code: err.code }, 'client error')
  if (socket.writable) {
    const json = JSON.stringify(body)
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`)
  }
  socket.destroy()
}
