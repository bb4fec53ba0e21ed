/**
 * Child of `npm run bench:data`: imports one file into the database URL given and prints, as JSON, the rows
 * imported, the seconds and this process's peak resident set size, so the figure is the import's alone.
 */
import { importCsvFiles, migrate, openDatabase } from '../src/data/index.js';

const [file, url] = process.argv.slice(2);
const handle = await openDatabase(url, { createDatabase: true });
try {
  await migrate(handle);
  const t = performance.now();
  const report = await importCsvFiles(handle, [file]);
  const seconds = (performance.now() - t) / 1000;
  if (!report.ok) throw new Error(`import reported problems: ${JSON.stringify(report.issues.slice(0, 3))}`);
  // maxRSS is in kilobytes
  console.log(JSON.stringify({ rows: report.totals.inserted, seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 }));
} finally {
  await handle.close();
}
