import { render } from 'preact'
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks'
import { ApiFailure, apiPath, download, get, head, login, post, stream } from './api.js'
import { duration, short, size, triggerText, when } from './format.js'
import { Graph, type StepView } from './graph.js'
import type { Entry, LogChunk, NodeInfo, Peer, Run, RunEvent, RunWithSteps, Triggers } from './types.js'

/** The page the address names: `#/`, `#/runs/<id>`, `#/nodes`, `#/triggers`. */
function useRoute (): string[] {
  const read = (): string[] => location.hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '').map(decodeURIComponent)
  const [route, setRoute] = useState(read)
  useEffect(() => {
    const on = (): void => { setRoute(read()) }
    addEventListener('hashchange', on)
    return () => { removeEventListener('hashchange', on) }
  }, [])
  return route
}

/** A failure shown in one line; a 401 says how to log in. */
function Failure (props: { error: unknown }): preact.JSX.Element {
  const error = props.error
  if (error instanceof ApiFailure && error.status === 401) {
    return <p class='error' role='alert'>Not logged in: run <code>bac dashboard</code> (or open the login URL <code>bac serve</code> printed, once, within 10 minutes).</p>
  }
  return <p class='error' role='alert'>{error instanceof Error ? error.message : String(error)}</p>
}

function Status (props: { status: string }): preact.JSX.Element {
  return <span class={`badge ${props.status}`}>{props.status}</span>
}

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted']
const PAGE = 50

/** Runs, newest first, kept live from the node's event stream; filters by status and pipeline, search by run id or CID. */
function RunsPage (): preact.JSX.Element {
  const [runs, setRuns] = useState<Run[]>([])
  const [error, setError] = useState<unknown>()
  const [status, setStatus] = useState('')
  const [pipeline, setPipeline] = useState('')
  const [search, setSearch] = useState('')
  const [more, setMore] = useState(false)
  const [changed, setChanged] = useState(0)
  const query = search.trim()
  const load = useCallback(async (before?: string): Promise<void> => {
    try {
      const isCid = /^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{20,})$/.test(query)
      const params = new URLSearchParams({ limit: String(PAGE) })
      if (before !== undefined) params.set('before', before)
      if (isCid) params.set('cid', query)
      let list = await get<Run[]>(`/api/v1/runs?${params.toString()}`)
      if (query !== '' && !isCid) {
        // a run id or a prefix of one: the node finds it among all its runs
        list = await get<Run>(apiPath('runs', query)).then((r) => [r], () => [])
      }
      setMore(list.length === PAGE && query === '')
      setRuns((shown) => before === undefined ? list : [...shown, ...list])
      setError(undefined)
    } catch (err) {
      setError(err)
    }
  }, [query])
  useEffect(() => { void load() }, [load, changed])
  useEffect(() => {
    // the node's events: a run that starts or ends is shown at once (the list is read again, at most every 300 ms)
    const controller = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    void stream<RunEvent>('/api/v1/events', (event) => {
      if (event.type !== 'run:start' && event.type !== 'run:end' && event.type !== 'step:end') return
      timer ??= setTimeout(() => { timer = undefined; setChanged((n) => n + 1) }, 300)
    }, controller.signal).catch(setError)
    return () => { controller.abort(); clearTimeout(timer) }
  }, [])
  const pipelines = useMemo(() => [...new Set(runs.map((r) => r.pipeline))].sort(), [runs])
  const shown = runs.filter((r) => (status === '' || r.status === status) && (pipeline === '' || r.pipeline === pipeline))
  return (
    <section>
      <h1>Runs</h1>
      <form class='filters' role='search' onSubmit={(e) => { e.preventDefault() }}>
        <label>Status <select value={status} onChange={(e) => { setStatus(e.currentTarget.value) }}>
          <option value=''>any</option>{STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select></label>
        <label>Pipeline <select value={pipeline} onChange={(e) => { setPipeline(e.currentTarget.value) }}>
          <option value=''>any</option>{pipelines.map((p) => <option key={p} value={p}>{p}</option>)}
        </select></label>
        <label>Search <input type='search' placeholder='run id or CID' value={search} onInput={(e) => { setSearch(e.currentTarget.value) }} /></label>
      </form>
      {error !== undefined && <Failure error={error} />}
      <div class='scroll'>
        <table class='runs'>
          <thead><tr><th>Status</th><th>Run</th><th>Pipeline</th><th>Trigger</th><th>Started</th><th>Duration</th><th>Result</th></tr></thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.id} data-run={r.id}>
                <td><Status status={r.status} /></td>
                <td><a href={`#/runs/${r.id}`}>{r.id}</a></td>
                <td>{r.pipeline}</td>
                <td>{triggerText(r.trigger)}</td>
                <td>{when(r.startedAt ?? r.createdAt)}</td>
                <td>{duration(r.startedAt !== undefined ? (r.endedAt ?? Date.now()) - r.startedAt : undefined)}</td>
                <td class='cid' title={r.resultCid}>{short(r.resultCid)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {shown.length === 0 && error === undefined && <p class='note'>No runs{query !== '' ? ` match ${query}` : ' yet'}.</p>}
      {more && <button type='button' onClick={() => { void load(runs.at(-1)?.id) }}>Older runs</button>}
    </section>
  )
}

