/** The console's pages, addressed by the URL's hash (`#/jobs/<id>`): no server routes needed. */

export type Route =
  | { readonly page: 'jobs' }
  | { readonly page: 'job'; readonly jobId: string }
  | { readonly page: 'things' }
  | { readonly page: 'thing'; readonly thingName: string }
  | { readonly page: 'groups' }
  | { readonly page: 'group'; readonly groupName: string }
  | { readonly page: 'templates' }
  | { readonly page: 'template'; readonly templateId: string }
  | { readonly page: 'not-found'; readonly hash: string }

const LISTS = { jobs: 'job', things: 'thing', groups: 'group', templates: 'template' } as const

/** `#/jobs/a%2Fb` → `{ page: 'job', jobId: 'a/b' }`; empty → the jobs list; anything else → not-found. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\/+/, '').replace(/\/+$/, '')
  if (path === '') return { page: 'jobs' }
  const parts = path.split('/')
  const [list, id, ...rest] = parts
  if (list === undefined || !(list in LISTS) || rest.length > 0) return { page: 'not-found', hash }
  const kind = LISTS[list as keyof typeof LISTS]
  if (id === undefined) return { page: list as 'jobs' | 'things' | 'groups' | 'templates' }
  let name: string
  try {
    name = decodeURIComponent(id)
  } catch {
    // A hand-typed hash with a broken escape: not a page.
    return { page: 'not-found', hash }
  }
  if (name === '') return { page: 'not-found', hash }
  switch (kind) {
    case 'job':
      return { page: 'job', jobId: name }
    case 'thing':
      return { page: 'thing', thingName: name }
    case 'group':
      return { page: 'group', groupName: name }
    case 'template':
      return { page: 'template', templateId: name }
  }
}

/** The hash of a page (the inverse of parseRoute). */
export function hrefOf(route: Route): string {
  switch (route.page) {
    case 'jobs':
    case 'things':
    case 'groups':
    case 'templates':
      return `#/${route.page}`
    case 'job':
      return `#/jobs/${encodeURIComponent(route.jobId)}`
    case 'thing':
      return `#/things/${encodeURIComponent(route.thingName)}`
    case 'group':
      return `#/groups/${encodeURIComponent(route.groupName)}`
    case 'template':
      return `#/templates/${encodeURIComponent(route.templateId)}`
    case 'not-found':
      return route.hash
  }
}

/** Which top-level section a page belongs to (for the navigation bar). */
export function sectionOf(route: Route): 'jobs' | 'things' | 'groups' | 'templates' | undefined {
  switch (route.page) {
    case 'jobs':
    case 'job':
      return 'jobs'
    case 'things':
    case 'thing':
      return 'things'
    case 'groups':
    case 'group':
      return 'groups'
    case 'templates':
    case 'template':
      return 'templates'
    case 'not-found':
      return undefined
  }
}
