import { Command, CommanderError, Option } from 'commander'
import { configureLog, DEFAULT_VALIDATE_PATHS, VERSION } from '../index.js'
import { imageBuildCommand, imageImportCommand, imageListCommand, imagePruneCommand, type ImageOptions } from './commands/image.js'
import { ipfsAddCommand, ipfsCatCommand, ipfsGetCommand, ipfsPinCommand } from './commands/ipfs.js'
import { provenanceCommand, verifyCommand, type ProvenanceOptions, type VerifyCommandOptions } from './commands/provenance.js'
import { jobCancelCommand, jobDescribeCommand, jobGetCommand, jobListCommand, jobLogsCommand, type HistoryOptions } from './commands/job.js'
import { messageSendCommand, type MessageSendOptions } from './commands/message.js'
import { runCommand, type RunCommandOptions } from './commands/run.js'
import { serveCommand, watchCommand, type ServeOptions } from './commands/serve.js'
import { devstackCommand, nodeListCommand, type DevstackOptions, type NodeListOptions } from './commands/node.js'
import { dashboardCommand, type DashboardOptions } from './commands/dashboard.js'
import { graphCommand, type GraphOptions } from './commands/graph.js'
import { schemaCommand } from './commands/schema.js'
import { submitCommand, type SubmitOptions } from './commands/submit.js'
import { validateCommand } from './commands/validate.js'
import { EXIT, reportError } from './exit.js'
import { FORMATS } from './format.js'
import { processIo, type Io } from './io.js'
import type { NodeOptions } from './node-session.js'

const collect = (value: string, previous: string[]): string[] => [...previous, value]

/** The data dir option, declared once; every command that reads or runs a node's data dir takes it. */
const dataDirOption = (): Option => new Option('--data-dir <dir>', 'the node\'s data dir (default: $BAC_HOME or ~/.bac)')

/** The options of every command that acts on a node, declared once: its data dir, or the node to reach and its token. */
function nodeOptions (command: Command): Command {
  return command
    .addOption(dataDirOption())
    .option('--node <url>', 'act on this node through its API (default: $BAC_NODE, else the node serving on the data dir, else the data dir itself)')
    .option('--token <token>', 'the node\'s API token (default: $BAC_TOKEN, else the one the node serving on the data dir left in its api.json)')
}

