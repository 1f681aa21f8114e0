/**
 * The dependency rules of DESIGN.md, enforced by `npm run lint`:
 * - no import cycles anywhere in src/;
 * - interfaces/ imports nothing of the project;
 * - a leaf folder (pipeline, template, triggers, scheduler, executors, network, storage, api) imports
 *   only interfaces/, common/ and its own files, never a sibling: what it needs from a sibling
 *   arrives as a component typed by an interface;
 * - common/ holds the small low-level helpers several leaves need (reading files safely); it
 *   imports only interfaces/ and itself, so any leaf may import it;
 * - only node/ (the composition root) and src/index.ts wire concrete parts together;
 * - cli/ imports only src/index.ts (and its own files): the CLI is a shell over the library.
 */
const leaves = ['pipeline', 'template', 'triggers', 'scheduler', 'executors', 'network', 'storage', 'api']

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make start-up order and testing fragile; break the cycle with an interface.',
      from: { path: '^src/' },
      to: { circular: true }
    },
    {
      name: 'interfaces-import-nothing',
      severity: 'error',
      comment: 'src/interfaces holds types and errors only and imports nothing of the project.',
      from: { path: '^src/interfaces/' },
      to: { path: '^src/', pathNot: '^src/interfaces/' }
    },
    ...leaves.map((leaf) => ({
      name: `${leaf}-imports-inward-only`,
      severity: 'error',
      comment: `src/${leaf} may import src/interfaces, src/common and its own files only; a sibling arrives as a component.`,
      from: { path: `^src/${leaf}/` },
      to: { path: '^src/', pathNot: [`^src/${leaf}/`, '^src/interfaces/', '^src/common/'] }
    })),
    {
      name: 'common-imports-interfaces-only',
      severity: 'error',
      comment: 'src/common is the lowest layer above interfaces: every leaf may import it, so it imports none of them.',
      from: { path: '^src/common/' },
      to: { path: '^src/', pathNot: ['^src/common/', '^src/interfaces/'] }
    },
    {
      name: 'cli-imports-only-the-library',
      severity: 'error',
      comment: 'src/cli is a thin shell: it imports src/index.ts and its own files only.',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: ['^src/cli/', '^src/index\\.ts$'] }
    },
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      comment: 'The library never depends on its command-line shell.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' }
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.build.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'], exportsFields: ['exports'], conditionNames: ['import', 'node', 'default', 'types'] }
  }
}