/** Each step's state from the run's record: status, n/N, nodes, retries and their reasons, a cache hit. */
function stepViews (run: RunWithSteps, live: Map<string, string>): Map<string, StepView> {
  const views = new Map<string, StepView>()
  for (const step of run.graph?.steps ?? []) {
    const record = run.steps.find((s) => s.stepId === step.id)
    const attempts = run.executions.filter((e) => e.stepId === step.id)
    const instances = new Map<string, boolean>()
    for (const e of attempts) {
      const key = `${e.item ?? '-'}@${e.node}`
      instances.set(key, instances.get(key) === true || (e.exitCode === 0 && e.outputsCid !== undefined))
    }
    const retries = attempts.filter((e) => e.attempt > 1).map((e) => {
      const before = attempts.find((b) => b.attempt === e.attempt - 1 && b.item === e.item)
      return `attempt ${e.attempt} on ${e.node}${before?.error !== undefined ? ` after: ${before.error}` : ''}`
    })
    const cached = Object.values(record?.cachedFrom ?? {})[0]
    views.set(step.id, {
      status: live.get(step.id) ?? record?.status ?? 'waiting',
      ...(instances.size > 1 || step.foreach ? { done: [...instances.values()].filter(Boolean).length, of: instances.size } : {}),
      nodes: [...new Set(attempts.map((e) => e.node))],
      retries,
      ...(cached !== undefined ? { cachedFrom: cached.runId } : {})
    })
  }
  return views
}

