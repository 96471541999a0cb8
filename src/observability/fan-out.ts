/**
 * One HeraldEvents that forwards each event to several sinks (metrics, logs). The contract says an
 * implementation never throws: a failing sink must not fail a publish or an API request, nor stop
 * the other sinks from hearing the event.
 */
import type { HeraldEvents } from './events';

type EventName = keyof HeraldEvents;

export function fanOutEvents(sinks: HeraldEvents[], onSinkError: (event: EventName, err: unknown) => void = () => undefined): HeraldEvents {
  const forward =
    <K extends EventName>(name: K) =>
    (event: Parameters<HeraldEvents[K]>[0]): void => {
      for (const sink of sinks) {
        try {
          (sink[name] as (payload: typeof event) => void)(event);
        } catch (err) {
          try {
            onSinkError(name, err);
          } catch {
            // the error reporter itself failed: nothing safer left to do than carry on
          }
        }
      }
    };
  return {
    postCreated: forward('postCreated'),
    partPublished: forward('partPublished'),
    partFailed: forward('partFailed'),
    postFinished: forward('postFinished'),
  };
}
