/**
 * Not a server: a load-generator child of the MQTT family. It holds a slice of the simulated devices
 * (`lib/mqtt-devices.ts`), one `mqtt` client connection each, so the bench can spread 10,000
 * connections over a few processes (each within its own file-descriptor limit and event loop).
 *
 * Calls: `connect` (ConnectArgs → ConnectResult), `waitForFlows` (FinishArgs → FinishResult),
 * `rss`; `close` disconnects every device.
 */
import type { ConnectArgs, FinishArgs } from '../lib/mqtt-devices.js'
import { DeviceFleet } from '../lib/mqtt-devices.js'
import { cpuMs, residentBytes, serveChild } from './child-ipc.js'

await serveChild(() => {
  const fleet = new DeviceFleet()
  return Promise.resolve({
    info: { url: '', dataPlaneUrl: '' },
    handlers: {
      connect: (args) => fleet.connect(args as ConnectArgs),
      waitForFlows: (args) => fleet.waitForFlows(args as FinishArgs),
      rss: residentBytes,
      cpuMs,
    },
    close: () => fleet.close(),
  })
})
