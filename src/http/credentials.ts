/**
 * The access keys SigV4 verification accepts, read from a file in the format of the AWS CLI's shared
 * credentials file (`[profile]` sections with `aws_access_key_id` and `aws_secret_access_key`), parsed
 * by the AWS SDK's own loader, so users reuse the file they have. [spec: wire-protocol#7]
 */
import { loadSharedConfigFiles } from '@smithy/shared-ini-file-loader'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import type { Credentials } from './sigv4.js'

/** The file is missing, unreadable, or holds no complete key pair. */
export class CredentialsFileError extends Error {}

export async function loadCredentialsFile(path: string): Promise<Credentials> {
  if (!existsSync(path)) throw new CredentialsFileError(`--credentials-file ${path} does not exist`)
  const { credentialsFile } = await loadSharedConfigFiles({
    filepath: path,
    // Only the credentials file is read: the config file's path names nothing.
    configFilepath: join(tmpdir(), `fleetjobs-no-aws-config-${process.pid}`),
    ignoreCache: true,
  })
  const keys = new Map<string, string>()
  for (const profile of Object.values(credentialsFile)) {
    const id = profile['aws_access_key_id']
    const secret = profile['aws_secret_access_key']
    if (typeof id === 'string' && id !== '' && typeof secret === 'string' && secret !== '')
      keys.set(id, secret)
  }
  if (keys.size === 0) {
    throw new CredentialsFileError(
      `--credentials-file ${path} holds no profile with both aws_access_key_id and aws_secret_access_key`,
    )
  }
  return keys
}
