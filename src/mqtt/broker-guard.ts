/**
 * The embedded broker's hooks (aedes' `preConnect`, `authenticate`, `authorize*`): the connect rate,
 * device authentication (a token on TCP and WebSocket when it is on; always the client certificate on
 * TLS), topic authorisation and the bound on what a client has not read yet (docs/mqtt.md). Callback
 * hooks, answered here; nothing else of ours calls aedes back.
 *
 * MQTT 3.1.1 and MQTT 5 clients are told apart only where the protocols differ; aedes maps our refusals
 * to each protocol's codes:
 *
 * | refusal            | 3.1.1 CONNACK | 5 CONNACK reason code          |
 * | ------------------ | ------------- | ------------------------------ |
 * | SERVER_UNAVAILABLE | 3             | 0x88 Server unavailable        |
 * | BAD_CREDENTIALS    | 4             | 0x86 Bad User Name or Password |
 * | NOT_AUTHORIZED     | 5             | 0x87 Not authorized            |
 *
 * A refused SUBSCRIBE filter is 0x80 (3.1.1) or 0x87 (5) in the SUBACK. A refused PUBLISH closes a
 * 3.1.1 connection (it has no way to refuse one); MQTT 5 answers a QoS 1 one with PUBACK 0x87 and keeps
 * the connection (aedes 2), and drops a QoS 0 one.
 */
import type { Aedes, AuthenticateError, Client } from 'aedes'
import type { CertificateIdentity } from '../domain/certificates.js'
import type { BrokerLimits, ConnectRateLimiter } from './broker-limits.js'
import type { BrokerTls, CertificateConnections } from './certificate-identity.js'
import type { DeviceAuth, MqttIdentity } from './device-auth.js'
import { mayPublish, mayReceive, maySubscribe, mayUseClientId } from './device-auth.js'
import { PROTO_FILTER } from './aedes-hardening.js'
import type { SessionStore } from './session-store.js'

/** Device authentication on the embedded broker; without it any client may use any topic. */
export interface BrokerAuth {
  readonly auth: DeviceAuth
  /** A device's thing must be registered (and still be) when it connects. */
  readonly thingExists: (thingName: string) => Promise<boolean>
}

/** CONNACK return codes of MQTT 3.1.1 [MQTT-3.2.2.3]; aedes 2 maps them to MQTT 5 reason codes. */
export const SERVER_UNAVAILABLE = 3
export const BAD_CREDENTIALS = 4
export const NOT_AUTHORIZED = 5

/** aedes' own topics ($SYS/<broker id>/…); no client may publish there (aedes' default rule). */
const SYS_PREFIX = '$SYS/'

/** Who each connected client is, once its CONNECT was accepted (only with device authentication). */
export type Identities = WeakMap<Client, MqttIdentity>

/** The TLS listener's devices: their certificates and the registry that says who each one lets in. */
export interface CertificateAuth {
  readonly connections: CertificateConnections
  readonly check: BrokerTls['certificateIdentity']
  readonly logger?: BrokerTls['logger']
}

/** Any topic: the identity of every client on the TCP and WebSocket listeners without device authentication. */
const ANY_TOPIC: MqttIdentity = { kind: 'operator' }

/** An error aedes turns into the CONNACK return code (MQTT 5: reason code) it carries. */
export function refusal(message: string, returnCode: number): AuthenticateError {
  // AuthErrorCode is a const enum (not importable under isolatedModules); its values are MQTT's.
  return Object.assign<Error, { returnCode: AuthenticateError['returnCode'] }>(new Error(message), {
    returnCode: returnCode,
  })
}

/**
 * Installs the connect rate, device authentication and topic authorisation (docs/mqtt.md), and the
 * bound on what a client has not read yet. Returns who each authenticated client is.
 */
