/**
 * scripts/bench --peers: restic and borg (Debian's packages; scripts/bench installs them) back up and restore the
 * same files as backy2 in the same run, each with its defaults (restic compresses with zstd "auto", borg with
 * lz4), plus borg with `-C zstd,3`, the fair comparison for store size. Each command runs under GNU time, as ours
 * do. Repositories are unencrypted for borg (`-e none`); restic always encrypts.
 */
import { join } from "node:path";
import { duMiB, identityNote, MiB, run, sameContent, type Timed, timedCommand } from "./bench_run.ts";
import type { ImageSet } from "./bench_image.ts";
import type { Row } from "./bench_table.ts";

interface Peer {
  name: string;
  /** Short name for the target keys: `restic`, `borg`, `borg-zstd`. */
  key: string;
  repo: string;
  /** What the unchanged re-backup passes so that the file is read again rather than skipped by its metadata. */
  rereadFlag: string;
  init(): Promise<void>;
  backup(file: string, label: string, reread: boolean): Promise<Timed>;
  /** Restores `file` from the archive `label` under `target`; returns the restored copy's path. */
  restore(label: string, file: string, target: string): Promise<{ timed: Timed; path: string }>;
}

function restic(work: string, repoName: string): Peer {
  const repo = join(work, repoName);
  const password = join(work, "restic-password");
  const env = { RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: password, RESTIC_CACHE_DIR: join(work, "restic-cache") };
  return {
    name: "restic",
    key: "restic",
    repo,
    rereadFlag: "--force",
    init: async () => {
      Deno.writeTextFileSync(password, "bench\n");
      await run("restic", ["init", "-q"], { env });
    },
    backup: (file, label, reread) =>
      timedCommand("restic", ["backup", "-q", "--tag", label, ...(reread ? ["--force"] : []), file], { env }),
    restore: async (label, file, target) => ({
      timed: await timedCommand("restic", ["restore", "-q", "latest", "--tag", label, "--target", target], { env }),
      path: join(target, file),
    }),
  };
}

function borg(work: string, repoName: string, compression?: string): Peer {
  const repo = join(work, repoName);
  const env = {
    BORG_REPO: repo,
    BORG_BASE_DIR: join(work, "borg-base"),
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: "yes",
    BORG_RELOCATED_REPO_ACCESS_IS_OK: "yes",
  };
  const compress = compression ? ["-C", compression] : [];
  return {
    name: compression ? `borg -C ${compression}` : "borg (lz4)",
    key: compression ? "borg-zstd" : "borg",
    repo,
    rereadFlag: "--files-cache=disabled",
    init: () => run("borg", ["init", "-e", "none"], { env }),
    backup: (file, label, reread) =>
      timedCommand("borg", ["create", ...compress, ...(reread ? ["--files-cache=disabled"] : []), `::${label}`, file], {
        env,
      }),
    restore: async (label, file, target) => ({
      timed: await timedCommand("borg", ["extract", `::${label}`], { env, cwd: target }),
      path: join(target, file.replace(/^\/+/, "")),
    }),
  };
}

/** Restores, compares with `source` and removes the copy again. */
async function restoreRow(peer: Peer, label: string, source: string, job: string, mib: number, work: string) {
  const target = join(work, "restore");
  await Deno.remove(target, { recursive: true }).catch(() => {});
  Deno.mkdirSync(target, { recursive: true });
  const { timed, path } = await peer.restore(label, source, target);
  const identical = await sameContent(source, path).catch(() => false);
  await Deno.remove(target, { recursive: true });
  return { job, ...timed, mibPerSec: mib / timed.seconds, note: identityNote(identical) };
}

/** First backup, unchanged re-backup (forced to read the file again) and restore of the random file. */
async function fileRows(peer: Peer, file: string, mib: number, work: string): Promise<Row[]> {
  await peer.init();
  const first = await peer.backup(file, "file", false);
  const firstStore = await duMiB(peer.repo);
  const again = await peer.backup(file, "file-again", true);
  return [
    {
      job: `${peer.name}: first backup, ${mib} MiB random file`,
      ...first,
      mibPerSec: mib / first.seconds,
      storeMiB: firstStore,
    },
    {
      job: `${peer.name}: re-backup unchanged`,
      ...again,
      mibPerSec: mib / again.seconds,
      storeMiB: await duMiB(peer.repo),
      note: `${peer.rereadFlag}: reads the file again`,
    },
    await restoreRow(peer, "file", file, `${peer.name}: restore to a file`, mib, work),
  ];
}

/** First backup of the image, backup of the changed image (dedup against the first), restore of the changed one. */
async function imageRows(peer: Peer, images: ImageSet, work: string): Promise<Row[]> {
  const mib = images.bytes / MiB;
  await peer.init();
  const first = await peer.backup(images.first, "image", false);
  const firstStore = await duMiB(peer.repo);
  const second = await peer.backup(images.changed, "changed", false);
  const key = `${peer.key}.image`;
  return [
    {
      job: `${peer.name}: first backup, ${mib} MiB image`,
      ...first,
      mibPerSec: mib / first.seconds,
      storeMiB: firstStore,
      key: `${key}.first`,
    },
    {
      job: `${peer.name}: backup of the changed image`,
      ...second,
      mibPerSec: mib / second.seconds,
      storeMiB: await duMiB(peer.repo),
      key: `${key}.second`,
    },
    {
      ...await restoreRow(peer, "changed", images.changed, `${peer.name}: restore of the changed image`, mib, work),
      key: `${key}.restore`,
    },
  ];
}

/** The peers' rows: the random file for restic and borg, the image for restic, borg and borg with zstd. */
export async function peerRows(work: string, file: string, fileMiB: number, images?: ImageSet): Promise<Row[]> {
  await Deno.remove(work, { recursive: true }).catch(() => {});
  Deno.mkdirSync(work, { recursive: true });
  const rows: Row[] = [];
  for (const peer of [restic(work, "restic-file"), borg(work, "borg-file")]) {
    rows.push(...await fileRows(peer, file, fileMiB, work));
  }
  if (images) {
    for (const peer of [restic(work, "restic-image"), borg(work, "borg-image"), borg(work, "borg-zstd", "zstd,3")]) {
      rows.push(...await imageRows(peer, images, work));
    }
  }
  return rows;
}

/** One line naming the peers' versions, for the table's header. */
export async function peerVersions(): Promise<string> {
  const version = async (command: string, args: string[]) => {
    const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(output.stdout).trim().split("\n")[0];
  };
  return `${await version("restic", ["version"])}; ${await version("borg", ["--version"])}`;
}
