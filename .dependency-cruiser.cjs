/**
 * Layering of src/ (see README "Layout"): imports run one way.
 *   cli -> feed | work | ops -> recognize | map | sink -> store | adapters -> core
 * `npm run lint` fails on a cycle or on an import that points upward or sideways across stages.
 */
const layer = (name, mayImport) => ({
  name: `${name}-imports-only-below`,
  comment: `src/${name}/ may import only ${mayImport.join(', ')} (and node_modules)`,
  severity: 'error',
  from: { path: `^src/${name}/` },
  to: { path: '^src/', pathNot: `^src/(${[name, ...mayImport].join('|')})/` },
})

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'import cycles', from: {}, to: { circular: true } },
    layer('core', []),
    layer('store', ['core']),
    layer('adapters', ['core']),
    layer('recognize', ['core', 'store', 'adapters']),
    layer('map', ['core', 'store', 'adapters']),
    layer('sink', ['core', 'store', 'adapters']),
    layer('work', ['core', 'store', 'adapters', 'recognize', 'map', 'sink']),
    layer('feed', ['core', 'store', 'adapters']),
    layer('ops', ['core', 'store', 'adapters', 'recognize', 'map', 'sink']),
    {
      name: 'only-store-touches-markers',
      comment: 'right/ markers are created, rewritten and removed by src/store/markers.ts alone',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/store/' },
      to: { path: '^src/store/marker-io\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
}
