/**
 * MQTT over TLS on the embedded broker, the device identified by its client certificate (docs/tls.md,
 * docs/mqtt.md#mqtt-over-tls): certificates from fleetjobs' local CA (src/pki), the registry's answer
 * from an injected fake check, the real `mqtt` client over `mqtts://` with MQTT 3.1.1 and MQTT 5. What
 * the check answers is the other side's business (the store, tested there); here: what the broker does
 * with each answer, topic isolation, `disconnectCertificate` and `connectedCertificates`, the TLS port.
 */
import mqtt from 'mqtt'
import type { IClientOptions, IConnackPacket, IDisconnectPacket, MqttClient } from 'mqtt'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { CertificateIdentity } from '../../src/domain/certificates.js'
import { DeviceAuth } from '../../src/mqtt/device-auth.js'
import type { BrokerListenError } from '../../src/mqtt/embedded-broker.js'
import { EmbeddedBroker } from '../../src/mqtt/embedded-broker.js'
import { LocalCa } from '../../src/pki/local-ca.js'
import { unique } from '../support/harness.js'
import { WAIT_MS, waitUntil } from '../support/mqtt.js'

/** CONNACK: MQTT 3.1.1 return codes, MQTT 5 reason codes. */
const NOT_AUTHORIZED = { 4: 5, 5: 0x87 } as const
const SERVER_UNAVAILABLE = { 4: 3, 5: 0x88 } as const
const PROTOCOLS = [4, 5] as const

interface Device {
  readonly pem: string
  readonly key: string
  readonly id: string
}

let dir: string
let ca: LocalCa
let server: { certPem: string; keyPem: string }
/**
 * The fake registry: `${certificateId}/${thingName}` → its answer ('fails': the check rejects, as when
 * the store is down); anything else is 'unknown'.
 */
const registry = new Map<string, CertificateIdentity | 'fails' | Promise<CertificateIdentity>>()
const checked: string[] = []
const debug: string[] = []
const check = (certificateId: string, clientId: string): Promise<CertificateIdentity> => {
  checked.push(`${certificateId}/${clientId}`)
  const answer = registry.get(`${certificateId}/${clientId}`) ?? 'unknown'
  return answer === 'fails'
    ? Promise.reject(new Error('the database is unavailable'))
    : Promise.resolve(answer)
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetjobs-mqtt-tls-'))
  ca = await LocalCa.open(dir, Date.now())
  server = await ca.serverIdentity(['127.0.0.1'], Date.now())
})
after(() => rmSync(dir, { recursive: true, force: true }))

/** A device certificate of the local CA, as CreateKeysAndCertificate issues. */
async function newDevice(): Promise<Device> {
  const issued = await ca.createKeysAndCertificate()
  return { pem: issued.certificate.pem, key: issued.privateKeyPem, id: issued.certificate.certificateId }
}

async function startBroker(options: { auth?: DeviceAuth } = {}): Promise<EmbeddedBroker> {
  return EmbeddedBroker.start(
    '127.0.0.1',
    0,
    options.auth === undefined ? undefined : { auth: options.auth, thingExists: () => Promise.resolve(true) },
    {},
    {
      port: 0,
      host: '127.0.0.1',
      key: server.keyPem,
      cert: server.certPem,
      ca: ca.caPem,
      certificateIdentity: (certificateId, clientId) => check(certificateId, clientId),
      logger: { debug: (_details, message) => debug.push(message) },
    },
  )
}

/** Connects over TLS; resolves the client and its CONNACK, or rejects with the refusal (its `code`). */
function connectTls(
  broker: EmbeddedBroker,
  device: Device | undefined,
  options: IClientOptions,
): Promise<{ client: MqttClient; connack: IConnackPacket }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtts://127.0.0.1:${broker.tlsPort ?? 0}`, {
      ca: ca.caPem,
      ...(device === undefined ? {} : { cert: device.pem, key: device.key }),
      reconnectPeriod: 0,
      connectTimeout: WAIT_MS,
      ...options,
    })
    client.once('connect', (connack) => resolve({ client, connack }))
    client.once('error', (error) => {
      client.end(true)
      reject(error)
    })
  })
}

/** The return (3.1.1) or reason (5) code a CONNECT is refused with. */
async function refusedWith(
  broker: EmbeddedBroker,
  device: Device | undefined,
  options: IClientOptions,
): Promise<number> {
  try {
    const { client } = await connectTls(broker, device, options)
    client.end(true)
  } catch (error) {
    return (error as { code?: number }).code ?? -1
  }
  throw new Error(`connected as ${String(options.clientId)}`)
}

