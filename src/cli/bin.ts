#!/usr/bin/env node
// first: before anything of bac opens a descriptor or starts a process
import './inherited-fds.js'
import { main } from './main.js'

const code = await main(process.argv)
// the command is done: what it wrote goes out, then the process ends, whatever a library left
// behind (chokidar may leave a file watcher open when a folder changes while it closes, and an
// open handle would keep a stopped `bac watch` alive for ever)
await new Promise<void>((resolve) => { process.stdout.write('', () => { resolve() }) })
await new Promise<void>((resolve) => { process.stderr.write('', () => { resolve() }) })
process.exit(code)