export function guard(
  aedes: Aedes,
  limits: BrokerLimits,
  connects: ConnectRateLimiter,
  sessions: SessionStore,
  device?: BrokerAuth,
  certificates?: CertificateAuth,
): Identities {
  const identities: Identities = new WeakMap()
  /**
   * What a client may use: what its CONNECT proved, or any topic without device authentication. A TLS
   * client is always one thing (or nothing, once its certificate was taken away), whatever the mode.
   */
  const identityOf = (client: Client): MqttIdentity | undefined =>
    identities.get(client) ??
    (device === undefined && certificates?.connections.certificateOf(client) === undefined
      ? ANY_TOPIC
      : undefined)
  /**
   * Each CONNECT's Clean Start (MQTT 3.1.1: Clean Session) flag. aedes 2's `client.clean` says whether
   * the session outlives the connection (MQTT 5: Session Expiry Interval 0), not whether the previous
   * session is resumed: an MQTT 5 client with Clean Start 0 and no expiry resumes one [MQTT-3.1.2-4].
   */
  const cleanStart = new WeakMap<Client, boolean>()
  aedes.preConnect = (client, packet, callback) => {
    cleanStart.set(client, packet.clean === true)
    callback(null, true)
  }
  // A session's inbound QoS 2 state ends with the session [MQTT-3.1.2-4] [MQTT-3.1.2-6]: when a Clean
  // Start connection has taken over the client id ('client' comes after the takeover), when a session
  // that does not outlive its connection closes, and when an MQTT 5 session expires.
  aedes.on('client', (client) => {
    if (cleanStart.get(client) === true) void sessions.cleanIncoming(client)
  })
  aedes.on('clientDisconnect', (client) => {
    if (client.clean) void sessions.cleanIncoming(client)
  })
  aedes.on('sessionExpired', (client) => void sessions.cleanIncoming(client))
  aedes.authenticate = (client, username, password, callback) => {
    connects.admit((admitted) => {
      if (!admitted)
        return callback(refusal('too many connections at once; try again', SERVER_UNAVAILABLE), false)
      const resumes = cleanStart.get(client) === false
      const certificate = certificates?.connections.certificateOf(client)
      // On the TLS listener the certificate is the credential; username and password are ignored.
      if (certificates !== undefined && certificate !== undefined)
        return byCertificate(certificates, identities, sessions, client, certificate, resumes, callback)
      if (device === undefined) return callback(null, true)
      authenticate(device, identities, sessions, client, resumes, username, password, callback)
    })
  }
  aedes.authorizePublish = (client, packet, callback) => {
    // client is null for the server's own publishes (replies, notifications).
    if (client === null) return callback(null)
    if (packet.topic.startsWith(SYS_PREFIX)) return callback(new Error(`${SYS_PREFIX} topics are reserved`))
    const identity = identityOf(client)
    if (identity === undefined || !mayPublish(identity, packet.topic)) {
      return callback(new Error(`publishing to ${packet.topic} is not allowed`))
    }
    callback(null)
  }
  aedes.authorizeSubscribe = (client, sub, callback) => {
    // A refused filter is a failure (3.1.1: 0x80, 5: 0x87) in the SUBACK; the connection stays.
    // `__proto__` never enters a session, whose restore would pass it through aedes 2.0.0-beta.1's
    // SUBSCRIBE map with the session's other filters (aedes-hardening.ts).
    if (sub.topic === PROTO_FILTER) return callback(null, null)
    const identity = identityOf(client)
    callback(null, identity !== undefined && maySubscribe(identity, sub.topic) ? sub : null)
  }
  // Every message on its way to a client, its offline queue included, passes here.
  aedes.authorizeForward = (client, packet) => {
    if (client.conn.writableLength > limits.maxOutboundBufferBytes) {
      // A reader this far behind is stalled or too slow: it goes, rather than its backlog growing.
      client.conn.destroy(new Error(`more than ${limits.maxOutboundBufferBytes} bytes unread`))
      return null
    }
    const identity = identityOf(client)
    return identity !== undefined && mayReceive(identity, packet.topic) ? packet : null
  }
  return identities
}

/**
 * Who the CONNECT proves, if anyone; a device only with its thing name as client id. `resumes`: the
 * CONNECT asks for the session kept under its client id.
 */
