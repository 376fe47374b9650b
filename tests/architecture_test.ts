/**
 * The architecture, checked on every run: modules import only from their own layer or the layers
 * below it (data flows one way), no import circle exists, and no function is longer than
 * {@link MAX_FUNCTION_LINES} lines. The source is read with Deno's own parser (the lint plugin
 * API), so comments and strings cannot fool the check.
 * @module
 */
import { relative } from "node:path";
import { assertEquals } from "./_assert.ts";
import { ROOT } from "./_cli.ts";

/**
 * The layers, lowest first. A module may import from its own layer and those before it; the
 * layers of one entry (serve and rl) are siblings and may not import each other.
 */
export const LAYERS: readonly (readonly string[])[] = [
  [
    "lib/errors.ts",
    "lib/random.ts",
    "lib/atomic.ts",
    "lib/output.ts",
    "lib/version.ts",
    "lib/progress.ts",
    "lib/memory.ts",
    "lib/wasm_threads.ts",
    "lib/tf.ts",
    "lib/config.ts",
  ],
  ["lib/data/"],
  ["lib/embeddings/"],
  ["models/"],
  ["lib/eval/"],
  ["lib/train/"],
  ["lib/experiment/"],
  ["lib/sim/"],
  ["lib/serve/", "lib/rl/", "lib/fidelity/"],
  ["lib/commands/"],
  ["main.ts", "mod.ts"],
];

/** Longest function allowed, in lines (declaration to closing brace). */
export const MAX_FUNCTION_LINES = 80;

/** The layer of a repository path: its index and the prefix that matched. */
function layerOf(path: string): { rank: number; unit: string } | undefined {
  for (const [rank, units] of LAYERS.entries()) {
    for (const unit of units) if (path === unit || path.startsWith(unit)) return { rank, unit };
  }
  return undefined;
}

/** Every TypeScript source file of the program (not tests, benchmarks or tools). */
async function sources(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(`${ROOT}${dir}`)) {
      const p = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory) await walk(p);
      else if (p.endsWith(".ts")) out.push(p);
    }
  };
  await walk("lib");
  await walk("models");
  return [...out, "main.ts", "mod.ts"].sort();
}

interface Parsed {
  imports: string[];
  longFunctions: string[];
}

/** Relative imports (static, re-exports and dynamic) and over-long functions of one file. */
function parse(path: string, text: string): Parsed {
  const imports: string[] = [];
  const longFunctions: string[] = [];
  const lineOf = (offset: number) => text.slice(0, offset).split("\n").length;
  const plugin: Deno.lint.Plugin = {
    name: "architecture",
    rules: {
      scan: {
        create() {
          const from = (node: { source?: { value?: unknown } | null }) => {
            const s = node.source?.value;
            if (typeof s === "string" && s.startsWith(".")) {
              imports.push(new URL(s, `file:///${path}`).pathname.slice(1));
            }
          };
          const fn = (node: Deno.lint.Node, name: string) => {
            const [start, end] = node.range;
            const lines = lineOf(end) - lineOf(start) + 1;
            if (lines > MAX_FUNCTION_LINES) {
              longFunctions.push(`${path}:${lineOf(start)} ${name} (${lines} lines)`);
            }
          };
          return {
            ImportDeclaration: from,
            ExportNamedDeclaration: from,
            ExportAllDeclaration: from,
            ImportExpression(node: Deno.lint.ImportExpression) {
              if (node.source.type === "Literal") from({ source: node.source });
            },
            FunctionDeclaration(node: Deno.lint.FunctionDeclaration) {
              fn(node, node.id?.name ?? "function");
            },
            MethodDefinition(node: Deno.lint.MethodDefinition) {
              const key = node.key.type === "Identifier" ? node.key.name : "method";
              fn(node, key);
            },
            "VariableDeclarator > ArrowFunctionExpression"(
              node: Deno.lint.ArrowFunctionExpression,
            ) {
              fn(node, "arrow function");
            },
          };
        },
      },
    },
  };
  Deno.lint.runPlugin(plugin, path, text);
  return { imports, longFunctions };
}

const parsed = new Map<string, Parsed>();
for (const p of await sources()) parsed.set(p, parse(p, await Deno.readTextFile(`${ROOT}${p}`)));

Deno.test("every module imports only from its own layer or the layers below it", () => {
  const wrong: string[] = [];
  for (const [path, { imports }] of parsed) {
    const here = layerOf(path);
    if (!here) {
      wrong.push(`${path}: in no layer (add it to LAYERS)`);
      continue;
    }
    for (const target of imports) {
      const there = layerOf(target);
      if (!there) wrong.push(`${path} -> ${target}: target in no layer`);
      else if (there.rank > here.rank) wrong.push(`${path} -> ${target}: runs up the layers`);
      else if (there.rank === here.rank && there.unit !== here.unit && !here.unit.endsWith(".ts")) {
        wrong.push(`${path} -> ${target}: sibling layers ${here.unit} and ${there.unit}`);
      }
    }
  }
  assertEquals(wrong, [], `layering violations:\n${wrong.join("\n")}`);
});

Deno.test("no import circle exists between the program's modules", () => {
  const graph = new Map([...parsed].map(([p, { imports }]) => [p, imports]));
  const state = new Map<string, "open" | "done">();
  const circles: string[] = [];
  const visit = (p: string, path: string[]) => {
    if (state.get(p) === "done") return;
    if (state.get(p) === "open") {
      circles.push([...path.slice(path.indexOf(p)), p].join(" -> "));
      return;
    }
    state.set(p, "open");
    for (const q of graph.get(p) ?? []) visit(q, [...path, p]);
    state.set(p, "done");
  };
  for (const p of graph.keys()) visit(p, []);
  assertEquals(circles, [], `import circles:\n${circles.join("\n")}`);
});

Deno.test(`no function is longer than ${MAX_FUNCTION_LINES} lines`, () => {
  const long = [...parsed.values()].flatMap((p) => p.longFunctions);
  assertEquals(long, [], `functions to split:\n${long.join("\n")}`);
});

Deno.test("the layer check itself sees imports, re-exports and dynamic imports", () => {
  const p = parse(
    "lib/data/x.ts",
    `import { a } from "../train/loop.ts";\nexport * from "./y.ts";\nawait import("../../models/gru.ts");\n` +
      `function f() {\n${"  1;\n".repeat(MAX_FUNCTION_LINES)}}\n`,
  );
  assertEquals(p.imports, ["lib/train/loop.ts", "lib/data/y.ts", "models/gru.ts"]);
  assertEquals(p.longFunctions.length, 1);
  assertEquals(relative(".", "."), "");
});
