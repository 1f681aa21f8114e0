/** A node's API as tests reach it: its URL and the token every request must carry. */
export interface ApiTarget { readonly url?: string, readonly token?: string }

/** `fetch` of a path on a node's API, with its token; a GET is sent again once when its kept-alive connection was closed as it was reused, as the CLI does. */
export async function api (node: ApiTarget, path: string, init: RequestInit = {}): Promise<Response> {
  const request = async (): Promise<Response> => await fetch(`${node.url ?? ''}${path}`, {
    ...init,
    headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${node.token ?? ''}` }
  })
  try {
    return await request()
  } catch (err) {
    if ((init.method ?? 'GET') !== 'GET' || (err as { cause?: { code?: string } }).cause?.code !== 'UND_ERR_SOCKET') throw err
    return await request()
  }
}
