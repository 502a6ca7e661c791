/**
 * The broker contract with fleetjobs as a client of the Mosquitto broker that runs on this machine
 * (127.0.0.1:1883, or FLEETJOBS_TEST_MOSQUITTO_URL); devices connect to Mosquitto too. Every test uses
 * fresh thing names, so runs that share the broker never touch each other's executions.
 *
 * One limit the names cannot lift: every fleetjobs server subscribed to a broker answers every request
 * on it, and one that does not know the thing answers ResourceNotFound. If another fleetjobs process
 * is connected to the same broker while this file runs, a device can get that foreign rejection before
 * the real reply, and a test fails naming ResourceNotFound. The suite itself never connects two servers
 * to this broker at once (its harnesses run one after the other). [spec: jobs-device-api#6]
 */
import { describeBrokerContract } from './broker.contract.js'

const MOSQUITTO_URL = process.env['FLEETJOBS_TEST_MOSQUITTO_URL'] ?? 'mqtt://127.0.0.1:1883'

describeBrokerContract('an external Mosquitto broker', {
  mqtt: { port: 0, url: MOSQUITTO_URL },
  deviceUrl: MOSQUITTO_URL,
})

// MQTT 5 devices: fleetjobs connects to Mosquitto with MQTT 5 too, so a request's Correlation Data
// reaches it and comes back on the reply. [docs: mqtt.md#mqtt-5]
describeBrokerContract('an external Mosquitto broker, devices on MQTT 5', {
  mqtt: { port: 0, url: MOSQUITTO_URL },
  deviceUrl: MOSQUITTO_URL,
  deviceOptions: { protocolVersion: 5 },
})
