/**
 * Where the backy2 2.13.8 fixture lies, for the unit tests in `src/` and the CLI tests here: in
 * `shared/fixtures/backy2-2.13.8` beside the repository's root directory, unless `$BACKY2_FIXTURE` names
 * another directory. A test that needs the fixture fails when it is missing; it is never skipped.
 */

const BESIDE_REPOSITORY = decodeURIComponent(new URL("../../shared/fixtures/backy2-2.13.8", import.meta.url).pathname);

/** The fixture's directory; throws, naming the path looked at, when it holds no fixture. */
export function fixtureDir(): string {
  const dir = Deno.env.get("BACKY2_FIXTURE") || BESIDE_REPOSITORY;
  if (!isFile(`${dir}/MANIFEST.json`)) {
    throw new Error(
      `the backy2 2.13.8 fixture is missing: ${dir}/MANIFEST.json not found ` +
        "(put the fixture in shared/fixtures/backy2-2.13.8 beside the repository, or set BACKY2_FIXTURE)",
    );
  }
  return dir;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
