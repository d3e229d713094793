// netspec studio's Train, Try and Look tabs: trainings started on the server and followed while they run,
// their curves drawn in SVG, an image tried on a run's checkpoint, a run's confusion matrix and its exports.
// The editor's page (app.js) lends the server's words and calls through window.netspecStudio.
(function () {
  const studio = window.netspecStudio;
  const {say, api, $, banner, el, SVG, lang} = studio;

  // The runs the server started or found, polled about once a second while one is live.
  const LIVE = new Set(["starting", "running", "stopping"]);
  const COLOURS = ["#2f5fd0", "#d9480f", "#2e7d4f", "#8e44ad", "#0c8599", "#c2255c", "#7a5c00", "#495057"];
  const COLUMNS = ["epoch", "train_loss", "test_loss", "test_accuracy", "lr", "seconds", "images_per_s"];
  let runs = [], selected = null, panel = "edit", polling = null, looked = null, tries = 0;
  const overlaid = new Set(), colours = {};

  function colour(id) {
    if (!colours[id]) colours[id] = COLOURS[Object.keys(colours).length % COLOURS.length];
    return colours[id];
  }

  function metric(row, key) {
    const value = Array.isArray(row) ? row[COLUMNS.indexOf(key)] : row[key];
    return value === null || value === undefined || value === "" ? null : Number(value);
  }

  function best(run) {
    const values = run.metrics.map((m) => metric(m, "test_accuracy")).filter((v) => v !== null);
    return values.length ? Math.max(...values) : null;
  }

  const percent = (v) => (100 * v).toFixed(2) + "%";

  function number(v) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a < 1e-3 || a >= 1e5) return v.toExponential(a < 1e-3 && Number(v.toExponential(0)) === v ? 0 : 1);
    return String(Number(v.toPrecision(3)));
  }

  function node(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function runState(run) {
    return say(run.state) + (run.state === "stopped" && run.resumable ? ", " + say("resumable") : "");
  }

  // A new run is called "pending-N" until its process names its folder: the page follows it there.
  function follow(next) {
    if (!selected || next.some((r) => r.id === selected)) return;
    const before = new Set(runs.map((r) => r.id));
    const born = next.find((r) => !before.has(r.id));
    if (!born) return;
    if (overlaid.delete(selected)) overlaid.add(born.id);
    colours[born.id] = colours[selected];
    selected = born.id;
  }

  async function refreshRuns() {
    clearTimeout(polling);
    polling = null;
    let r;
    try {
      r = await api("/api/runs");
    } catch (e) { // the server is gone for now (the banner says so): ask again a little later
      if (runs.some((x) => LIVE.has(x.state))) polling = setTimeout(refreshRuns, 3000);
      return;
    }
    if (r.status !== 200) {
      banner(r.data.error);
      return;
    }
    follow(r.data.runs);
    runs = r.data.runs;
    if (!runs.some((x) => x.id === selected)) selected = runs.length ? runs[0].id : null;
    showRuns();
    if (runs.some((x) => LIVE.has(x.state))) polling = setTimeout(refreshRuns, 1000);
  }

  function showRuns() {
    const head = $("runs").tHead, body = $("runs").tBodies[0];
    head.replaceChildren(node("tr"));
    for (const key of ["", "run", "state", "epochs", "best"]) head.rows[0].append(node("th", {}, key && say(key)));
    const rows = runs.map((run) => {
      const row = node("tr", {class: run.id === selected ? "selected" : "", "data-id": run.id});
      const box = node("input", {type: "checkbox", "aria-label": say("overlay")});
      box.checked = overlaid.has(run.id);
      box.addEventListener("click", (e) => {
        e.stopPropagation();
        if (box.checked) overlaid.add(run.id);
        else overlaid.delete(run.id);
        drawCharts();
      });
      const swatch = node("span", {class: "swatch"});
      swatch.style.background = colour(run.id);
      const tick = node("td", {class: "tick"});
      tick.append(box, swatch);
      const name = node("td", {class: "name"});
      name.append(node("b", {}, run.folder || run.spec || run.id), node("small", {}, run.name));
      const state = node("td", {class: "state " + run.state}, say(run.state));
      if (run.state === "stopped" && run.resumable) state.append(node("small", {}, say("resumable")));
      const acc = best(run);
      row.append(tick, name, state,
                 node("td", {class: "num"}, run.metrics.length + "/" + (run.epochs || "–")),
                 node("td", {class: "num"}, acc === null ? "" : percent(acc)));
      row.addEventListener("click", () => select(run.id));
      return row;
    });
    body.replaceChildren(...rows);
    $("runs").hidden = !runs.length;
    $("overlay-note").textContent = runs.length ? say("overlay") : say("no_runs");
    showRun();
    drawCharts();
    fillRunPicks();
  }

  function select(id) {
    if (id === selected) return;
    selected = id;
    $("run-error").hidden = true;
    showRuns();
    if (panel === "look") look();
  }

  function showRun() {
    const run = runs.find((r) => r.id === selected);
    $("run-box").hidden = !run;
    if (!run) return;
    $("run-name").textContent = run.name + (run.folder ? " · " + run.folder : "");
    const state = $("run-state");
    state.textContent = runState(run);
    state.className = "state " + run.state;
    const message = $("run-message");
    message.hidden = !run.message;
    message.textContent = run.message || "";
    message.className = run.state === "failed" ? "bad" : "";
    $("stop").disabled = !LIVE.has(run.state);
    $("stop").textContent = run.state === "stopping" ? say("stop_now") : say("stop"); // a second Stop kills it
    $("resume").disabled = LIVE.has(run.state) || !run.resumable;
  }

  // ---- the curves: SVG drawn here, one chart per quantity, every run shown in its own colour
  function ticks(lo, hi, count, whole) {
    if (hi - lo < 1e-12) [lo, hi] = lo === 0 ? [0, 1] : [lo - Math.abs(lo) * 0.1, hi + Math.abs(hi) * 0.1];
    const rough = (hi - lo) / count, power = Math.pow(10, Math.floor(Math.log10(rough)));
    let step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough);
    if (whole) step = Math.max(1, Math.round(step));
    const first = Math.floor(lo / step + 1e-9) * step, out = [];
    for (let v = first; v < hi + step - 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  function chart(id, series, opts) {
    const figure = $(id), plot = figure.querySelector(".plot");
    figure.querySelector("figcaption").textContent = opts.title;
    const points = series.flatMap((s) => s.points);
    if (!points.length) {
      plot.replaceChildren(node("p", {class: "empty"}, opts.empty));
      return;
    }
    const width = Math.max(plot.clientWidth, 200), height = Math.max(plot.clientHeight, 100);
    const pad = {left: 54, right: 14, top: 10, bottom: 38};
    const ys = points.map((p) => p[1]);
    const xt = ticks(opts.x[0], Math.max(opts.x[1], ...points.map((p) => p[0])), Math.max(2, Math.floor(width / 70)),
                     true);
    let yt = ticks(opts.zero ? Math.min(0, ...ys) : Math.min(...ys), Math.max(...ys), 4, false);
    if (opts.top !== undefined) yt = yt.filter((v, i) => v <= opts.top || i === 0 || yt[i - 1] < opts.top);
    const [x0, x1, y0, y1] = [xt[0], xt[xt.length - 1], yt[0], yt[yt.length - 1]];
    const X = (v) => pad.left + (v - x0) / (x1 - x0 || 1) * (width - pad.left - pad.right);
    const Y = (v) => height - pad.bottom - (v - y0) / (y1 - y0 || 1) * (height - pad.top - pad.bottom);
    const svg = el("svg", {width, height, viewBox: `0 0 ${width} ${height}`, class: "curves", role: "img",
                           "aria-label": opts.title});
    for (const v of yt) {
      svg.append(el("line", {x1: pad.left, x2: width - pad.right, y1: Y(v), y2: Y(v), class: "grid"}));
      svg.append(el("text", {x: pad.left - 6, y: Y(v) + 4, class: "tick y"}, opts.format(v)));
    }
    for (const v of xt) {
      svg.append(el("line", {x1: X(v), x2: X(v), y1: height - pad.bottom, y2: height - pad.bottom + 4, class: "axis"}));
      svg.append(el("text", {x: X(v), y: height - pad.bottom + 15, class: "tick x"}, String(v)));
    }
    svg.append(el("line", {x1: pad.left, x2: width - pad.right, y1: height - pad.bottom, y2: height - pad.bottom,
                           class: "axis"}));
    svg.append(el("text", {x: (pad.left + width - pad.right) / 2, y: height - 9, class: "axis-label"}, say("epoch")));
    for (const s of series) {
      if (!s.points.length) continue;
      const g = el("g", {class: "series", "data-run": s.run, "data-kind": s.kind});
      // a new epoch starts its running mean again: its line starts afresh, not joined to the last one
      const joined = (i) => i > 0 && i < s.points.length && s.points[i][2] === s.points[i - 1][2];
      const d = s.points.map((p, i) => (joined(i) ? "L" : "M") + X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1))
        .join(" ");
      g.append(el("path", {d, stroke: s.colour, class: s.kind === "test" ? "line dashed" : "line",
                           "data-points": s.points.length}));
      s.points.forEach((p, i) => { // an epoch of one point has no line: a dot shows it
        if (!s.dots && !joined(i) && !joined(i + 1)) {
          g.append(el("circle", {cx: X(p[0]), cy: Y(p[1]), r: 2.2, fill: s.colour, class: "lone"}));
        }
      });
      if (s.dots && s.points.length <= 80) { // past that, dots would hide the line
        for (const p of s.points) {
          const dot = el("circle", {cx: X(p[0]), cy: Y(p[1]), r: 3, fill: s.kind === "test" ? "#fff" : s.colour,
                                    stroke: s.colour, class: "dot"});
          dot.append(el("title", {}, `${s.label}, ${say("epoch")} ${p[0]}: ${opts.format(p[1], true)}`));
          g.append(dot);
        }
      }
      svg.append(g);
    }
    plot.replaceChildren(svg);
  }

  function drawCharts() {
    if (panel !== "train") return;
    const shown = runs.filter((r) => r.id === selected || overlaid.has(r.id)).reverse();
    const last = Math.max(1, ...shown.map((r) => r.epochs || r.metrics.length));
    const per = (run, key, kind, scale) => ({
      run: run.id, kind, colour: colour(run.id), dots: true,
      label: run.name + " " + (run.folder || run.spec || run.id) +
             (kind === "line" ? "" : " (" + say(kind + "_loss") + ")"),
      points: run.metrics.map((m) => [metric(m, "epoch"), metric(m, key)]).filter((p) => p[1] !== null)
        .map((p) => [p[0], p[1] * (scale || 1)]),
    });
    const empty = say("no_epochs");
    chart("chart-loss", shown.flatMap((r) => [per(r, "train_loss", "train"), per(r, "test_loss", "test")]),
          {title: say("loss_chart"), empty, x: [1, last], zero: true, format: number});
    const percentage = (v, exact) => (exact ? v.toFixed(2) : v) + "%";
    chart("chart-accuracy", shown.map((r) => per(r, "test_accuracy", "line", 100)),
          {title: say("accuracy_chart"), empty, x: [1, last], top: 100, format: percentage});
    // Within the epoch too, where the run was followed live: a scheduler that steps every batch shows its curve
    const within = (run) => ({
      run: run.id, kind: "within", colour: colour(run.id), dots: false, label: run.name,
      points: (run.steps || []).filter((s) => s.lr !== null && s.lr !== undefined)
        .map((s) => [s.epoch - 1 + s.done / s.total, s.lr, 0]), // one line across the epochs
    });
    // a run followed live: its line alone (its per-epoch figure is the rate at each epoch's start, on that line)
    const rates = shown.map((r) => (within(r).points.length ? within(r) : per(r, "lr", "line")));
    const live = rates.some((s) => s.kind === "within");
    chart("chart-lr", rates, {title: say("lr_chart"), empty, x: [live ? 0 : 1, last], zero: true, format: number});
    chart("chart-steps", shown.map((run) => ({
      run: run.id, kind: "line", colour: colour(run.id), dots: false, label: run.name,
      points: (run.steps || []).filter((s) => s.loss !== null).map((s) => [s.epoch - 1 + s.done / s.total, s.loss,
                                                                              s.epoch]),
    })), {title: say("steps_chart"), empty: say("no_steps"), x: [0, last], zero: true, format: number});
    const legend = $("legend");
    legend.replaceChildren();
    for (const run of shown.slice().reverse()) {
      const item = node("span", {class: "item"});
      const swatch = node("span", {class: "swatch"});
      swatch.style.background = colour(run.id);
      item.append(swatch, node("span", {}, run.name + " · " + (run.folder || run.spec || run.id)));
      legend.append(item);
    }
    if (shown.length) {
      legend.append(node("span", {class: "item key"}, "— " + say("train_loss")),
                    node("span", {class: "item key"}, "- - " + say("test_loss")));
    }
  }

  async function startTraining(e) {
    e.preventDefault();
    $("train-error").hidden = true;
    studio.trainAfterSave = true;
    const saved = await studio.save(false);
    if (!saved) return; // a conflict: the dialog asks; Overwrite goes on to train
    studio.trainAfterSave = false;
    const epochs = $("epochs").value.trim();
    const sets = $("sets").value.split("\n").map((line) => line.trim()).filter(Boolean);
    const r = await api("/api/train", {path: studio.path, epochs: epochs ? Number(epochs) : null,
                                       device: $("device").value || null, sets});
    if (r.status !== 200) {
      $("train-error").textContent = r.data.error;
      $("train-error").hidden = false;
      return;
    }
    selected = r.data.run;
    await refreshRuns();
  }

  async function stopOrResume(route) {
    const epochs = $("epochs").value.trim();
    const body = route === "/api/stop" ? {run: selected} : {run: selected, epochs: epochs ? Number(epochs) : null};
    const r = await api(route, body);
    $("run-error").hidden = r.status === 200;
    $("run-error").textContent = r.status === 200 ? "" : r.data.error;
    await refreshRuns();
  }

  // ---- Try and Look work on the selected run when it has a checkpoint
  function fillRunPicks() {
    const usable = runs.filter((r) => r.best || r.resumable);
    for (const id of ["try-run", "look-run"]) {
      const pick = $(id);
      const options = usable.map((r) => new Option(r.name + " · " + (r.folder || r.id), r.id));
      if (!options.length) options.push(new Option(say("pick_run"), ""));
      pick.replaceChildren(...options);
      pick.disabled = !usable.length;
      if (usable.some((r) => r.id === selected)) pick.value = selected;
    }
  }

  function picked(id) {
    const run = $(id).value;
    if (run && run !== selected) select(run);
    return run;
  }

  function tryFile(image) {
    if (!image) return;
    const reader = new FileReader();
    reader.onload = () => {
      $("yours").src = reader.result;
      $("yours-box").hidden = false;
    };
    reader.readAsDataURL(image);
    tryImage(image);
  }

  async function tryImage(image) {
    const run = picked("try-run");
    const note = $("try-status");
    note.className = "small";
    if (!run) {
      note.textContent = say("pick_run");
      return;
    }
    note.textContent = say("trying");
    const mine = ++tries;
    const r = await api("/api/try", image, {run, top: 5, name: image.name || ""});
    if (mine !== tries) return; // a later picture is being tried: its answer is the one to show
    for (const id of ["top", "prepared", "try-warnings"]) $(id).replaceChildren();
    $("try-result").hidden = r.status !== 200;
    if (r.status !== 200) {
      note.textContent = r.data.error;
      note.className = "small bad";
      $("seen").hidden = true;
      return;
    }
    note.textContent = "";
    $("seen").src = r.data.seen;
    $("seen").hidden = false;
    for (const t of r.data.top) {
      const li = node("li");
      const bar = node("span", {class: "bar"});
      bar.style.width = (100 * t.probability).toFixed(1) + "%";
      const track = node("span", {class: "track"});
      track.append(bar);
      li.append(node("span", {class: "class"}, t.class), track, node("span", {class: "num"}, percent(t.probability)));
      $("top").append(li);
    }
    for (const step of r.data.prepared) $("prepared").append(node("li", {}, step));
    for (const w of r.data.warnings) {
      const li = node("li", {class: "warning"}, w.message);
      if (w.hint) li.append(node("div", {class: "hint"}, say("hint") + ": " + w.hint));
      $("try-warnings").append(li);
    }
    if (!r.data.warnings.length) $("try-warnings").append(node("li", {class: "ok"}, say("no_warnings")));
  }

  async function look() {
    const run = picked("look-run");
    const overall = $("overall");
    overall.className = "";
    const key = run + ":" + ((runs.find((r) => r.id === run) || {metrics: []}).metrics.length);
    if (!run) {
      overall.textContent = say("pick_run");
      $("matrix").replaceChildren();
      $("per-class").tBodies[0].replaceChildren();
      looked = null;
      return;
    }
    if (key === looked) return;
    looked = key;
    overall.textContent = say("looking");
    for (const id of ["matrix", "export-result"]) $(id).replaceChildren();
    $("per-class").tBodies[0].replaceChildren();
    const r = await api("/api/look", undefined, {run});
    if (looked !== key) return; // another run was chosen meanwhile
    if (r.status !== 200) {
      overall.textContent = r.data.error;
      overall.className = "bad";
      looked = null;
      return;
    }
    if (!r.data.matrix) { // a model that does not classify: its loss alone
      overall.textContent = say("loss_only", {loss: number(r.data.loss)});
      $("matrix").replaceChildren();
      $("per-class").tBodies[0].replaceChildren();
      return;
    }
    const n = r.data.matrix.flat().reduce((a, b) => a + b, 0);
    overall.textContent = say("overall", {accuracy: percent(r.data.accuracy), n: n.toLocaleString(lang),
                                          loss: number(r.data.loss)});
    showMatrix(r.data);
    showPerClass(r.data);
  }

  function showMatrix(data) {
    const table = $("matrix"), long = data.classes.some((c) => String(c).length > 3);
    const head = node("tr");
    head.append(node("th", {class: "corner"}, say("true_class") + " ↓ / " + say("predicted") + " →"));
    for (const c of data.classes) head.append(node("th", {class: long ? "col vertical" : "col"}, c));
    const rows = data.matrix.map((counts, i) => {
      const row = node("tr");
      row.append(node("th", {class: "row"}, data.classes[i]));
      const total = counts.reduce((a, b) => a + b, 0) || 1;
      counts.forEach((count, j) => {
        const share = count / total;
        const cell = node("td", {class: i === j ? "hit" : count ? "miss" : "zero",
                                 title: `${say("true_class")} ${data.classes[i]}, ${say("predicted")} ` +
                                        `${data.classes[j]}: ${count}`}, String(count));
        if (count) {
          cell.style.background = i === j ? `rgba(47, 95, 208, ${0.12 + 0.88 * share})`
            : `rgba(192, 57, 43, ${Math.min(1, 0.15 + 1.5 * share)})`;
          if ((i === j && share > 0.5) || (i !== j && share > 0.45)) cell.classList.add("light");
        }
        row.append(cell);
      });
      return row;
    });
    table.replaceChildren(head, ...rows);
  }

  function showPerClass(data) {
    const head = $("per-class").tHead, body = $("per-class").tBodies[0];
    head.replaceChildren(node("tr"));
    for (const key of ["class", "accuracy", "images"]) head.rows[0].append(node("th", {}, say(key)));
    body.replaceChildren(...data.per_class.map((c) => {
      const row = node("tr");
      const cell = node("td"), inside = node("div", {class: "acc-cell"});
      const track = node("span", {class: "track"}), bar = node("span", {class: "bar"});
      bar.style.width = (100 * (c.accuracy || 0)).toFixed(1) + "%";
      track.append(bar);
      inside.append(track, node("span", {class: "num"}, c.accuracy === null ? "" : percent(c.accuracy)));
      cell.append(inside);
      row.append(node("td", {}, c.class), cell, node("td", {class: "num"}, String(c.count)));
      return row;
    }));
  }

  async function exportRun(format) {
    const run = picked("look-run"), out = $("export-result");
    if (!run) return;
    const buttons = document.querySelectorAll("#exports button");
    buttons.forEach((b) => { b.disabled = true; });
    out.className = "";
    out.textContent = say("exporting");
    const r = await api("/api/export", {run, format});
    buttons.forEach((b) => { b.disabled = false; });
    if (r.status !== 200) {
      out.textContent = r.data.error;
      out.className = "bad";
      return;
    }
    const [before, after] = say("written").split("{path}"); // the path in code type, where the language puts it
    out.replaceChildren(before, node("code", {}, r.data.path), after || "");
    if (r.data.max_difference !== null && r.data.max_difference !== undefined) {
      out.append(node("div", {class: "small"}, say("difference", {value: number(r.data.max_difference)})));
    }
  }

  function showPanel(name) {
    panel = name;
    history.replaceState(null, "", name === "edit" ? location.pathname + location.search : "#" + name);
    for (const tab of document.querySelectorAll("#tabs .tab")) {
      const on = tab.dataset.panel === name;
      tab.setAttribute("aria-selected", String(on));
      $(tab.dataset.panel).hidden = !on;
    }
    if (name === "edit") {
      studio.showEdit();
    } else {
      refreshRuns().then(() => { if (name === "look") look(); });
    }
  }

  function startRuns() {
    for (const tab of document.querySelectorAll("#tabs .tab")) {
      tab.textContent = say(tab.dataset.panel);
      tab.addEventListener("click", () => showPanel(tab.dataset.panel));
    }
    const text = {"epochs-label": "epochs", "device-label": "device", "device-spec": "as_spec", "sets-label": "sets",
                  "start-train": "start_train", "stop": "stop", "resume": "resume", "runs-title": "runs",
                  "drop-text": "drop", "drop-or": "or", "choose-text": "choose", "yours-title": "yours",
                  "seen-title": "seen", "top-title": "top", "prepared-title": "prepared",
                  "try-warnings-title": "try_warnings", "matrix-title": "matrix", "per-class-title": "per_class",
                  "export-title": "export"};
    for (const [id, key] of Object.entries(text)) $(id).textContent = say(key);
    for (const label of document.querySelectorAll(".run-label")) label.textContent = say("run");
    $("epochs").placeholder = say("as_spec");
    $("train-form").addEventListener("submit", startTraining);
    $("stop").addEventListener("click", () => stopOrResume("/api/stop"));
    $("resume").addEventListener("click", () => stopOrResume("/api/resume"));
    $("try-run").addEventListener("change", () => picked("try-run"));
    $("look-run").addEventListener("change", () => look());
    $("image").addEventListener("change", (e) => {
      tryFile(e.target.files[0]);
      e.target.value = ""; // the same file chosen again is tried again
    });
    $("yours").addEventListener("error", () => { $("yours-box").hidden = true; }); // not a picture the browser shows
    const drop = $("drop");
    const carriesFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types).includes("Files");
    drop.addEventListener("dragenter", (e) => { if (carriesFiles(e)) drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    window.addEventListener("dragover", (e) => { if (carriesFiles(e)) e.preventDefault(); });
    window.addEventListener("drop", (e) => {
      if (!carriesFiles(e)) return;
      e.preventDefault(); // a file dropped beside the zone is not opened in place of the page
      drop.classList.remove("over");
      if (drop.contains(e.target)) tryFile(e.dataTransfer.files[0]);
    });
    for (const button of document.querySelectorAll("#exports button")) {
      button.addEventListener("click", () => exportRun(button.dataset.format));
    }
    window.addEventListener("resize", drawCharts);
    const tab = location.hash.slice(1); // a reload stays on its tab
    if (["train", "try", "look"].includes(tab)) showPanel(tab);
    else refreshRuns();
  }


  studio.startTraining = startTraining;
  window.netspecRuns = {start: startRuns};
})();
