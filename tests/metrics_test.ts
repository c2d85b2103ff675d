/**
 * CLI tests of the Prometheus metrics (`[DEFAULTS] metrics_dir`): after each command `backy2.prom` is replaced
 * and read back with a strict parser of the text exposition format written here (independent of the writer),
 * series of other commands and names survive, label values are escaped, a bad directory costs one warning and
 * never the command, and node_exporter (Debian's package, unpacked by scripts/node-exporter) serves the file
 * without a scrape error.
 */
import {
  assert,
  assertEquals,
  buildImage,
  expectRun,
  openSandboxCatalog,
  Rng,
  ROOT,
  type Sandbox,
  withSandbox,
} from "./helpers.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Parses the text format strictly: every line a HELP, a TYPE or a sample (no blank lines, no other comments),
 * HELP then TYPE before a family's samples, a family's samples together, known escapes only, no duplicate
 * series, no timestamps, and a final newline.
 */
function parseStrict(text: string): Sample[] {
  assert(text.endsWith("\n"), "the file ends with a newline");
  const samples: Sample[] = [];
  const help = new Set<string>();
  const typed = new Set<string>();
  const finished = new Set<string>();
  const series = new Set<string>();
  let current = "";
  for (const [index, line] of text.slice(0, -1).split("\n").entries()) {
    const where = `line ${index + 1} ${JSON.stringify(line)}`;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      assert(NAME.test(name), `${where}: metric name`);
      if (current !== name && current !== "") finished.add(current);
      assert(!finished.has(name), `${where}: family ${name} appears twice`);
      current = name;
      if (kind === "HELP") {
        assert(!help.has(name) && !typed.has(name), `${where}: HELP first, once`);
        assert(!/\\[^\\n]/.test(rest.replaceAll("\\\\", "")), `${where}: HELP escapes`);
        help.add(name);
      } else {
        assert(help.has(name) && !typed.has(name), `${where}: TYPE after HELP, once`);
        assertEquals(rest, "gauge", `${where}: type`);
        typed.add(name);
      }
      continue;
    }
    const sample = parseSample(line, where);
    assert(sample.name === current && typed.has(current), `${where}: sample outside its family`);
    const key = `${sample.name}${JSON.stringify(sample.labels)}`;
    assert(!series.has(key), `${where}: duplicate series`);
    series.add(key);
    samples.push(sample);
  }
  return samples;
}