function authenticate(
  { auth, thingExists }: BrokerAuth,
  identities: Identities,
  sessions: SessionStore,
  client: Client,
  resumes: boolean,
  username: string | undefined,
  password: Buffer | undefined,
  callback: (error: AuthenticateError | null, success: boolean | null) => void,
): void {
  const identity = auth.verify(withoutQuery(username), password)
  if (identity === undefined) return callback(refusal('bad username or password', BAD_CREDENTIALS), false)
  if (!mayUseClientId(identity, client.id)) {
    return callback(
      refusal(`client id ${client.id} is not the thing name ${withoutQuery(username) ?? ''}`, NOT_AUTHORIZED),
      false,
    )
  }
  if (identity.kind === 'operator') {
    identities.set(client, identity)
    return callback(null, true)
  }
  const accept = (): void => {
    identities.set(client, identity)
    callback(null, true)
  }
  thingExists(identity.thingName).then(
    (exists) => {
      if (!exists)
        return callback(refusal(`thing ${identity.thingName} is not registered`, NOT_AUTHORIZED), false)
      if (!resumes) return accept()
      // A persistent session kept under this client id keeps only what this device may subscribe to.
      sessions
        .dropSubscriptions(client.id, (filter) => maySubscribe(identity, filter))
        .then(accept, () => callback(refusal('cannot check the session now', SERVER_UNAVAILABLE), false))
    },
    () => callback(refusal('cannot check the thing now', NOT_AUTHORIZED), false),
  )
}

/** Why a certificate may not connect as a thing, for the log (the client hears only "not authorized"). */
const WHY_NOT: Record<Exclude<CertificateIdentity, 'ok'>, string> = {
  unknown: 'is not registered',
  inactive: 'is not ACTIVE, or its CA is not',
  revoked: 'is REVOKED',
  'no-thing': 'names no registered thing in its client id',
  'not-attached': 'is not attached to the thing its client id names',
}

/**
 * A TLS client's CONNECT: its certificate (`null`: it presented none) must be registered, ACTIVE and
 * attached to the thing its client id names; it then acts as that thing, as a token device does. Any
 * other answer is CONNACK "not authorized" (MQTT 5: 0x87), and the reason goes to the debug log.
 */
function byCertificate(
  tls: CertificateAuth,
  identities: Identities,
  sessions: SessionStore,
  client: Client,
  certificateId: string | null,
  resumes: boolean,
  callback: (error: AuthenticateError | null, success: boolean | null) => void,
): void {
  const thingName = client.id
  const refuse = (reason: string, returnCode: number, details: object = {}): void => {
    tls.connections.refused(client)
    tls.logger?.debug(
      { clientId: thingName, certificateId, ...details },
      `MQTT over TLS: CONNECT of ${thingName} refused: ${reason}`,
    )
    callback(refusal(reason, returnCode), false)
  }
  if (certificateId === null) return refuse('the client presented no certificate', NOT_AUTHORIZED)
  const use = tls.connections.checking(client, certificateId, thingName)
  const accept = (): void => {
    // disconnectCertificate may have come while the registry or the session was read.
    if (use.revoked) return refuse(`certificate ${certificateId} was taken away`, NOT_AUTHORIZED)
    identities.set(client, { kind: 'thing', thingName })
    tls.connections.connected(client)
    callback(null, true)
  }
  tls.check(certificateId, thingName).then(
    (verdict) => {
      if (verdict !== 'ok')
        return refuse(`certificate ${certificateId} ${WHY_NOT[verdict]}`, NOT_AUTHORIZED, { verdict })
      if (!resumes) return accept()
      // As for a token device: a kept session keeps only what this thing may subscribe to.
      sessions
        .dropSubscriptions(client.id, (filter) => maySubscribe({ kind: 'thing', thingName }, filter))
        .then(accept, () => refuse('cannot check the session now', SERVER_UNAVAILABLE))
    },
    (error: unknown) => refuse('cannot check the certificate now', SERVER_UNAVAILABLE, { err: error }),
  )
}

/**
 * The username without its query string. The AWS IoT Device SDKs append usage metrics to the username
 * they send (`thing-1?SDK=IoTDeviceSDK/JS&Platform=…&Metadata=…`, unless metrics are disabled), and AWS
 * IoT reads query parameters there (a custom authorizer's name, say): the name is what comes before
 * `?`, a character neither a thing name nor OPERATOR_USERNAME has.
 */
function withoutQuery(username: string | undefined): string | undefined {
  return username?.split('?', 1)[0]
}