/** Builds the command tree; each action stores its exit code in `result`. */
function program (io: Io, result: { code: number }): Command {
  const root = new Command('bac')
    .description('Declarative pipelines over content-addressed data.')
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .addOption(new Option('--log-level <level>', [
      'debug: log what the scheduler, network, storage, triggers and executors do, on stderr',
      '(as DEBUG=bac:* does; JSON lines with a command\'s --json)'
    ].join(' ')).choices(['debug', 'info']))
    .option('--ipfs-api <address>', [
      'keep content in this Kubo daemon (its RPC API: /ip4/127.0.0.1/tcp/5001 or http://127.0.0.1:5001) instead of the embedded store;',
      'default: $BAC_IPFS_API, else ipfsApi in <data dir>/config.json'
    ].join(' '))
  root.hook('preAction', (_root, action) => {
    const { ipfsApi: api, logLevel } = root.opts() as { ipfsApi?: string, logLevel?: string }
    // every command that opens a node (and devstack, for its nodes) takes it as one of its own options
    if (api !== undefined) action.setOptionValue('ipfsApi', api)
    if (logLevel !== undefined) action.setOptionValue('logLevel', logLevel)
    // a command's --json makes the debug log's lines JSON too
    const json = (action.opts() as { json?: boolean }).json === true && (process.env.BAC_LOG_FORMAT ?? '') === ''
    configureLog({ ...(logLevel !== undefined ? { level: logLevel } : {}), ...(json ? { json } : {}) })
    // a command line is no place for a secret: every local user sees it (ps, /proc/<pid>/cmdline)
    if ((action.opts() as { token?: string }).token !== undefined) io.err('bac: warning: --token is visible to every local user in the process list; prefer $BAC_TOKEN\n')
  })

  root.command('validate')
    .description(`Check pipelines and job templates; prints file:line:col for every problem (default: ${DEFAULT_VALIDATE_PATHS.join(' ')})`)
    .argument('[paths...]', 'files or folders to check')
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('text'))
    .option('-q, --quiet', 'print errors only, no warnings')
    .action((paths: string[], options: { format: string, quiet?: boolean }) => {
      result.code = validateCommand(paths, options, io)
    })

  nodeOptions(root.command('run'))
    .description('Run a pipeline on the node (--node, $BAC_NODE, the node serving on the data dir, else one embedded in this process); prints the result CID')
    .argument('<pipeline>', 'the pipeline file')
    .option('-i, --input <name=value>', 'an input value (repeatable)', collect, [])
    .option('-c, --concurrency <n>', 'steps run at once at most (default: the number of cores)')
    .option('--no-cache', 'run every step, even one that finished identically before')
    .option('--resume <run-id>', 'continue a failed or interrupted run; finished steps are kept')
    .option('--outputs <dir>', 'where the result is copied, as <dir>/<run-id>/ (default: ./outputs)')
    .option('--json', 'print events as JSON lines')
    .option('--executor <kind>', 'run every step on this executor: process, sandbox or vm (the pipeline is unchanged)')
    .option('--image <name>', 'with --executor vm: the image of every step (default: each step\'s own, else base)')
    .action(async (file: string, options: RunCommandOptions) => {
      result.code = await runCommand(file, options, io)
    })

  root.command('watch')
    .description('Watch the drop folders of pipelines (on.watch): each new file starts one run, exactly once, even across restarts')
    .argument('<pipelines...>', 'pipeline files with on.watch')
    .option('--once', 'run the files there now (and those queued), then exit: 0 when every run succeeded, 1 otherwise')
    .option('-c, --concurrency <n>', 'runs of one pipeline at once at most (default: the number of cores)')
    .option('--outputs <dir>', 'where results are copied, as <dir>/<run-id>/ (default: ./outputs)')
    .option('--json', 'print events as JSON lines')
    .option('-v, --verbose', 'print the steps\' output too')
    .addOption(dataDirOption())
    .option('--allow-path <folder>', 'a folder the runs may read input files from (repeatable; default: the pipelines\' folders and their project folders; never the data dir)', collect, [])
    .action(async (files: string[], options: ServeOptions) => { result.code = await watchCommand(files, options, io) })

  root.command('serve')
    .description('Run a node: the triggers of its pipelines (watch, schedule, message) start runs; messages arrive on its local HTTP API')
    .option('-p, --pipelines <path>', 'a pipeline file or a folder of them (repeatable; default: ./pipelines)', collect, [])
    .option('--api <host:port>', 'where the HTTP API listens (0 as the port for any free one)', '127.0.0.1:1234')
    .option('-c, --concurrency <n>', 'runs of one pipeline at once at most (default: the number of cores)')
    .option('--outputs <dir>', 'where results are copied, as <dir>/<run-id>/ (default: ./outputs)')
    .option('--json', 'print events as JSON lines')
    .option('-v, --verbose', 'print the steps\' output too')
    .addOption(dataDirOption())
    .option('--no-pipelines', 'serve no pipelines (a compute node)')
    .option('--port <port>', 'the libp2p TCP port (0 for any free one)', '4001')
    .option('--listen', 'listen on every interface, not only 127.0.0.1')
    .option('--peer <multiaddr>', 'a node to join, as it printed its address (repeatable)', collect, [])
    .option('-l, --label <key=value>', 'a label of this node, for runs-on (repeatable)', collect, [])
    .option('--trust <peer-id>', 'a peer this node runs work for and sends work to (repeatable; also <data-dir>/trusted-peers)', collect, [])
    .option('--dev', 'trust every peer on loopback (for a network on one machine)')
    .option('--slots <n>', 'steps run here for peers at once at most (default: the number of cores)')
    .option('--token <token>', 'the API\'s token, which every request must carry (default: $BAC_TOKEN, else a random one written to <data-dir>/api.json); required with a --api beyond loopback')
    .option('--allow-path <folder>', [
      'a folder API callers and message fields may name as input, cwd or outputs',
      '(repeatable; default: the pipelines folders and their project folders; never the data dir)'
    ].join(' '), collect, [])
    .option('--api-host <name>', 'a host name requests may address the API by, besides loopback names and its address (repeatable)', collect, [])
    .action(async (options: ServeOptions) => { result.code = await serveCommand(options, io) })

  root.command('devstack')
    .description('Start a network of bac nodes on this machine, each in its own process, trusting each other; Ctrl-C stops them')
    .option('-n, --nodes <n>', 'how many nodes', '3')
    .option('-p, --pipelines <path>', 'pipelines the first node serves (repeatable)', collect, [])
    .option('--dir <dir>', 'where the nodes keep their data dirs (default: <data-dir>/devstack)')
    .addOption(dataDirOption())
    .option('--json', 'print each node as a JSON line when it is ready')
    .option('--allow-path <folder>', 'a folder the nodes let the CLI name as pipeline, input or outputs (repeatable; default: the folder devstack starts in)', collect, [])
    .action(async (options: DevstackOptions) => { result.code = await devstackCommand(options, io) })

  const nodeCommand = root.command('node').description('The network of the running node')
  nodeOptions(nodeCommand.command('list'))
    .description('The peers of a running node: labels, executors, load, last contact')
    .option('--json', 'as JSON')
    .action(async (options: NodeListOptions) => { result.code = await nodeListCommand(options, io) })

  const message = root.command('message').description('Messages that start runs of pipelines with on.message')
  nodeOptions(message.command('send'))
    .description('Send a message (or a batch of rows) to a topic of the running node; prints the run ids')
    .argument('<topic>', 'the topic, as in on.message.topic')
    .option('-f, --field <name=value>', 'a text field of the message (repeatable)', collect, [])
    .option('-F, --typed-field <name=json>', 'a field given as JSON: a number, true, null, a list (repeatable)', collect, [])
    .option('--file <file>', 'rows to send: JSON (object or array), NDJSON (.ndjson, .jsonl) or Arrow IPC (.arrow)')
    .option('--arrow', 'send as Apache Arrow IPC instead of JSON')
    .option('--ndjson', 'send as NDJSON instead of JSON')
    .option('--key <key>', 'an idempotency key: the same batch sent again under it is not run again')
    .option('-w, --wait', 'wait for the runs; print their result CIDs (exit 1 if one did not succeed)')
    .option('--json', 'print as JSON')
    .action(async (topic: string, options: MessageSendOptions) => { result.code = await messageSendCommand(topic, options, io) })

  const job = root.command('job').description('Look at past and running runs')
  nodeOptions(job.command('list')
    .description('Runs, newest first')
    .option('-n, --limit <n>', 'how many', '20')
    .option('--cid <cid>', 'only the runs that produced this CID: as their result, or as a step\'s outputs')
    .option('--json', 'as JSON'))
    .action(async (options: HistoryOptions & { limit?: string, cid?: string }) => { result.code = await jobListCommand(options, io) })
  nodeOptions(job.command('describe')
    .description('A run: status, inputs, steps, attempts')
    .argument('<run-id>', 'the run id or a unique prefix of it')
    .option('--json', 'as JSON'))
    .action(async (id: string, options: HistoryOptions) => { result.code = await jobDescribeCommand(id, options, io) })
  nodeOptions(job.command('logs')
    .description('What the steps of a run printed (the last attempt of each)')
    .argument('<run-id>', 'the run id or a unique prefix of it')
    .option('-s, --step <step>', 'one step only')
    .option('-f, --follow', 'print output as it comes, until the run ends'))
    .action(async (id: string, options: HistoryOptions & { step?: string, follow?: boolean }) => { result.code = await jobLogsCommand(id, options, io) })
  nodeOptions(job.command('cancel')
    .description('Cancel a run the node runs or holds waiting (triggered or not); it is not taken up again')
    .argument('<run-id>', 'the run id or a unique prefix of it'))
    .action(async (id: string, options: HistoryOptions) => { result.code = await jobCancelCommand(id, options, io) })
  nodeOptions(job.command('submit')
    .description('Run one command in the sandbox with CIDs at /ipfs/<cid> (private writable copies); prints the job id')
    .option('--cids <cids>', 'comma-separated CIDs the command reads at /ipfs/<cid>')
    .option('--commands <command>', 'the shell command to run')
    .option('--json', 'print events as JSON lines'))
    .action(async (options: SubmitOptions) => { result.code = await submitCommand(options, io) })
  nodeOptions(job.command('get')
    .description('Write a run\'s result folder out')
    .argument('<run-id>', 'the run id or a unique prefix of it')
    .argument('[dir]', 'where to write it, a path that does not exist yet (default: ./<run-id>)'))
    .action(async (id: string, dir: string | undefined, options: HistoryOptions) => { result.code = await jobGetCommand(id, dir, options, io) })

  nodeOptions(root.command('provenance')
    .description('The signed record of how a run made its result (an in-toto statement with SLSA provenance)')
    .argument('<run-id|cid>', 'a run id (or a unique prefix; asked of the node, as job commands are), or a result CID or the record\'s own CID (looked up in the data dir)')
    .option('--envelope', 'print the signed DSSE envelope as stored (what bac verify --record takes on another node)'))
    .action(async (ref: string, options: ProvenanceOptions) => { result.code = await provenanceCommand(ref, options, io) })
  nodeOptions(root.command('dashboard')
    .description('Open the dashboard of the node (--node, $BAC_NODE, the node serving on the data dir) in the browser, logged in')
    .option('--print', 'print the login URL (it carries the token) instead of opening it'))
    .action(async (options: DashboardOptions) => { result.code = await dashboardCommand(options, io) })
  nodeOptions(root.command('graph')
    .description('Print a pipeline\'s DAG, or a run\'s with the status of each step, as Mermaid (for a README or a PR comment) or Graphviz DOT')
    .argument('<pipeline|run-id>', 'a pipeline file, or a run id (or a unique prefix; asked of the node, as job commands are)')
    .addOption(new Option('--format <format>', 'mermaid or dot').choices(['mermaid', 'dot']).default('mermaid')))
    .action(async (ref: string, options: GraphOptions) => { result.code = await graphCommand(ref, options, io) })
  root.command('verify')
    .description('Check a result CID against its signed record: signatures by this node or trusted peers, the peers\' attestations, the CIDs; exit 0 or 1')
    .argument('<result-cid>')
    .option('--record <file|cid>', 'the record to check (default: the record of this node\'s run that produced the CID)')
    .option('--trust <peer-id>', 'a peer whose signatures count, besides this node and <data-dir>/trusted-peers (repeatable)', collect, [])
    .option('--rerun', 'also run the pipeline again from the record, without the cache, and compare the result CID')
    .option('--json', 'the checks as JSON')
    .addOption(dataDirOption())
    .action(async (cid: string, options: VerifyCommandOptions) => { result.code = await verifyCommand(cid, options, io) })

  const ipfs = root.command('ipfs').description('The node\'s content store')
  nodeOptions(ipfs.command('add').description('Add a file or folder of this machine to the node\'s store; prints its CID').argument('<path>'))
    .action(async (target: string, options: NodeOptions) => { result.code = await ipfsAddCommand(target, options, io) })
  nodeOptions(ipfs.command('cat').description('Print a file').argument('<cid>'))
    .action(async (cid: string, options: NodeOptions) => { result.code = await ipfsCatCommand(cid, options, io) })
  nodeOptions(ipfs.command('get').description('Write a file or folder out here, every block checked').argument('<cid>').argument('<target>', 'a path that does not exist yet'))
    .action(async (cid: string, target: string, options: NodeOptions) => { result.code = await ipfsGetCommand(cid, target, options, io) })
  ipfs.command('pin').description('Keep a CID (recursively) from the Kubo daemon\'s garbage collector (with --ipfs-api)').argument('<cid>')
    .addOption(dataDirOption())
    .action(async (cid: string, options: { dataDir?: string, ipfsApi?: string }) => { result.code = await ipfsPinCommand(cid, true, options, io) })
  ipfs.command('unpin').description('Let the Kubo daemon\'s garbage collector take a CID again (with --ipfs-api)').argument('<cid>')
    .addOption(dataDirOption())
    .action(async (cid: string, options: { dataDir?: string, ipfsApi?: string }) => { result.code = await ipfsPinCommand(cid, false, options, io) })

  const image = root.command('image').description('VM images for steps with executor: vm')
  const imagesOption = (c: Command): Command => c
    .addOption(dataDirOption())
    .option('--images <dir>', 'the images folder (default: $BAC_IMAGES, else <data dir>/images)')
  imagesOption(image.command('build').description('Run a recipe folder (images/kernel, images/base, images/python) and store the image it makes').argument('<recipe>', 'a folder with a build script'))
    .option('--name <name>', 'the image\'s name (default: the recipe folder\'s)')
    .option('-q, --quiet', 'do not show the recipe\'s output')
    .action(async (recipe: string, options: ImageOptions & { name?: string, quiet?: boolean }) => { result.code = await imageBuildCommand(recipe, options, io) })
  imagesOption(image.command('import').description('Store an OCI archive (oci-archive or docker save) as a root filesystem image').argument('<archive>'))
    .requiredOption('--name <name>', 'the image\'s name')
    .action(async (archive: string, options: ImageOptions & { name: string }) => { result.code = await imageImportCommand(archive, options, io) })
  imagesOption(image.command('list').description('The stored images'))
    .option('--json', 'as JSON')
    .action(async (options: ImageOptions & { json?: boolean }) => { result.code = await imageListCommand(options, io) })
  imagesOption(image.command('prune').description('Remove images no name points at, and the saved VM states of images that are gone'))
    .option('--states', 'remove every saved VM state (each costs one cold boot to make again)')
    .action(async (options: ImageOptions & { states?: boolean }) => { result.code = await imagePruneCommand(options, io) })

  root.command('schema')
    .description('Print the JSON schema of pipelines (or of job templates with --job), for editors')
    .option('--job', 'the schema of jobstore/ templates')
    .action((options: { job?: boolean }) => {
      result.code = schemaCommand(options, io)
    })

  return root
}

/** Runs the CLI and returns its exit code; the only place that knows about exit codes. */
export async function main (argv: readonly string[], io: Io = processIo()): Promise<number> {
  const result = { code: EXIT.ok as number }
  try {
    await program(io, result).parseAsync([...argv])
    return result.code
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; bad usage with 1, which bac reports as 2
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    }
    return reportError(err, io.err)
  }
}