/** A run: its graph (live while it runs), a step's logs, its result as files, its signed record, a cancel button. */
function RunPage (props: { id: string }): preact.JSX.Element {
  const [run, setRun] = useState<RunWithSteps>()
  const [error, setError] = useState<unknown>()
  const [live, setLive] = useState(new Map<string, string>())
  const [selected, setSelected] = useState<string>()
  const [reload, setReload] = useState(0)
  useEffect(() => {
    get<RunWithSteps>(apiPath('runs', props.id)).then(setRun, setError)
  }, [props.id, reload])
  const ended = run !== undefined && !['queued', 'running'].includes(run.status)
  useEffect(() => {
    if (run === undefined || ended) return
    // its events while it runs: each step's status as it changes, the whole record again at its end
    const controller = new AbortController()
    void stream<RunEvent>(apiPath('runs', run.id, 'events'), (event) => {
      if (event.type === 'step:start') setLive((m) => new Map(m).set(event.stepId, 'running'))
      if (event.type === 'step:end') { setLive((m) => new Map(m).set(event.stepId, event.status)); setReload((n) => n + 1) }
      if (event.type === 'run:end') { setLive(new Map()); setReload((n) => n + 1) }
    }, controller.signal).catch(setError)
    return () => { controller.abort() }
  }, [run?.id, ended])
  if (error !== undefined) return <section><h1>Run {props.id}</h1><Failure error={error} /></section>
  if (run === undefined) return <section><h1>Run {props.id}</h1><p class='note'>Loading…</p></section>
  const views = stepViews(run, live)
  const cancel = (): void => { post(apiPath('runs', run.id, 'cancel')).then(() => { setReload((n) => n + 1) }, setError) }
  const saveCar = (): void => { download(`content/${run.resultCid ?? ''}`, `${run.resultCid ?? ''}.car`).catch(setError) }
  return (
    <section>
      <h1>Run <span class='mono'>{run.id}</span> <Status status={run.status} /></h1>
      <dl class='facts'>
        <dt>Pipeline</dt><dd>{run.pipeline} <span class='mono dim'>{run.pipelineFile}</span></dd>
        <dt>Trigger</dt><dd>{triggerText(run.trigger)}</dd>
        <dt>Started</dt><dd>{when(run.startedAt)} ({duration(run.startedAt !== undefined ? (run.endedAt ?? Date.now()) - run.startedAt : undefined)})</dd>
        {run.reason !== undefined && <><dt>Reason</dt><dd>{run.reason}</dd></>}
        <dt>Result</dt><dd class='mono'>{run.resultCid ?? '-'}
          {run.resultCid !== undefined && <> <button type='button' class='link' onClick={saveCar}>download as CAR</button></>}</dd>
      </dl>
      {!ended && <button type='button' class='danger' onClick={cancel}>Cancel run</button>}
      {run.graph !== undefined
        ? <div class='scroll'><Graph steps={run.graph.steps} views={views} {...(selected !== undefined ? { selected } : {})} onSelect={setSelected} /></div>
        : <p class='note'>This run was made before bac kept a run's graph.</p>}
      <Attempts run={run} onSelect={setSelected} />
      {selected !== undefined && <Logs runId={run.id} step={selected} follow={!ended} />}
      {run.resultCid !== undefined && <Files root={run.resultCid} />}
      {run.provenanceCid !== undefined && <Provenance runId={run.id} />}
    </section>
  )
}

/** Every attempt of every step: the instance, the node that ran it, how it ended and why; a cached step names the run its outputs came from. */
function Attempts (props: { run: RunWithSteps, onSelect: (step: string) => void }): preact.JSX.Element {
  const { run } = props
  const cached = run.steps.flatMap((s) => Object.entries(s.cachedFrom ?? {}).map(([item, from]) => ({ step: s.stepId, item, from })))
  if (run.executions.length === 0 && cached.length === 0) return <></>
  return (
    <section class='panel'>
      <h2>Attempts</h2>
      <div class='scroll'>
        <table class='attempts'>
          <thead><tr><th>Step</th><th>Item</th><th>Attempt</th><th>Node</th><th>Ended</th><th>Took</th></tr></thead>
          <tbody>
            {run.executions.map((e) => (
              <tr key={e.id}>
                <td><button type='button' class='link' onClick={() => { props.onSelect(e.stepId) }}>{e.stepId}</button></td>
                <td>{e.item ?? '-'}</td><td>{e.attempt}</td><td title={e.peer}>{e.node}</td>
                <td>{e.endedAt === undefined ? 'running' : e.error !== undefined ? <span class='error'>{e.error}</span> : `exit ${e.exitCode ?? '-'}`}</td>
                <td>{duration(e.endedAt !== undefined ? e.endedAt - e.startedAt : Date.now() - e.startedAt)}</td>
              </tr>
            ))}
            {cached.map((c) => (
              <tr key={`${c.step}-${c.item}`}>
                <td>{c.step}</td><td>{c.item}</td><td>cached</td><td title={c.from.node}>{short(c.from.node)}</td>
                <td colSpan={2}>outputs from run <a href={`#/runs/${c.from.runId}`}>{c.from.runId}</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}

/** A step's logs, each line with the node it ran on; followed while the run runs. */
function Logs (props: { runId: string, step: string, follow: boolean }): preact.JSX.Element {
  const [chunks, setChunks] = useState<LogChunk[]>([])
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    setChunks([])
    const controller = new AbortController()
    const params = new URLSearchParams({ step: props.step, ...(props.follow ? { follow: '1' } : {}) })
    void stream<LogChunk>(`${apiPath('runs', props.runId, 'logs')}?${params.toString()}`, (chunk) => {
      setChunks((list) => list.length > 5000 ? [...list.slice(-4000), chunk] : [...list, chunk])
    }, controller.signal).catch(setError)
    return () => { controller.abort() }
  }, [props.runId, props.step, props.follow])
  const lines = chunks.filter((c) => c.text !== '\n').flatMap((c) => c.text.replace(/\n$/, '').split('\n').map((text) => ({ node: c.node, item: c.item, stream: c.stream, text })))
  return (
    <section class='panel' aria-live='polite'>
      <h2>Logs of {props.step}</h2>
      {error !== undefined && <Failure error={error} />}
      <pre class='logs' tabIndex={0}>{lines.map((l, i) => (
        <div key={i} class={l.stream}><span class='node'>{l.node}{l.item !== undefined ? `[${l.item}]` : ''}</span> {l.text}</div>
      ))}</pre>
      {lines.length === 0 && error === undefined && <p class='note'>Nothing printed{props.follow ? ' yet' : ''}.</p>}
    </section>
  )
}

/** The bytes of a text file shown at most. */
const VIEW_BYTES = 512 * 1024

/** The result as folders and files: sizes, a text file shown, any file downloaded. */
function Files (props: { root: string }): preact.JSX.Element {
  const [at, setAt] = useState<string[]>([])
  const [entries, setEntries] = useState<Entry[]>([])
  const [truncated, setTruncated] = useState(false)
  const [viewed, setViewed] = useState<{ name: string, text: string }>()
  const [error, setError] = useState<unknown>()
  const path = [props.root, ...at].join('/')
  useEffect(() => {
    setViewed(undefined)
    get<{ entries: Entry[], truncated?: boolean }>(apiPath('files', path)).then((f) => {
      setEntries(f.entries)
      setTruncated(f.truncated === true)
      setError(undefined)
    }, setError)
  }, [path])
  const view = async (entry: Entry): Promise<void> => {
    const bytes = await head(apiPath('files', `${path}/${entry.name}`), VIEW_BYTES)
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes)
    const binary = text.includes('\u0000') || (text.match(/\uFFFD/g)?.length ?? 0) > 8
    setViewed({ name: entry.name, text: binary ? '(not text: download it)' : text + (entry.size > VIEW_BYTES ? '\n…' : '') })
  }
  return (
    <section class='panel'>
      <h2>Result</h2>
      <nav class='crumbs' aria-label='folder'>
        <button type='button' class='link' onClick={() => { setAt([]) }}>{short(props.root)}</button>
        {at.map((part, i) => <span key={i}> / <button type='button' class='link' onClick={() => { setAt(at.slice(0, i + 1)) }}>{part}</button></span>)}
      </nav>
      {error !== undefined && <Failure error={error} />}
      <table class='files'>
        <thead><tr><th>Name</th><th>Size</th><th /></tr></thead>
        <tbody>{entries.map((e) => (
          <tr key={e.name} data-entry={e.name}>
            <td>{e.type === 'directory'
              ? <button type='button' class='link' onClick={() => { setAt([...at, e.name]) }}>{e.name}/</button>
              : <button type='button' class='link' onClick={() => { void view(e).catch(setError) }}>{e.name}</button>}</td>
            <td>{e.type === 'file' ? size(e.size) : ''}</td>
            <td>{e.type === 'file' && <button type='button' class='link' onClick={() => { void download(`files/${path}/${e.name}`, e.name).catch(setError) }}>download</button>}</td>
          </tr>
        ))}</tbody>
      </table>
      {truncated && <p class='note'>The first {entries.length} entries of the folder; bac ipfs get writes it all out.</p>}
      {viewed !== undefined && <><h3>{viewed.name}</h3><pre class='file' tabIndex={0}>{viewed.text}</pre></>}
    </section>
  )
}

/** The run's signed provenance record: who signed it, and the in-toto statement it holds. */
function Provenance (props: { runId: string }): preact.JSX.Element {
  const [record, setRecord] = useState<{ signatures: Array<{ keyid: string }>, payload: string }>()
  const [open, setOpen] = useState(false)
  useEffect(() => { get<typeof record>(apiPath('runs', props.runId, 'provenance')).then(setRecord, () => {}) }, [props.runId])
  if (record === undefined) return <></>
  let statement = ''
  try {
    statement = JSON.stringify(JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(record.payload), (c) => c.charCodeAt(0)))), null, 2)
  } catch {
    statement = '(not JSON)'
  }
  return (
    <section class='panel'>
      <h2>Provenance</h2>
      <p>Signed by <span class='mono'>{record.signatures.map((s) => s.keyid).join(', ')}</span>; check it with <code>bac verify</code>.</p>
      <button type='button' aria-expanded={open} onClick={() => { setOpen(!open) }}>{open ? 'Hide' : 'Show'} the statement</button>
      {open && <pre class='file' tabIndex={0}>{statement}</pre>}
    </section>
  )
}

