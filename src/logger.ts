import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Tokens, API keys and authorization headers are redacted wherever they
 * appear; post content is never logged at info level.
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'herald', ...bindings },
    redact: {
      paths: ['accessToken', 'refreshToken', 'apiKey', '*.accessToken', '*.refreshToken', '*.apiKey', 'req.headers.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}
