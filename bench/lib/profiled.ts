/**
 * Server processes a family starts on its own (not through `Session`), by label and process id, so
 * that `--cpu-prof` prints each one's main thread's top self time at the end of the run.
 */
export const profiledServers: { readonly label: string; readonly pid: number }[] = []
