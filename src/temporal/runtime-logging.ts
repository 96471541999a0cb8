/**
 * The Temporal SDK's process-wide Runtime, installed once before any worker connection: its logs
 * (worker, native core) go into Herald's structured logger, and, for a worker, its metrics go to a
 * Prometheus exporter. Runtime.install can run only once per process, so both live here.
 */
import { makeTelemetryFilterString, Runtime, type LogLevel, type LogMetadata, type TelemetryOptions } from '@temporalio/worker';
import type { Logger } from '../logger';

const pinoLevel: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

export interface TemporalRuntimeOptions {
  /** Native core's log threshold; the SDK is chatty below WARN. */
  coreLogLevel?: LogLevel;
  /**
   * `host:port` for the SDK's Prometheus exporter (served at /metrics there). Loopback in Herald:
   * the worker health server re-serves it next to Herald's own metrics.
   */
  prometheusBindAddress?: string;
}

/** Throws when the exporter cannot bind its address: a worker without its metrics must not start silently. */
export function installTemporalRuntime(logger: Logger, options: TemporalRuntimeOptions = {}): void {
  const telemetryOptions: TelemetryOptions = {
    logging: { filter: makeTelemetryFilterString({ core: options.coreLogLevel ?? 'WARN', other: 'ERROR' }), forward: {} },
  };
  if (options.prometheusBindAddress) {
    telemetryOptions.metrics = { prometheus: { bindAddress: options.prometheusBindAddress } };
  }
  Runtime.install({ logger: sdkLogger(logger), telemetryOptions });
}

function sdkLogger(logger: Logger) {
  const sdk = logger.child({ component: 'temporal-sdk' });
  const at = (lvl: LogLevel) => (message: string, meta?: LogMetadata) => sdk[pinoLevel[lvl]](meta ?? {}, message);
  return {
    log: (lvl: LogLevel, message: string, meta?: LogMetadata) => at(lvl)(message, meta),
    trace: at('TRACE'),
    debug: at('DEBUG'),
    info: at('INFO'),
    warn: at('WARN'),
    error: at('ERROR'),
  };
}
