// What netspec/studio/static/app.js takes from CodeMirror 6, bundled as one global `CM`.
export {basicSetup} from "codemirror";
export {EditorView, keymap} from "@codemirror/view";
export {EditorState, Compartment} from "@codemirror/state";
export {yaml} from "@codemirror/lang-yaml";
export {linter, lintGutter, setDiagnostics, forceLinting} from "@codemirror/lint";
export {autocompletion} from "@codemirror/autocomplete";
export {syntaxTree} from "@codemirror/language";
export {undo, redo} from "@codemirror/commands";
