/**
 * The close codes a Logway WebSocket session ends with (README "WebSocket
 * API"). Codes below 4000 are RFC 6455's; 4000–4999 are Logway's own.
 */
export const WS_CLOSE = {
  /** The server is shutting down (after in-flight produces are acknowledged). */
  GOING_AWAY: 1001,
  /** Protocol abuse: more than MAX_BAD_FRAMES frames that could not be read. */
  POLICY_VIOLATION: 1008,
  /** A frame larger than wsMaxFrameBytes (sent by `ws` itself). */
  MESSAGE_TOO_BIG: 1009,
  /** Two heartbeat pings went unanswered: the peer is gone or stuck. */
  HEARTBEAT_TIMEOUT: 4000,
  /** The send buffer stayed full for wsSlowConsumerTimeoutMs: the client does not read. */
  SLOW_CONSUMER: 4008
} as const

/** Frames that cannot be read (bad JSON, unknown type, schema violations, binary) a connection may send before it is closed with 1008. */
export const MAX_BAD_FRAMES = 100
