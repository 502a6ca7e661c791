/**
 * Server processes besides `Session.fleetjobsPid` and the PostgreSQL nodes (those a family starts on
 * its own, and the MQTT family's second and third fleetjobs servers), by label and process id, so
 * that `--cpu-prof` prints each one's main thread's top self time at the end of the run.
 */
export const profiledServers: { readonly label: string; readonly pid: number }[] = []
