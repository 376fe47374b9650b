/**
 * `updateCheckpointFile` writes the marker (listing the file as pending) before the file, so a
 * kill between the two leaves a folder recsimu still owns whole, and readers treat the pending
 * file as absent; the finished update lists it among the checkpoint's files.
 */
import { assert, assertEquals } from "../_assert.ts";
import { join } from "node:path";
import { entryOf, inspectOutput, markerText, OUTPUT_MARKER } from "../../lib/output.ts";
import { readOptionalCheckpointFile, updateCheckpointFile } from "../../lib/train/checkpoint.ts";

const enc = (s: string) => new TextEncoder().encode(s);

async function checkpointDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "recsimu-pending-" });
  const config = enc("{}");
  await Deno.writeFile(join(dir, "config.json"), config);
  await Deno.writeTextFile(
    join(dir, OUTPUT_MARKER),
    markerText("checkpoint", { "config.json": entryOf(config) }),
  );
  return dir;
}

Deno.test("a file pending in the marker is recsimu's own but not yet part of the checkpoint", async () => {
  const dir = await checkpointDir();
  try {
    // The state a kill between the marker write and the file's rename leaves.
    const leave = enc('{"format":1}');
    await Deno.writeFile(join(dir, "leave.json"), leave);
    await Deno.writeTextFile(
      join(dir, OUTPUT_MARKER),
      markerText("checkpoint", { "config.json": entryOf(enc("{}")) }, {
        "leave.json": entryOf(leave),
      }),
    );
    const s = await inspectOutput(dir);
    assert(s.state === "own", s.state);
    assertEquals(s.foreign, []);
    assertEquals(await readOptionalCheckpointFile(dir, "leave.json"), undefined);
    // A finished update lists it, with no pending entry left.
    await updateCheckpointFile(dir, "leave.json", '{"format":2}');
    const m = JSON.parse(await Deno.readTextFile(join(dir, OUTPUT_MARKER)));
    assertEquals(m.pending, undefined);
    assertEquals(m.files["leave.json"], entryOf(enc('{"format":2}')));
    const bytes = await readOptionalCheckpointFile(dir, "leave.json");
    assertEquals(new TextDecoder().decode(bytes), '{"format":2}');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without the pending entry the same file is foreign (what the crash test hit)", async () => {
  const dir = await checkpointDir();
  try {
    await Deno.writeFile(join(dir, "leave.json"), enc("{}"));
    const s = await inspectOutput(dir);
    assert(s.state === "own", s.state);
    assertEquals(s.foreign, ["leave.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
