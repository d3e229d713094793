// netspec studio's page: the spec in CodeMirror, checked by the server as the user types; the problems
// underlined, the shape table and the diagram redrawn. The server says every word; this file holds no rule.
"use strict";
(function () {
  const token = document.querySelector('meta[name="netspec-token"]').content;
  const lang = document.querySelector('meta[name="netspec-lang"]').content;
  const $ = (id) => document.getElementById(id);
  const PX = 52; // pixels per inch of draw.layout's coordinates
  let words = {}, layers = {}, view = null;
  let file = {path: null, hash: null, saved: ""};
  let lastValid = null;

  function say(key, args) {
    let text = words[key] || key;
    for (const [k, v] of Object.entries(args || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }

  async function api(path, body, params) {
    const q = new URLSearchParams(Object.assign({lang}, params || {}));
    const init = {headers: {"X-Netspec-Token": token}};
    if (body instanceof Blob) { // an image to try: its bytes as they are, with the browser's Content-Type
      init.method = "POST";
      init.body = body;
    } else if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path + "?" + q, init);
    } catch (e) {
      banner(say("server_gone"));
      throw e;
    }
    const data = await response.json().catch(() => ({error: response.statusText}));
    return {status: response.status, data};
  }

  function banner(text) {
    const b = $("banner");
    b.textContent = text || "";
    b.hidden = !text;
  }

  function status(text, kind) {
    const s = $("status");
    s.textContent = text;
    s.className = kind || "";
  }

  // Where a problem is: its line and column as an offset range over the word there.
  function range(doc, line, column) {
    if (!line) return {from: 0, to: Math.min(doc.length, doc.line(1).to) || Math.min(1, doc.length)};
    const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
    const from = Math.min(l.from + Math.max((column || 1) - 1, 0), l.to);
    const rest = doc.sliceString(from, l.to);
    const word = /^[^\s,{}\[\]]+/.exec(rest);
    const to = word ? from + word[0].length : (rest.trim() ? l.to : Math.min(from + 1, doc.length));
    return from === to && from > l.from ? {from: from - 1, to} : {from, to};
  }

  function offset(doc, line, column) {
    if (line > doc.lines) return doc.length;
    return doc.line(line).from + column - 1;
  }

  function diagnostics(doc, report) {
    const out = [];
    const add = (p, severity) => {
      const r = range(doc, p.line, p.column);
      const hints = p.hints.map((h) => say("hint") + ": " + h);
      const d = {from: r.from, to: r.to, severity, message: [p.message, ...hints].join("\n")};
      if (p.fix) {
        d.actions = [{name: say("fix"), apply(v) {
          const f = p.fix, doc = v.state.doc;
          v.dispatch({changes: {from: offset(doc, f.line, f.column), to: offset(doc, f.end_line, f.end_column),
                                insert: f.text}});
        }}];
      }
      out.push(d);
    };
    report.errors.forEach((p) => add(p, "error"));
    report.warnings.forEach((p) => add(p, "warning"));
    return out;
  }

  function showProblems(report) {
    const list = $("problems");
    list.replaceChildren();
    const all = report.errors.map((p) => ["error", p]).concat(report.warnings.map((p) => ["warning", p]));
    if (!all.length) {
      const li = document.createElement("li");
      li.className = "ok";
      li.textContent = say("no_problems");
      list.append(li);
    }
    for (const [kind, p] of all) {
      const li = document.createElement("li");
      li.className = kind;
      li.dataset.line = p.line || "";
      const where = document.createElement("span");
      where.className = "where";
      where.textContent = p.line ? p.line + ":" + p.column : "";
      const message = document.createElement("span");
      message.className = "message";
      message.textContent = p.message;
      li.append(where, message);
      for (const h of p.hints) {
        const hint = document.createElement("div");
        hint.className = "hint";
        hint.textContent = say("hint") + ": " + h;
        li.append(hint);
      }
      if (p.line) li.addEventListener("click", () => goTo(p.line, p.column));
      list.append(li);
    }
    const n = report.errors.length, w = report.warnings.length;
    if (n) status(n === 1 ? say("error1") : say("errors", {n}), "bad");
    else if (w) status(say("valid") + ", " + (w === 1 ? say("warning1") : say("warnings", {n: w})), "warn");
    else status(say("valid"), "good");
  }

  function showTable(report) {
    const t = report.table;
    const head = $("table").tHead, body = $("table").tBodies[0];
    const tr = (cells, tag) => {
      const row = document.createElement("tr");
      cells.forEach((c, i) => {
        const cell = document.createElement(tag);
        cell.textContent = c;
        if (i === 0 || i >= 4) cell.className = "num";
        row.append(cell);
      });
      return row;
    };
    head.replaceChildren(tr(t.headings, "th"));
    const rows = [tr(["", t.input[0], "", t.input[1], "", ""], "td")];
    rows[0].className = "input";
    for (const r of t.rows) {
      const row = tr([r.index, r.name, r.type, r.output, r.params, r.macs], "td");
      const line = report.layers[r.index].line;
      row.dataset.line = line || "";
      row.dataset.index = r.index;
      if (line) row.addEventListener("click", () => goTo(line));
      rows.push(row);
    }
    body.replaceChildren(...rows);
    const dl = $("totals");
    dl.replaceChildren();
    for (const [label, value] of t.totals) {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = label;
      dd.textContent = value;
      dl.append(dt, dd);
    }
  }

  const SVG = "http://www.w3.org/2000/svg";
  function el(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fit(text, px, charPx) {
    const n = Math.floor(px / charPx);
    return text.length <= n ? text : text.slice(0, Math.max(n - 1, 1)) + "…";
  }

  function showDiagram(report) {
    const d = report.diagram, box = $("diagram");
    const lanes = Math.max(0, ...d.edges.map((e) => e[2]));
    const width = Math.max(box.clientWidth - 16, 220);
    const laneGap = 12, left = 14;
    const boxW = width - left - 16 - laneGap * (lanes + 1);
    const height = d.height * PX;
    const svg = el("svg", {width, height, viewBox: `0 0 ${width} ${height}`, class: "net"});
    const defs = el("defs", {});
    for (const [id, colour] of [["arrow", "#33415c"], ["arc", "#c0392b"]]) {
      const m = el("marker", {id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
                              orient: "auto-start-reverse"});
      m.append(el("path", {d: "M0,0 L10,5 L0,10 z", fill: colour}));
      defs.append(m);
    }
    svg.append(defs);
    const boxH = 0.62 * PX;
    for (const [name, [first, last]] of Object.entries(d.groups)) {
      const top = d.boxes[first].y * PX - 15, bottom = d.boxes[last].y * PX + boxH + 6;
      const group = el("g", {class: "group"});
      group.append(el("rect", {x: left - 8, y: top, width: boxW + 16, height: bottom - top}));
      group.append(el("text", {x: left - 4, y: top + 10, class: "group-label"}, name));
      const use = report.layers[d.boxes[first].layers[0]].use_line;
      if (use) {
        group.dataset.line = use;
        group.addEventListener("click", () => goTo(use));
      }
      svg.append(group);
    }
    d.boxes.forEach((b, k) => {
      const g = el("g", {class: "box" + (k === 0 ? " input" : "") + (b.layers.length > 1 ? " folded" : "")});
      const y = b.y * PX;
      g.append(el("rect", {x: left, y, width: boxW, height: boxH, rx: 5}));
      const label = b.group && b.label.startsWith(b.group + ".") ? b.label.slice(b.group.length + 1) : b.label;
      g.append(el("text", {x: left + 8, y: y + 15, class: "label"}, fit(label, boxW - 14, 7.8)));
      g.append(el("text", {x: left + 8, y: y + 30, class: "detail"}, fit(b.detail, boxW - 14, 6.6)));
      const line = b.layers.length ? report.layers[b.layers[0]].line : null;
      if (line) {
        g.dataset.line = line;
        g.addEventListener("click", () => goTo(line));
      }
      svg.append(g);
    });
    for (const [a, b, lane] of d.edges) {
      const src = d.boxes[a], dst = d.boxes[b];
      let path, cls;
      if (lane === 0) {
        const x = left + boxW / 2;
        path = `M${x},${src.y * PX + boxH} L${x},${dst.y * PX - 1}`;
        cls = "edge";
      } else {
        const right = left + boxW, x = right + laneGap * lane;
        const ys = src.y * PX + boxH / 2 + 4, yd = dst.y * PX + boxH / 2 - 4;
        path = `M${right},${ys} L${x},${ys} L${x},${yd} L${right + 1},${yd}`;
        cls = "edge arc";
      }
      svg.append(el("path", {d: path, class: cls, "marker-end": lane === 0 ? "url(#arrow)" : "url(#arc)"}));
    }
    box.replaceChildren(svg);
  }

  function showReport(report) {
    showProblems(report);
    const stale = $("stale");
    if (report.valid) {
      lastValid = report;
      showTable(report);
      showDiagram(report);
      stale.hidden = true;
    } else {
      stale.textContent = $("table").tBodies[0].rows.length ? say("not_valid") : say("once_valid");
      stale.hidden = false;
    }
    markCursor();
  }

  async function checkSource(v) {
    const text = v.state.doc.toString();
    status(say("checking"), "busy");
    // a failed check rejects: the editor keeps the underlines it had, moved with the edits since
    const result = await api("/api/check", {text, path: file.path || ""});
    if (result.status !== 200) {
      banner(result.data.error);
      status("", "");
      throw new Error(result.data.error);
    }
    banner("");
    if (v.state.doc.toString() !== text) return []; // typed on meanwhile: the next check answers
    showReport(result.data);
    return diagnostics(v.state.doc, result.data);
  }

  function goTo(line, column) {
    const doc = view.state.doc;
    const l = doc.line(Math.min(Math.max(line, 1), doc.lines));
    const at = column ? Math.min(l.from + column - 1, l.to) : l.from + (/^\s*/.exec(l.text)[0].length);
    view.dispatch({selection: {anchor: at}, scrollIntoView: true});
    view.focus();
  }

  // The table row and diagram box of the layer at the cursor's line, marked.
  function markCursor() {
    if (!view) return;
    const line = view.state.doc.lineAt(view.state.selection.main.head).number;
    for (const node of document.querySelectorAll("#table tr.current, #diagram g.current")) {
      node.classList.remove("current");
    }
    for (const node of document.querySelectorAll(`#table tr[data-line="${line}"], #diagram g[data-line="${line}"]`)) {
      node.classList.add("current");
    }
  }

  // Completion: layer names where a list entry starts, a layer's arguments inside its entry.
  function layerAt(state, pos) {
    const line = state.doc.lineAt(pos);
    const before = line.text.slice(0, pos - line.from);
    const inline = /^\s*-\s+([\w.]+)\s*:\s*\{[^}]*$/.exec(before);
    if (inline) return inline[1];
    const indent = /^\s*/.exec(line.text)[0].length;
    for (let n = line.number - 1; n >= 1 && n > line.number - 40; n--) {
      const text = state.doc.line(n).text;
      if (!text.trim()) continue;
      const ind = /^\s*/.exec(text)[0].length;
      if (ind >= indent) continue;
      const m = /^\s*-\s+([\w.]+)\s*:\s*$/.exec(text);
      return m ? m[1] : null;
    }
    return null;
  }

  function complete(context) {
    const word = context.matchBefore(/[\w.]*/);
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, word.from - line.from);
    if (/^\s*-\s+$/.test(before)) {
      return {from: word.from, validFor: /^[\w.]*$/,
              options: Object.entries(layers).map(([name, l]) => ({label: name, type: "class", info: l.summary}))};
    }
    const layer = layerAt(context.state, context.pos);
    if (layer && layers[layer] && (/[{,]\s*$/.test(before) || /^\s*$/.test(before))) {
      return {from: word.from, validFor: /^\w*$/,
              options: layers[layer].args.map((a) => ({label: a.name, type: "property", detail: a.about,
                                                       apply: a.name + ": "}))};
    }
    return null;
  }

  function dirty() {
    const changed = view && view.state.doc.toString() !== file.saved;
    $("save").disabled = $("start-train").disabled = !file.path;
    $("start-train").title = file.path ? "" : say("no_spec");
    document.title = (changed ? "• " : "") + (file.path || "") + " — " + say("title");
    $("save").classList.toggle("dirty", !!changed);
    return changed;
  }

  function makeState(text) {
    return CM.EditorState.create({
      doc: text,
      extensions: [
        CM.basicSetup,
        CM.EditorView.lineWrapping,
        CM.yaml(),
        CM.lintGutter(),
        CM.linter(checkSource, {delay: 150}), // a pause of 150 ms: checked and drawn within 300 ms of it
        CM.EditorState.languageData.of(() => [{autocomplete: complete}]),
        CM.keymap.of([{key: "Mod-s", preventDefault: true, run: () => { save(false); return true; }}]),
        CM.EditorView.updateListener.of((u) => {
          if (u.docChanged) dirty();
          if (u.selectionSet) markCursor();
        }),
      ],
    });
  }

  async function open(path) {
    const r = await api("/api/file", undefined, {path});
    if (r.status !== 200) {
      banner(r.data.error);
      return;
    }
    file = {path, hash: r.data.hash, saved: r.data.text};
    for (const option of $("files").options) if (!option.value) option.remove();
    $("files").value = path;
    view.setState(makeState(r.data.text));
    dirty();
  }

  // Whether the editor's text is now the file on disk; a conflict opens the dialog and says false.
  async function save(force) {
    if (!file.path) return false;
    const text = view.state.doc.toString();
    const r = await api("/api/save", {path: file.path, text, hash: file.hash, force});
    if (r.status === 200 && r.data.written) {
      file.hash = r.data.hash;
      file.saved = text;
      dirty();
      status(say("saved", {path: file.path}), "good");
      return true;
    }
    if (r.status === 409) {
      $("conflict-text").textContent = say("conflict", {path: file.path});
      $("conflict").showModal();
    } else {
      banner(r.data.error);
    }
    return false;
  }

  async function takeTheirs() {
    const text = view.state.doc.toString();
    const r = await api("/api/save", {path: file.path, text, hash: file.hash, keep: true});
    if (r.status !== 200) {
      banner(r.data.error);
      return;
    }
    file = {path: file.path, hash: r.data.hash, saved: r.data.text};
    view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: r.data.text}});
    dirty();
    banner(say("kept_copy", {path: r.data.copy}));
    refreshFiles();
  }

  async function refreshFiles() {
    const r = await api("/api/session");
    if (r.status === 200) fillFiles(r.data.specs);
  }

  function fillFiles(specs) {
    const select = $("files");
    const options = specs.map((s) => new Option(s, s));
    if (!file.path) options.unshift(new Option(specs.length ? say("pick") : say("none_found"), ""));
    select.replaceChildren(...options);
    if (file.path) select.value = file.path;
  }

  async function start() {
    const r = await api("/api/session");
    if (r.status !== 200) {
      banner(r.data.error);
      return;
    }
    words = r.data.words;
    layers = r.data.layers;
    $("tab-edit").textContent = say("edit");
    $("save").textContent = say("save");
    $("problems-title").textContent = say("problems");
    $("table-title").textContent = say("table");
    $("diagram-title").textContent = say("diagram");
    $("stale").textContent = say("not_valid");
    $("overwrite").textContent = say("overwrite");
    $("theirs").textContent = say("theirs");
    $("cancel").textContent = say("cancel");
    $("diagram").title = $("table").title = say("click_row");
    view = new CM.EditorView({state: makeState(""), parent: $("editor")});
    fillFiles(r.data.specs);
    $("files").addEventListener("change", (e) => {
      const path = e.target.value;
      if (!path || path === file.path) return;
      if (dirty() && !confirm(say("leave"))) {
        e.target.value = file.path || "";
        return;
      }
      open(path);
    });
    $("save").addEventListener("click", () => save(false));
    $("overwrite").addEventListener("click", async () => {
      $("conflict").close();
      if (await save(true) && studio.trainAfterSave) studio.startTraining(new Event("submit"));
    });
    $("theirs").addEventListener("click", () => { $("conflict").close(); studio.trainAfterSave = false; takeTheirs(); });
    $("cancel").addEventListener("click", () => { $("conflict").close(); studio.trainAfterSave = false; });
    $("conflict").addEventListener("cancel", () => { studio.trainAfterSave = false; }); // Escape
    window.addEventListener("beforeunload", (e) => { if (dirty()) e.preventDefault(); });
    window.addEventListener("resize", () => { if (lastValid) showDiagram(lastValid); });
    window.netspecRuns.start();
    if (r.data.first) await open(r.data.first);
    dirty();
  }


  // What runs.js (the Train, Try and Look tabs) takes from this page: the server's words and calls, the
  // file being edited and its save, and the redraw of the Edit tab when it is shown again.
  const studio = window.netspecStudio = {
    get view() { return view; }, goTo, say, api, $, banner, el, SVG, save, lang,
    get path() { return file.path; },
    showEdit() {
      if (lastValid) showDiagram(lastValid); // measured now that it is shown
      view.requestMeasure();
    },
    trainAfterSave: false, // a save's conflict dialog, answered "overwrite", then trains
    startTraining: null, // set by runs.js
  };
  // Once runs.js has run too (a script after this one: the server's answer to /api/session may come first)
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
