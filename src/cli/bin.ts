#!/usr/bin/env node
// first: before anything of bac opens a descriptor or starts a process
import './inherited-fds.js'
import { main } from './main.js'

process.exitCode = await main(process.argv)
