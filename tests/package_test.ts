/**
 * One-file deploy: `scripts/package` builds the tarball (bundle, pinned Deno, launcher); unpacked into an
 * empty directory it runs initdb, backup, restore and scrub with an empty DENO_DIR and HOME in a network
 * namespace with no network at all, so any download would fail. The runs cover code that is only imported
 * when needed (encryption, the S3 client from npm); a control run from source in the same sandbox shows
 * that it cannot fetch its npm package there. The embedded hash worker runs from a bundle of its own.
 */
import {
  assert,
  assertEquals,
  assertFileBytes,
  assertMatch,
  collect,
  describeRun,
  expectRun,
  ROOT,
  type RunResult,
  Sandbox,
  UUID1,
} from "./helpers.ts";

const KEY = "3ddd95ed478d194478e27a27a7c4eed19430363e827e1702fc181258cd2e088d";
const decoder = new TextDecoder();

/** Runs a command; under `isolated`, in a new network namespace (root: `unshare -n`, else a user namespace). */
async function exec(
  argv: string[],
  options: { env: Record<string, string>; cwd: string; isolated?: boolean },
): Promise<RunResult> {
  const prefix = options.isolated ? (Deno.uid() === 0 ? ["unshare", "-n"] : ["unshare", "-rn"]) : [];
  const [program, ...args] = [...prefix, ...argv];
  const output = await new Deno.Command(program, {
    args,
    cwd: options.cwd,
    clearEnv: true,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return collect(output, argv);
}

/** Builds the tarball into `dir` and unpacks it into `dir/unpacked`; returns the unpacked directory. */
async function buildAndUnpack(dir: string): Promise<string> {
  const env = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? dir };
  const built = await exec(["bash", `${ROOT}/scripts/package`, `${dir}/out`], { env, cwd: ROOT });
  expectRun(built, { code: 0 });
  const archive = built.stdout.trim();
  assertMatch(archive, /\/backy2-2\.13\.8\+deno\.[0-9.]+-linux-x64\.tar\.gz$/);
  await Deno.mkdir(`${dir}/unpacked`);
  expectRun(await exec(["tar", "-C", `${dir}/unpacked`, "-xzf", archive], { env, cwd: dir }), { code: 0 });
  const [top, ...others] = [...Deno.readDirSync(`${dir}/unpacked`)].map((e) => e.name);
  assertEquals(others, []);
  const app = `${dir}/unpacked/${top}`;
  const names = (path: string) => [...Deno.readDirSync(path)].map((e) => e.name).sort();
  assertEquals(names(app), ["LICENSE.deno", "backy2", "backy2.js", "deno", "systemd"]);
  assertEquals(names(`${app}/systemd`), names(`${ROOT}/contrib/systemd`));
  const magic = (await Deno.readFile(`${app}/deno`)).subarray(0, 4);
  assertEquals([...magic], [0x7f, 0x45, 0x4c, 0x46], "deno must be the executable, not npm's wrapper script");
  return app;
}

/** An environment with nothing from the build: empty HOME and DENO_DIR, no deno on PATH. */
async function bareEnv(dir: string): Promise<Record<string, string>> {
  await Deno.mkdir(`${dir}/home`);
  await Deno.mkdir(`${dir}/deno_dir`);
  return { PATH: "/usr/bin:/bin", HOME: `${dir}/home`, DENO_DIR: `${dir}/deno_dir`, TZ: "UTC", NO_COLOR: "1" };
}

/** Files Deno keeps of downloads (npm packages, remote modules) under DENO_DIR: there must be none. */
function downloadedFiles(denoDir: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    for (const entry of Deno.readDirSync(path)) {
      if (entry.isDirectory) walk(`${path}/${entry.name}`);
      else found.push(`${path}/${entry.name}`);
    }
  };
  for (const sub of ["npm", "remote", "deps"]) {
    try {
      walk(`${denoDir}/${sub}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return found;
}

async function setEncryption(sb: Sandbox): Promise<void> {
  const text = await Deno.readTextFile(sb.config);
  await Deno.writeTextFile(
    sb.config,
    text.replace("encryption_version: 0", `encryption_version: 1\nencryption_key: ${KEY}`),
  );
}

/** The sandbox's config with its block store moved to an S3 endpoint nothing answers on. */
async function s3Config(sb: Sandbox): Promise<string> {
  const text = await Deno.readTextFile(sb.config);
  const dataBackend = [
    "[DataBackend]",
    "type: backy2.data_backends.s3",
    "endpoint_url: http://127.0.0.1:39999",
    "bucket_name: backups",
    "aws_access_key_id: key",
    "aws_secret_access_key: secret",
    "simultaneous_writes: 2",
    "simultaneous_reads: 2",
    "retry_deadline: 1",
    "request_timeout: 1",
  ].join("\n");
  const path = sb.path("s3.cfg");
  await Deno.writeTextFile(path, text.replace(/\[DataBackend\][\s\S]*?(?=\n\[)/, dataBackend + "\n"));
  return path;
}

Deno.test("package: the unpacked tarball backs up, restores and scrubs with no network, cache or HOME", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "backy2-package-test-" }));
  const sb = await Sandbox.create({ catalog: false });
  try {
    const app = await buildAndUnpack(dir);
    const env = await bareEnv(dir);
    const run = (args: string[]) =>
      exec([`${app}/backy2`, "-c", sb.config, ...args], { env, cwd: dir, isolated: true });
    await setEncryption(sb);
    const image = crypto.getRandomValues(new Uint8Array(5 * 4096 + 100));
    image.fill(0, 4096, 8192);
    await Deno.writeFile(sb.path("disk.img"), image);

    expectRun(await run(["initdb"]), { code: 0 });
    const backup = await run(["-m", "backup", sb.url("disk.img"), "vm"]);
    expectRun(backup, { code: 0, stderr: "" });
    const uid = backup.stdout.split("\n")[0];
    assert(UUID1.test(uid), describeRun(backup));
    expectRun(await run(["restore", uid, sb.url("restored.img")]), { code: 0 });
    await assertFileBytes(sb.path("restored.img"), image, "restore through the package");
    expectRun(await run(["scrub", uid]), { code: 0 });
    const listed = await run(["-ms", "ls", "-f", "uid,valid"]);
    expectRun(listed, { code: 0, stdout: `${uid}|1\n` });

    const s3 = s3Config(sb);
    const packaged = await exec([`${app}/backy2`, "-c", await s3, "backup", sb.url("disk.img"), "s3vm"], {
      env,
      cwd: dir,
      isolated: true,
    });
    expectRun(packaged, { code: 100 });
    assertMatch(packaged.stderr, /Gave up on the check of bucket backups at http:\/\/127\.0\.0\.1:39999/);

    assertEquals(downloadedFiles(env.DENO_DIR), []);
    for (const result of [backup, listed, packaged]) assert(!/Download/.test(result.stderr), describeRun(result));

    // The control: from source, the same S3 run needs npm's aws4fetch and cannot fetch it in this sandbox.
    const deno = `${ROOT}/node_modules/deno/deno`;
    const fromSource = await new Deno.Command("unshare", {
      args: [
        ...(Deno.uid() === 0 ? ["-n"] : ["-rn"]),
        deno,
        "run",
        "-A",
        "--no-prompt",
        `${ROOT}/main.ts`,
        "-c",
        await s3,
      ]
        .concat(["backup", sb.url("disk.img"), "s3vm"]),
      cwd: ROOT,
      clearEnv: true,
      env: { ...env, DENO_DIR: `${dir}/control_deno_dir` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertMatch(decoder.decode(fromSource.stderr), /aws4fetch/);
  } finally {
    await sb.remove();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("package: the hash worker pool runs from a bundle with no other file beside it", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "backy2-bundle-worker-test-" }));
  try {
    const entry = `${dir}/entry.ts`;
    await Deno.writeTextFile(
      entry,
      `import { HashPool } from "${ROOT}/src/engine/hash_pool.ts";\n` +
        `const pool = new HashPool("sha256", 2);\n` +
        `const data = new TextEncoder().encode("backy2 ".repeat(1000));\n` +
        `const hashed = await pool.hash(data.buffer, data.length);\n` +
        `console.log(hashed.checksum);\npool.close();\n`,
    );
    const bundled = await new Deno.Command(`${ROOT}/scripts/deno`, {
      args: ["bundle", "--quiet", "--frozen-lockfile", "--platform", "deno", "--output", `${dir}/alone/pool.js`, entry],
      cwd: ROOT,
    }).output();
    assertEquals(bundled.code, 0, decoder.decode(bundled.stderr));
    const env = await bareEnv(dir);
    const deno = `${ROOT}/node_modules/deno/deno`;
    const ran = await exec([deno, "run", "-A", "--no-config", "--no-prompt", `${dir}/alone/pool.js`], {
      env,
      cwd: `${dir}/alone`,
      isolated: true,
    });
    const expected = await crypto.subtle.digest("SHA-256", new TextEncoder().encode("backy2 ".repeat(1000)));
    const hex = [...new Uint8Array(expected)].map((b) => b.toString(16).padStart(2, "0")).join("");
    expectRun(ran, { code: 0, stdout: `${hex}\n` });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
