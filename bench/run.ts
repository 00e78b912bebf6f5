/**
 * `npm run bench [suite ...]`: runs the named benchmark suites (all by default), one after another
 * so that they do not compete for the two cores. Each suite is bench/<name>.ts exporting `run()`.
 */
const SUITES = [
  'store',
  'recipes',
  'hashing',
  'etcd',
  'membership',
  'waiters',
  'startup',
  'models',
  'redis',
  'postgres',
  'verify',
] as const;

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !(SUITES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    console.error(`unknown benchmark suite(s): ${unknown.join(', ')}; known: ${SUITES.join(', ')}`);
    process.exit(2);
  }
  for (const name of asked.length > 0 ? asked : SUITES) {
    let suite: { run(): Promise<void> };
    try {
      suite = (await import(`./${name}.js`)) as { run(): Promise<void> };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && asked.length === 0) continue;
      throw err;
    }
    console.log(`\n# bench: ${name}`);
    await suite.run();
  }
}

await main();
