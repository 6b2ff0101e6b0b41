// The OpenAPI fields routes may carry in their schema. @fastify/swagger (a dev
// dependency, used only by scripts/generate-openapi.ts) declares the same
// fields; this keeps the runtime build from depending on its types.
declare module 'fastify' {
  interface FastifySchema {
    tags?: readonly string[]
    description?: string
    summary?: string
    operationId?: string
  }
}

export {}