/** The SUBACK code for one filter (mqtt.js rejects on a failure code, with the SUBACK). */
async function subscribeCode(client: MqttClient, filter: string): Promise<number> {
  try {
    return (await client.subscribeAsync(filter, { qos: 1 }))[0]?.qos ?? -1
  } catch (error) {
    return (error as { packet?: { granted?: number[] } }).packet?.granted?.[0] ?? -1
  }
}

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve, reject) => {
    if (client.disconnected) return resolve()
    const timer = setTimeout(() => reject(new Error(`still connected after ${WAIT_MS} ms`)), WAIT_MS)
    client.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

for (const protocolVersion of PROTOCOLS) {
  describe(`MQTT ${protocolVersion === 4 ? '3.1.1' : '5'} over TLS with a client certificate`, () => {
    let broker: EmbeddedBroker
    before(async () => {
      broker = await startBroker()
    })
    after(() => broker?.close())

    it('a certificate the registry accepts connects as the thing its client id names, whatever the username and password', async () => {
      const device = await newDevice()
      const thingName = unique('thing')
      registry.set(`${device.id}/${thingName}`, 'ok')
      const { client, connack } = await connectTls(broker, device, {
        protocolVersion,
        clientId: thingName,
        username: 'someone-else',
        password: 'not-a-token',
      })
      try {
        assert.equal(protocolVersion === 5 ? connack.reasonCode : connack.returnCode, 0)
        assert.ok(checked.includes(`${device.id}/${thingName}`), 'the registry was asked about this pair')
        assert.deepEqual(broker.connectedCertificates(), [{ certificateId: device.id, thingName }])
        // Its own topics, and the messages on them.
        assert.equal(await subscribeCode(client, `$aws/things/${thingName}/jobs/#`), 1)
        const received = new Promise<string>((resolve) => client.once('message', (topic) => resolve(topic)))
        await broker.publish(`$aws/things/${thingName}/jobs/notify`, '{}', 1)
        assert.equal(await received, `$aws/things/${thingName}/jobs/notify`)
      } finally {
        client.end(true)
      }
      await waitUntil('the certificate no longer in use', () =>
        broker.connectedCertificates().length === 0 ? true : undefined,
      )
    })

    it('isolation as for token devices: no other thing’s topics, no wildcard across things', async () => {
      const device = await newDevice()
      const [thingName, other] = [unique('thing'), unique('thing')]
      registry.set(`${device.id}/${thingName}`, 'ok')
      const { client } = await connectTls(broker, device, { protocolVersion, clientId: thingName })
      try {
        const refused = protocolVersion === 5 ? 0x87 : 128
        assert.equal(await subscribeCode(client, `$aws/things/${other}/jobs/notify`), refused)
        assert.equal(await subscribeCode(client, '$aws/things/+/jobs/#'), refused)
        assert.equal(await subscribeCode(client, '#'), refused)
        const publish = client.publishAsync(`$aws/things/${other}/jobs/get`, '{}', { qos: 1 })
        if (protocolVersion === 5) {
          // MQTT 5: PUBACK 0x87, the connection stays.
          await assert.rejects(publish, (error: { code?: number }) => error.code === 0x87)
          assert.equal(await subscribeCode(client, `$aws/things/${thingName}/jobs/notify`), 1)
        } else {
          // MQTT 3.1.1 cannot refuse a publish: the connection is closed.
          publish.catch(() => undefined)
          await closed(client)
        }
      } finally {
        client.end(true)
      }
    })

    it('unknown, inactive, revoked, not attached, no such thing: CONNACK not authorized, the reason in the debug log', async () => {
      const device = await newDevice()
      const verdicts = ['unknown', 'inactive', 'revoked', 'not-attached', 'no-thing'] as const
      for (const verdict of verdicts) {
        const thingName = unique('thing')
        registry.set(`${device.id}/${thingName}`, verdict)
        const from = debug.length
        assert.equal(
          await refusedWith(broker, device, { protocolVersion, clientId: thingName }),
          NOT_AUTHORIZED[protocolVersion],
          verdict,
        )
        const logged = debug.slice(from).join('\n')
        assert.match(
          logged,
          new RegExp(`CONNECT of ${thingName} refused: certificate ${device.id} `),
          verdict,
        )
      }
      assert.deepEqual(broker.connectedCertificates(), [])
    })

    it('no client certificate: CONNACK not authorized', async () => {
      const from = debug.length
      assert.equal(
        await refusedWith(broker, undefined, { protocolVersion, clientId: unique('thing') }),
        NOT_AUTHORIZED[protocolVersion],
      )
      assert.match(debug.slice(from).join('\n'), /presented no certificate/)
    })

    it('a registry that cannot answer: CONNACK server unavailable (try again)', async () => {
      const device = await newDevice()
      const thingName = unique('thing')
      registry.set(`${device.id}/${thingName}`, 'fails')
      assert.equal(
        await refusedWith(broker, device, { protocolVersion, clientId: thingName }),
        SERVER_UNAVAILABLE[protocolVersion],
      )
    })
  })
}

describe('disconnectCertificate and connectedCertificates', () => {
  let broker: EmbeddedBroker
  before(async () => {
    broker = await startBroker()
  })
  after(() => broker?.close())

  it('ends every connection of a certificate (only those acting as a thing, when named) and returns how many', async () => {
    const shared = await newDevice()
    const other = await newDevice()
    const [t1, t2, t3] = [unique('thing'), unique('thing'), unique('thing')]
    registry.set(`${shared.id}/${t1}`, 'ok')
    registry.set(`${shared.id}/${t2}`, 'ok')
    registry.set(`${other.id}/${t3}`, 'ok')
    const c1 = (await connectTls(broker, shared, { protocolVersion: 5, clientId: t1 })).client
    const c2 = (await connectTls(broker, shared, { protocolVersion: 4, clientId: t2 })).client
    const c3 = (await connectTls(broker, other, { protocolVersion: 5, clientId: t3 })).client
    try {
      const byThing = () =>
        broker
          .connectedCertificates()
          .map((c) => `${c.thingName}:${c.certificateId}`)
          .sort()
      assert.deepEqual(byThing(), [`${t1}:${shared.id}`, `${t2}:${shared.id}`, `${t3}:${other.id}`].sort())

      // MQTT 5: told why, DISCONNECT 0x87 (not authorized).
      const told = new Promise<IDisconnectPacket>((resolve) => c1.once('disconnect', resolve))
      assert.equal(broker.disconnectCertificate(shared.id, t1), 1)
      assert.equal((await told).reasonCode, 0x87)
      await closed(c1)
      assert.deepEqual(byThing(), [`${t2}:${shared.id}`, `${t3}:${other.id}`].sort())
      assert.equal(c2.connected, true, 'the same certificate acting as another thing stays')

      assert.equal(broker.disconnectCertificate(shared.id), 1)
      await closed(c2)
      assert.deepEqual(byThing(), [`${t3}:${other.id}`])
      assert.equal(c3.connected, true, 'another certificate stays')
      assert.equal(broker.disconnectCertificate('0'.repeat(64)), 0)
    } finally {
      for (const c of [c1, c2, c3]) c.end(true)
    }
  })

  it('a certificate taken away while its CONNECT is being checked is refused, whatever the registry then says', async () => {
    const device = await newDevice()
    const thingName = unique('thing')
    let answer!: (verdict: CertificateIdentity) => void
    registry.set(
      `${device.id}/${thingName}`,
      new Promise<CertificateIdentity>((resolve) => (answer = resolve)),
    )
    const attempt = refusedWith(broker, device, { protocolVersion: 5, clientId: thingName })
    await waitUntil('the check under way', () =>
      broker.connectedCertificates().some((c) => c.thingName === thingName) ? true : undefined,
    )
    assert.equal(broker.disconnectCertificate(device.id, thingName), 1)
    answer('ok')
    assert.equal(await attempt, 0x87)
    assert.deepEqual(
      broker.connectedCertificates().filter((c) => c.thingName === thingName),
      [],
    )
  })
})

describe('the TLS listener beside device tokens', () => {
  let broker: EmbeddedBroker
  let auth: DeviceAuth
  before(async () => {
    auth = DeviceAuth.load(dir)
    broker = await startBroker({ auth })
  })
  after(() => broker?.close())

  it('with token authentication on, TLS still goes by the certificate, and a token alone is not enough there', async () => {
    const device = await newDevice()
    const thingName = unique('thing')
    registry.set(`${device.id}/${thingName}`, 'ok')
    const token = { username: thingName, password: auth.tokenFor(thingName) }
    const { client } = await connectTls(broker, device, { protocolVersion: 5, clientId: thingName })
    client.end(true)
    assert.equal(
      await refusedWith(broker, undefined, { protocolVersion: 5, clientId: thingName, ...token }),
      0x87,
    )
    // The TCP listener goes by the token, as before.
    const tcp = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      protocolVersion: 5,
      clientId: thingName,
      reconnectPeriod: 0,
      ...token,
    })
    await tcp.endAsync(true)
  })
})

