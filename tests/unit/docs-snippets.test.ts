/**
 * Every TypeScript snippet (```ts blocks) in README.md and docs/*.md is type-checked with the TypeScript compiler
 * API, as a module of its own that imports "pulumi-lxd-hardened" (mapped to this repository's index.ts through
 * `paths`). No LXD, no engine: the snippets are compiled, not run.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const root = path.join(__dirname, "..", "..");

interface Snippet {
  /** `README.md:12` – the file and the line of the opening fence. */
  where: string;
  code: string;
}

/** The ```ts / ```typescript blocks of one Markdown text. */
export function extractSnippets(markdown: string, file: string): Snippet[] {
  const out: Snippet[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    out.push({ where: `${file}:${start + 1}`, code: body.join("\n") });
  }
  return out;
}

function markdownFiles(): string[] {
  const docs = path.join(root, "docs");
  const walk = (d: string): string[] =>
    fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith(".md") ? [path.join(d, e.name)] : []));
  return [path.join(root, "README.md"), ...(fs.existsSync(docs) ? walk(docs) : [])];
}

/** Type-checks the snippets in one program; answers one message per error, naming the snippet's Markdown line. */
export function typeCheck(snippets: Snippet[]): string[] {
  fs.mkdirSync(path.join(root, ".cache"), { recursive: true });
  const dir = fs.mkdtempSync(path.join(root, ".cache", "doc-snippets-"));
  try {
    const files = snippets.map((s, i) => {
      const file = path.join(dir, `snippet-${i}.ts`);
      // `export {}` keeps every snippet a module of its own, so their top-level names never collide.
      fs.writeFileSync(file, `${s.code}\nexport {};\n`);
      return file;
    });
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      strict: true,
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
      types: ["node"],
      baseUrl: root,
      paths: { "pulumi-lxd-hardened": ["index.ts"] },
    };
    const program = ts.createProgram(files, options);
    const diagnostics = [...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics()];
    return diagnostics.map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      const i = d.file ? files.indexOf(path.resolve(d.file.fileName)) : -1;
      if (!d.file || d.start === undefined) return text;
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      if (i < 0) return `${path.relative(root, d.file.fileName)}:${line + 1}: ${text}`;
      const [file, fence] = snippets[i].where.split(":");
      return `${file}:${Number(fence) + 1 + line}: ${text}`;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("documentation snippets", () => {
  const snippets = markdownFiles().flatMap((f) => extractSnippets(fs.readFileSync(f, "utf8"), path.relative(root, f)));

  test("README.md and docs/*.md have TypeScript snippets", () => {
    expect(snippets.filter((s) => s.where.startsWith("README.md")).length).toBeGreaterThan(0);
    expect(snippets.filter((s) => s.where.startsWith("docs/")).length).toBeGreaterThan(5);
  });

  test("every TypeScript snippet type-checks against the package", () => {
    expect(typeCheck(snippets)).toEqual([]);
  }, 180_000);

  test("rejects a snippet that does not type-check, naming its Markdown line", () => {
    const bad = extractSnippets(
      ["# t", "", "```ts", 'import * as lxd from "pulumi-lxd-hardened";', 'new lxd.Instance("x", { image: 12 });', "```", ""].join("\n"),
      "bad.md",
    );
    const errors = typeCheck(bad);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/^bad\.md:5: /);
  }, 180_000);
});
