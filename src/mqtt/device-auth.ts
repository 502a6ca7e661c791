/**
 * Device identity and isolation on the embedded broker (issue 4 §7, docs/mqtt.md#device-authentication).
 *
 * A device connects with username = its thing name, password = its device token, an HMAC-SHA256 of
 * the thing name under the server's device secret (`fleetjobs device-token <thing>` prints it), and
 * client id = its thing name (AWS IoT's usual policy, `iot:Connect` on `client/${iot:Connection.Thing.ThingName}`),
 * so that no device can take over another's session or push it off. The thing must be registered. A
 * device may publish and subscribe only under `$aws/things/{its thing}/`, and receives nothing else;
 * anything else is refused (CONNACK "not authorized", SUBACK failure, or the connection closed on a
 * refused publish, which MQTT 3.1.1 cannot refuse otherwise).
 *
 * The operator's client (for events, monitoring) connects as `OPERATOR_USERNAME` with the operator
 * token and may use any topic.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The username of the operator's client; no thing can have it (`*` is not a thing-name character). */
export const OPERATOR_USERNAME = '*operator*'
/** The device secret's file in the data directory. */
export const DEVICE_SECRET_FILE = 'mqtt-device-secret'

export type MqttIdentity =
  { readonly kind: 'thing'; readonly thingName: string } | { readonly kind: 'operator' }

export class DeviceAuth {
  private constructor(private readonly secret: Buffer) {}

  /**
   * The secret from `secret` when given (several nodes must share one), else from the data directory,
   * created there on first use (mode 0600).
   */
  static load(dataDir: string, secret?: string): DeviceAuth {
    if (secret !== undefined && secret !== '') return new DeviceAuth(Buffer.from(secret, 'utf8'))
    const file = join(dataDir, DEVICE_SECRET_FILE)
    if (!existsSync(file)) {
      mkdirSync(dataDir, { recursive: true })
      writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' })
      chmodSync(file, 0o600)
    }
    return new DeviceAuth(Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8'))
  }

  /** The password of a thing's device (or of the operator, for OPERATOR_USERNAME). */
  tokenFor(username: string): string {
    return createHmac('sha256', this.secret).update(`fleetjobs-mqtt:${username}`).digest('base64url')
  }

  /** Who the credentials prove, or undefined. */
  verify(username: string | undefined, password: Buffer | undefined): MqttIdentity | undefined {
    if (username === undefined || username === '' || password === undefined) return undefined
    const expected = Buffer.from(this.tokenFor(username), 'utf8')
    if (password.length !== expected.length || !timingSafeEqual(password, expected)) return undefined
    return username === OPERATOR_USERNAME ? { kind: 'operator' } : { kind: 'thing', thingName: username }
  }
}

/** The prefix of every topic a thing's device may use. */
function thingPrefix(thingName: string): string {
  return `$aws/things/${thingName}/`
}

/**
 * A device must connect with its thing name as client id; the operator may use any. MQTT lets a new
 * connection with a client id take over that id's session and close its connection [MQTT-3.1.4-2], so
 * without this rule a device could read another's queued messages and push it off.
 */
export function mayUseClientId(identity: MqttIdentity, clientId: string): boolean {
  return identity.kind === 'operator' || clientId === identity.thingName
}

/**
 * A device receives only messages on its own thing's topics, whatever its session holds (a session
 * restored from before, an offline queue): checked for every message the broker forwards.
 */
export function mayReceive(identity: MqttIdentity, topic: string): boolean {
  return withinOwnTopics(identity, topic)
}

/** A device may publish only under its own thing's topics. */
export function mayPublish(identity: MqttIdentity, topic: string): boolean {
  return withinOwnTopics(identity, topic)
}

/**
 * A device may subscribe only to filters that match nothing outside its own thing's topics: the
 * filter must start with the literal prefix (no wildcard before it), so `$aws/things/t1/jobs/#` is
 * allowed and `$aws/things/+/jobs/#`, `#`, `$share/…` are not.
 */
export function maySubscribe(identity: MqttIdentity, filter: string): boolean {
  return withinOwnTopics(identity, filter)
}

/** The operator anywhere; a device only under the literal prefix of its own thing's topics. */
function withinOwnTopics(identity: MqttIdentity, topicOrFilter: string): boolean {
  return identity.kind === 'operator' || topicOrFilter.startsWith(thingPrefix(identity.thingName))
}

/** Whether an address only the local machine can reach (authentication may then default to off). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/**
 * Whether the embedded broker requires device authentication: `on` and `off` say so; `auto` (the
 * default) is off only when the server listens on loopback, where nothing else can reach it.
 */
export function deviceAuthEnabled(mode: 'on' | 'off' | 'auto' | undefined, host: string): boolean {
  if (mode === 'on') return true
  if (mode === 'off') return false
  return !isLoopback(host)
}