describe('the TLS port', () => {
  it('a taken port rejects with EADDRINUSE naming the TLS listener, and leaves nothing listening', async () => {
    const taken = await listening()
    const free = await listening()
    const freePort = (free.address() as AddressInfo).port
    await new Promise<void>((resolve) => free.close(() => resolve()))
    try {
      await assert.rejects(
        EmbeddedBroker.start(
          '127.0.0.1',
          freePort,
          undefined,
          {},
          {
            port: (taken.address() as AddressInfo).port,
            host: '127.0.0.1',
            key: server.keyPem,
            cert: server.certPem,
            certificateIdentity: check,
          },
        ),
        (error: BrokerListenError) => error.code === 'EADDRINUSE' && error.listener === 'tls',
      )
      // The TCP port it had taken is free again.
      const again = await listening(freePort)
      await new Promise<void>((resolve) => again.close(() => resolve()))
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()))
    }
  })

  it('port 0 picks a free one; without TLS there is no tlsPort', async () => {
    const plain = await EmbeddedBroker.start('127.0.0.1', 0)
    try {
      assert.equal(plain.tlsPort, undefined)
      assert.deepEqual(plain.connectedCertificates(), [])
      assert.equal(plain.disconnectCertificate('0'.repeat(64)), 0)
    } finally {
      await plain.close()
    }
    const secure = await startBroker()
    try {
      assert.ok((secure.tlsPort ?? 0) > 0)
      assert.notEqual(secure.tlsPort, secure.port)
    } finally {
      await secure.close()
    }
  })
})

function listening(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(port, '127.0.0.1', () => resolve(s))
  })
}
