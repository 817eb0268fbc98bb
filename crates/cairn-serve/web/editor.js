// The SQL explorer's editor: CodeMirror 6 with SQL highlighting and completion of the
// tables and columns the user may read. Bundled by build.rs (esbuild) into one file that
// defines window.CairnEditor; nothing is fetched at run time.
import { EditorView, basicSetup } from "codemirror";
import { keymap } from "@codemirror/view";
import { Prec } from "@codemirror/state";
import { sql, StandardSQL } from "@codemirror/lang-sql";

// Creates an editor in `parent` with `doc`; `schema` maps table → column names;
// `run` is called on Ctrl-Enter (or Cmd-Enter); `nonce` lets the editor's own styles
// through the page's Content-Security-Policy.
function create(parent, doc, schema, run, nonce) {
  const runKey = Prec.highest(
    keymap.of([{ key: "Mod-Enter", run: () => { run(); return true; } }]),
  );
  return new EditorView({
    doc,
    parent,
    extensions: [
      basicSetup,
      runKey,
      EditorView.cspNonce.of(nonce || ""),
      sql({ dialect: StandardSQL, schema, upperCaseKeywords: true }),
    ],
  });
}

window.CairnEditor = { create };