/** This node and its peers: labels, executors, images, slots, load, last contact, trusted or not. */
function NodesPage (): preact.JSX.Element {
  const [info, setInfo] = useState<NodeInfo>()
  const [peers, setPeers] = useState<Peer[]>([])
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    const read = (): void => {
      Promise.all([get<NodeInfo>('/api/v1/node'), get<Peer[]>('/api/v1/peers')]).then(([i, p]) => { setInfo(i); setPeers(p) }, setError)
    }
    read()
    // adverts change every few seconds: read again at that pace while the page is open
    const timer = setInterval(read, 5000)
    return () => { clearInterval(timer) }
  }, [])
  const rows = [
    ...(info?.advert !== undefined ? [{ advert: info.advert, state: 'this node', load: `${info.advert.running}/${info.advert.slots}`, seen: '-' }] : []),
    ...peers.map((p) => ({
      advert: p.advert,
      state: `${p.connected ? 'connected' : 'gone'}${p.trusted ? ', trusted' : ', not trusted'}`,
      load: `${Math.max(p.advert.running, p.dispatched)}/${p.advert.slots}`,
      seen: `${Math.max(0, Math.round((Date.now() - p.lastSeen) / 1000))} s ago`
    }))
  ]
  return (
    <section>
      <h1>Nodes</h1>
      {error !== undefined && <Failure error={error} />}
      {info !== undefined && info.advert === undefined && <p class='note'>Node {info.id} runs alone (on no network).</p>}
      <div class='scroll'>
        <table>
          <thead><tr><th>Node</th><th>Peer id</th><th>State</th><th>Labels</th><th>Executors</th><th>Images</th><th>Load</th><th>Last contact</th></tr></thead>
          <tbody>{rows.map((r) => (
            <tr key={r.advert.peerId}>
              <td>{r.advert.nodeId}</td><td class='mono'>{short(r.advert.peerId)}</td><td>{r.state}</td>
              <td>{Object.entries(r.advert.labels).map(([k, v]) => v === '' ? k : `${k}=${v}`).join(', ') || '-'}</td>
              <td>{r.advert.executors.join(', ')}</td><td>{(r.advert.images ?? []).filter((i) => !i.startsWith('sha256:')).join(', ') || '-'}</td>
              <td>{r.load}</td><td>{r.seen}</td>
            </tr>
          ))}</tbody>
        </table>
      </div>
    </section>
  )
}

