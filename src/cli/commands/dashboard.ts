import { spawn } from 'node:child_process'
import { defaultDataDir, requestLoginCode, UsageError } from '../../index.js'
import { EXIT } from '../exit.js'
import type { Io } from '../io.js'
import { nodeTarget, type NodeOptions } from '../node-session.js'

export interface DashboardOptions extends NodeOptions { print?: boolean }

/**
 * `bac dashboard`: opens the dashboard of the node the CLI would talk to (`--node`, `$BAC_NODE`,
 * the node serving on the data dir) in the desktop's browser, logged in: its URL carries a login
 * code the node makes for it (good once, for a minute; never the token), which the page trades for
 * a session of its own. With `--print`, or without a desktop, prints the URL.
 */
export async function dashboardCommand (options: DashboardOptions, io: Io): Promise<number> {
  const target = await nodeTarget(options)
  if (target === undefined) throw new UsageError(`no bac node is serving on ${options.dataDir ?? defaultDataDir()}; start one with bac serve (it prints the dashboard's URL), or give --node <url>`)
  if (target.token === undefined) throw new UsageError(`no token for ${target.url}: give it with --token or $BAC_TOKEN`)
  const url = `${target.url.replace(/\/+$/, '')}/#login=${await requestLoginCode(target)}`
  const desktop = process.env.DISPLAY !== undefined || process.env.WAYLAND_DISPLAY !== undefined
  if (options.print !== true && desktop) {
    // the browser gets the URL as one argument, never through a shell
    const opened = await new Promise<boolean>((resolve) => {
      const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true })
      child.once('error', () => { resolve(false) })
      child.once('spawn', () => { child.unref(); resolve(true) })
    })
    if (opened) {
      io.err(`opening the dashboard of ${target.url} in the browser\n`)
      return EXIT.ok
    }
  }
  io.out(`${url}\n`)
  io.err(`the dashboard of ${target.url}: open this URL within a minute (its login code is good once)\n`)
  return EXIT.ok
}
