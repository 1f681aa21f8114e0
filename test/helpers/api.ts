/** A node's API as tests reach it: its URL and the token every request must carry. */
export interface ApiTarget { readonly url?: string, readonly token?: string }

/** `fetch` of a path on a node's API, with its token. */
export async function api (node: ApiTarget, path: string, init: RequestInit = {}): Promise<Response> {
  return await fetch(`${node.url ?? ''}${path}`, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${node.token ?? ''}` } })
}
