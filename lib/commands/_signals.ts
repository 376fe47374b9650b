/**
 * The graceful stop of the long-running commands (train, experiment): the first SIGINT or
 * SIGTERM asks the work to stop at its next step, a second one exits at once (130).
 * @module
 */

/** A listener for SIGINT / SIGTERM; see {@link listenForStop}. */
export interface StopSignal {
  /** True once a first signal arrived. */
  readonly requested: boolean;
  /** Removes the listeners. */
  dispose(): void;
}

/**
 * Listens for SIGINT and SIGTERM until `dispose()`: the first sets `requested` and says on
 * stderr that `recsimu <command>` stops at the next step; a second exits with code 130.
 */
export function listenForStop(command: string): StopSignal {
  let requested = false;
  const onSignal = () => {
    if (requested) Deno.exit(130);
    requested = true;
    console.error(`\nrecsimu ${command}: stopping at the next step (again to abort)…`);
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  return {
    get requested() {
      return requested;
    },
    dispose() {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
    },
  };
}