function parseSample(line: string, where: string): Sample {
  const match = /^([^{ ]+)(\{.*\})? (\S+)$/.exec(line);
  assert(match !== null, `${where}: a sample is NAME[{LABELS}] VALUE, without a timestamp`);
  const [, name, labelText, valueText] = match;
  assert(NAME.test(name), `${where}: metric name`);
  assert(/^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/.test(valueText), `${where}: value`);
  const labels: Record<string, string> = {};
  let rest = labelText === undefined ? "" : labelText.slice(1, -1);
  while (rest !== "") {
    const label = /^([^=]+)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
    assert(label !== null, `${where}: label syntax at ${JSON.stringify(rest)}`);
    assert(LABEL.test(label[1]) && !(label[1] in labels), `${where}: label name ${label[1]}`);
    labels[label[1]] = label[2].replace(/\\([\\"n])/g, (_, ch) => (ch === "n" ? "\n" : ch));
    rest = rest.slice(label[0].length);
  }
  return { name, labels, value: Number(valueText.replace("Inf", "Infinity")) };
}

/** The value of one series, or undefined. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
}

async function readMetrics(sb: Sandbox): Promise<Sample[]> {
  return parseStrict(await Deno.readTextFile(sb.path("metrics/backy2.prom")));
}

const at = (iso: string) => Date.parse(`${iso}Z`) / 1000;
const WEIRD = 'db "main"\\ one';

async function withMetrics(fn: (sb: Sandbox) => Promise<void>): Promise<void> {
  await withSandbox({ extraDefaults: ["metrics_dir: metrics"] }, async (sb) => {
    await sb.setConfig("metrics_dir", sb.path("metrics"));
    await Deno.mkdir(sb.path("metrics"));
    await Deno.writeFile(sb.path("disk.img"), buildImage(new Rng(9), 4096, ["random", "random", "zero"], 12288));
    await fn(sb);
  });
}

Deno.test("metrics: backy2.prom after each command, series of other commands and names kept", async () => {
  await withMetrics(async (sb) => {
    const t1 = "2026-03-01T10:00:00";
    const uid = await sb.backup([sb.url("disk.img"), "vm"], { env: { BACKY2_FAKE_NOW: t1 } });
    let samples = await readMetrics(sb);
    assertEquals(valueOf(samples, "backy2_last_run_timestamp_seconds", { command: "backup" }), at(t1));
    assertEquals(valueOf(samples, "backy2_last_run_success", { command: "backup" }), 1);
    assertEquals(valueOf(samples, "backy2_last_backup_timestamp_seconds", { version_name: "vm" }), at(t1));
    assertEquals(valueOf(samples, "backy2_last_backup_bytes_read", { version_name: "vm" }), 12288);
    assertEquals(valueOf(samples, "backy2_last_backup_bytes_written", { version_name: "vm" }), 8192);
    assertEquals(valueOf(samples, "backy2_last_backup_bytes_stored", { version_name: "vm" }), 8192);
    assertEquals(valueOf(samples, "backy2_versions", { state: "valid" }), 1);
    assertEquals(valueOf(samples, "backy2_store_bytes"), 8192);
    assert(samples.every((s) => !Object.values(s.labels).includes(uid)), "no series is labelled by uid");

    const t2 = "2026-03-02T10:00:00";
    await sb.backup([sb.url("disk.img"), WEIRD], { env: { BACKY2_FAKE_NOW: t2 } });
    expectRun(await sb.run(["scrub", uid], { env: { BACKY2_FAKE_NOW: t2 } }), { code: 0 }, "scrub");
    expectRun(await sb.run(["restore", "nosuchuid", sb.url("x.img")]), { code: 100 }, "failed restore");
    expectRun(await sb.run(["ls"]), { code: 0 }, "ls");
    samples = await readMetrics(sb);
    assertEquals(valueOf(samples, "backy2_last_backup_timestamp_seconds", { version_name: "vm" }), at(t1));
    assertEquals(valueOf(samples, "backy2_last_backup_timestamp_seconds", { version_name: WEIRD }), at(t2));
    assertEquals(valueOf(samples, "backy2_last_backup_bytes_written", { version_name: WEIRD }), 0, "all deduplicated");
    assertEquals(valueOf(samples, "backy2_last_scrub_timestamp_seconds", { version_name: "vm" }), at(t2));
    assertEquals(valueOf(samples, "backy2_last_scrub_invalid_blocks", { version_name: "vm" }), 0);
    assertEquals(valueOf(samples, "backy2_last_run_success", { command: "restore" }), 0);
    assertEquals(valueOf(samples, "backy2_last_run_success", { command: "backup" }), 1);
    assertEquals(valueOf(samples, "backy2_last_run_success", { command: "ls" }), 1);
    assertEquals(valueOf(samples, "backy2_versions", { state: "valid" }), 2);
    assert(
      (await Deno.readTextFile(sb.path("metrics/backy2.prom"))).includes('{version_name="db \\"main\\"\\\\ one"}'),
    );
    // Only the file and its lock file: no temporary file is left, and none ended in .prom.
    const names = [...Deno.readDirSync(sb.path("metrics"))].map((e) => e.name).sort();
    assertEquals(names, [".backy2.prom.lock", "backy2.prom"]);
  });
});

Deno.test("metrics: a damaged blob shows in the scrub series; an old incomplete version is counted", async () => {
  await withMetrics(async (sb) => {
    const uid = await sb.backup([sb.url("disk.img"), "vm"]);
    const [blob] = await sb.blobs();
    await Deno.writeFile(blob, new Uint8Array(4096));
    expectRun(await sb.run(["scrub", uid]), { code: 20 }, "scrub");
    Deno.env.set("BACKY2_FAKE_NOW", "2026-01-01T00:00:00");
    const catalog = await openSandboxCatalog(sb);
    await catalog.createVersion({
      name: "vm",
      snapshotName: "",
      size: 1,
      sizeBytes: 1,
      blockSize: 4096,
      hashFunction: "sha512",
    });
    await catalog.close();
    Deno.env.delete("BACKY2_FAKE_NOW");
    expectRun(await sb.run(["ls"], { env: { BACKY2_FAKE_NOW: "2026-01-03T00:00:00" } }), { code: 0 }, "ls");
    const samples = await readMetrics(sb);
    assertEquals(valueOf(samples, "backy2_last_scrub_invalid_blocks", { version_name: "vm" }), 1);
    assertEquals(valueOf(samples, "backy2_last_run_success", { command: "scrub" }), 0);
    assertEquals(valueOf(samples, "backy2_versions", { state: "invalid" }), 1);
    assertEquals(valueOf(samples, "backy2_versions", { state: "incomplete" }), 1);
    assertEquals(valueOf(samples, "backy2_incomplete_versions_older_than_1d"), 1);
  });
});

Deno.test("metrics: an unusable metrics_dir warns in one line and never fails the command", async () => {
  await withMetrics(async (sb) => {
    for (const dir of [sb.path("nosuchdir"), sb.path("disk.img")]) {
      await sb.setConfig("metrics_dir", dir);
      const result = await sb.run(["-m", "backup", sb.url("disk.img"), "vm"]);
      expectRun(result, { code: 0 }, dir);
      const lines = result.stderr.split("\n").filter((line) => line !== "");
      assertEquals(lines.length, 1, result.stderr);
      assert(lines[0].startsWith(`backy2: cannot write metrics to ${dir}/backy2.prom: `), lines[0]);
      assert(lines[0].endsWith("; going on."), lines[0]);
    }
  });
});

Deno.test("metrics: node_exporter's textfile collector serves backy2.prom without a scrape error", async () => {
  const fetched = await new Deno.Command(`${ROOT}/scripts/node-exporter`, { stdout: "piped", stderr: "piped" })
    .output();
  assert(fetched.success, `scripts/node-exporter: ${new TextDecoder().decode(fetched.stderr)}`);
  const binary = new TextDecoder().decode(fetched.stdout).trim();
  await withMetrics(async (sb) => {
    await sb.backup([sb.url("disk.img"), WEIRD]);
    const written = await readMetrics(sb);
    const port = 20000 + Math.floor(Math.random() * 40000);
    const exporter = new Deno.Command(binary, {
      args: [
        "--collector.disable-defaults",
        "--collector.textfile",
        `--collector.textfile.directory=${sb.path("metrics")}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const text = await scrape(`http://127.0.0.1:${port}/metrics`);
      const served = text.split("\n").filter((line) =>
        /^(# (HELP|TYPE) )?backy2_/.test(line) || /^node_textfile_scrape_error /.test(line)
      );
      assert(served.includes("node_textfile_scrape_error 0"), text);
      const backy2 = parseStrict(served.filter((line) => !line.startsWith("node_")).join("\n") + "\n");
      const key = (s: Sample) => `${s.name}${JSON.stringify(s.labels)}=${s.value}`;
      assertEquals(backy2.map(key).sort(), written.map(key).sort());
    } finally {
      exporter.kill("SIGTERM");
      await exporter.status;
    }
  });
});

/** GETs `url`, retrying for up to 10 s while the exporter starts. */
async function scrape(url: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const response = await fetch(url);
      return await response.text();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