/** Each pipeline's triggers: drop folders, message topics, schedules, with what they did. */
function TriggersPage (): preact.JSX.Element {
  const [list, setList] = useState<Triggers[]>([])
  const [error, setError] = useState<unknown>()
  useEffect(() => { get<Triggers[]>('/api/v1/triggers').then(setList, setError) }, [])
  return (
    <section>
      <h1>Triggers</h1>
      {error !== undefined && <Failure error={error} />}
      {list.length === 0 && error === undefined && <p class='note'>This node serves no pipelines.</p>}
      <div class='scroll'>
        <table>
          <thead><tr><th>Pipeline</th><th>Drop folder</th><th>Messages</th><th>Schedule</th></tr></thead>
          <tbody>{list.map((t) => (
            <tr key={t.file}>
              <td>{t.pipeline}</td>
              <td>{t.watch !== undefined ? <><span class='mono'>{t.watch.folder}</span>: {t.watch.taken} taken, {t.watch.waiting} waiting, {t.watch.failed} failed</> : '-'}</td>
              <td>{t.message !== undefined ? <>topic <span class='mono'>{t.message.topic}</span>: {t.message.runs} runs, last {when(t.message.lastAt)}</> : '-'}</td>
              <td>{t.schedule !== undefined ? <>next {when(t.schedule.next)}; {t.schedule.runs} runs, last {when(t.schedule.lastAt)}</> : '-'}</td>
            </tr>
          ))}</tbody>
        </table>
      </div>
    </section>
  )
}

function App (props: { loginError?: unknown }): preact.JSX.Element {
  const route = useRoute()
  const [page, id] = route
  const link = (href: string, text: string, current: boolean): preact.JSX.Element => <a href={href} aria-current={current ? 'page' : undefined}>{text}</a>
  return (
    <>
      <header>
        <span class='brand'>bac</span>
        <nav aria-label='pages'>
          {link('#/', 'Runs', page === undefined || page === 'runs')}
          {link('#/nodes', 'Nodes', page === 'nodes')}
          {link('#/triggers', 'Triggers', page === 'triggers')}
        </nav>
      </header>
      <main>
        {props.loginError !== undefined && (
          <p class='error' role='alert'>Could not log in: {props.loginError instanceof Error ? props.loginError.message : String(props.loginError)}</p>
        )}
        {page === 'runs' && id !== undefined ? <RunPage id={id} /> : page === 'nodes' ? <NodesPage /> : page === 'triggers' ? <TriggersPage /> : <RunsPage />}
      </main>
    </>
  )
}

const root = document.getElementById('app')
if (root !== null) {
  let logins = 0
  const show = (loginError?: unknown): void => {
    if (logins === 0) root.textContent = ''
    // a new login mounts the pages afresh: what they read before was read without it
    render(<App key={++logins} {...(loginError !== undefined ? { loginError } : {})} />, root)
  }
  login().then(() => { show() }, show)
  // a login URL opened in a tab that shows the dashboard already changes only the fragment
  addEventListener('hashchange', () => {
    if (location.hash.startsWith('#login=')) login().then(() => { show() }, show)
  })
}
