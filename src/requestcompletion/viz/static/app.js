// The run viewer's page: plain DOM code, no build step, no dependency.
// Saved text is only ever put in the page as text nodes (never as markup), and
// control and direction-changing characters are shown as escapes.
"use strict";

const ROW = 24;
const BIG = 2000; // above this many nodes the tree opens with only the top levels expanded
const embedded = document.getElementById("rc-data");
const bundle = embedded ? JSON.parse(embedded.textContent) : null;
const app = document.getElementById("app");
let stream = null; // the open EventSource, one per view

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false)
      node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
function text(value) {
  let s;
  if (typeof value === "string") s = value;
  else if (value && typeof value === "object" && "$repr" in value) s = value.$repr;
  else s = JSON.stringify(value, null, 2);
  return String(s).replace(UNSAFE, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}
const ms = (s) => (s === null || s === undefined ? "…" : s < 1 ? (s * 1000).toFixed(1) + " ms" : s.toFixed(2) + " s");
const when = (t) => (t ? new Date(t * 1000).toLocaleString() : "?");
const cost = (c) => (c === null || c === undefined ? "?" : "$" + c.toFixed(4));
const banner = (message) => { document.getElementById("banner").textContent = message || ""; };

async function getJSON(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw Object.assign(new Error(body.error || response.statusText), body);
  return body;
}
const api = {
  runs: () => (bundle ? Promise.resolve(bundle.listing) : getJSON("/api/runs")),
  run: (id) => (bundle ? Promise.resolve(bundle.runs[id]) : getJSON("/api/runs/" + encodeURIComponent(id))),
  diff: (a, b) => getJSON(`/api/diff?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`),
};
function listen(query, handlers) {
  if (stream) stream.close();
  stream = null;
  if (bundle || !Object.keys(handlers).length) return;
  window.rcListening = false; // true once the server has us subscribed (the tests wait for it)
  stream = new EventSource("/api/events" + query);
  stream.addEventListener("hello", () => { window.rcListening = true; });
  for (const [event, handler] of Object.entries(handlers))
    stream.addEventListener(event, (e) => handler(JSON.parse(e.data)));
}

// ---- the runs list -------------------------------------------------------------
function showList() {
  const picked = new Set();
  const compare = el("button", { id: "compare", disabled: "", onclick: () => {
    const [a, b] = [...picked];
    location.hash = `#/diff/${encodeURIComponent(a)}/${encodeURIComponent(b)}`;
  } }, "Compare the two selected runs");
  const body = el("tbody");
  const draw = (runs) => {
    body.replaceChildren(...runs.map((r) => {
      if (r.unreadable) return el("tr", { class: "unreadable", "data-run": r.id },
        el("td"), el("td", {}, text(r.file)), el("td", { colspan: "7", class: "why" }, "unreadable: " + text(r.unreadable)));
      const box = el("input", { type: "checkbox", onchange: () => {
        box.checked ? picked.add(r.id) : picked.delete(r.id);
        compare.toggleAttribute("disabled", picked.size !== 2);
      } });
      box.checked = picked.has(r.id);
      return el("tr", { "data-run": r.id }, el("td", {}, box),
        el("td", {}, el("a", { href: "#/run/" + encodeURIComponent(r.id) }, text(r.id))),
        el("td", {}, when(r.started_at)), el("td", { class: "num" }, ms(r.duration)),
        el("td", { class: "st-" + r.outcome }, text(r.outcome) + (r.open_questions ? ` (${r.open_questions} open questions)` : "")),
        el("td", { class: "num" }, r.nodes),
        el("td", { class: "num" }, r.input_tokens + r.output_tokens), el("td", { class: "num" }, cost(r.cost)),
        el("td", {}, r.resumed_from ? "resumed from " + text(r.resumed_from) : ""));
    }));
    if (!runs.length) body.append(el("tr", {}, el("td", { colspan: "9", class: "empty" }, "No saved runs yet.")));
  };
  app.replaceChildren(el("div", { class: "toolbar" }, compare),
    el("div", { class: "scroll" }, el("table", { id: "runs" },
      el("thead", {}, el("tr", {}, ["", "run", "started", "duration", "outcome", "nodes", "tokens", "cost", ""].map((h) => el("th", {}, h)))),
      body)));
  api.runs().then(draw, (e) => banner("cannot list the runs: " + e.message));
  listen("", { runs: draw });
}

// ---- one run: indexes over its columns ------------------------------------------
function index(model) {
  const n = model.nodes.status.length;
  const kids = Array.from({ length: n }, () => []);
  const roots = [];
  const depth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const p = model.nodes.parent[i];
    if (p === null || p === undefined || p >= n) roots.push(i);
    else { kids[p].push(i); depth[i] = depth[p] + 1; }
  }
  // the time axis runs from the first node's start to the last node's end
  let first = n ? Infinity : 0, last = 0;
  for (let i = 0; i < n; i++) {
    first = Math.min(first, model.nodes.start[i]);
    last = Math.max(last, model.nodes.end[i] ?? model.nodes.start[i]);
  }
  const name = (i) => model.names[model.nodes.name[i]];
  return { model, n, kids, roots, depth, t0: first, span: last - first || 1e-6, name };
}

// Rows of the tree in depth-first order: expanded nodes' children, or with a filter,
// every match and its ancestors.
function treeRows(ix, open, match) {
  const rows = [];
  let keep = null;
  if (match) {
    keep = new Uint8Array(ix.n);
    for (let i = 0; i < ix.n; i++) if (match(i)) for (let j = i; j !== null && j !== undefined && !keep[j]; j = ix.model.nodes.parent[j]) keep[j] = 1;
  }
  const stack = [...ix.roots].reverse();
  while (stack.length) {
    const i = stack.pop();
    if (keep && !keep[i]) continue;
    rows.push(i);
    if (keep || open.has(i)) for (let k = ix.kids[i].length - 1; k >= 0; k--) stack.push(ix.kids[i][k]);
  }
  return rows;
}

// A list that draws only the rows in view: a 10,000-row tree costs what 40 rows cost.
function virtualList(drawRow) {
  const box = el("div", { class: "vlist", tabindex: "0" });
  const spacer = el("div", { class: "spacer" });
  box.append(spacer);
  let rows = [];
  let queued = false;
  const paint = () => {
    queued = false;
    const first = Math.max(0, Math.floor(box.scrollTop / ROW) - 10);
    const last = Math.min(rows.length, first + Math.ceil((box.clientHeight || 600) / ROW) + 20);
    const drawn = [];
    for (let r = first; r < last; r++) {
      const row = drawRow(rows[r]);
      row.style.top = r * ROW + "px";
      drawn.push(row);
    }
    spacer.replaceChildren(...drawn);
  };
  box.addEventListener("scroll", () => { if (!queued) { queued = true; requestAnimationFrame(paint); } });
  return { box, set(newRows) { rows = newRows; spacer.style.height = rows.length * ROW + "px"; paint(); }, paint };
}

// ---- one run: the page ----------------------------------------------------------
function showRun(runId) {
  let ix = null, open = new Set(), selected = null, tab = "tree";
  const search = el("input", { id: "search", type: "search", placeholder: "filter by name", oninput: () => refresh() });
  const status = el("select", { id: "status", onchange: () => refresh() },
    ["", "succeeded", "failed", "cancelled", "running"].map((s) => el("option", { value: s }, s || "any status")));
  const tabs = ["tree", "timeline"].map((t) => el("button", { "data-tab": t, onclick: () => { tab = t; refresh(); } }, t));
  const head = el("div", { class: "summary", id: "summary" });
  const detail = el("div", { class: "detail", id: "detail" }, el("div", { class: "empty" }, "Select a node to see its details."));
  const list = virtualList((i) => (tab === "tree" ? treeRow(i) : barRow(i)));
  const axis = el("div", { class: "axis", id: "axis" });
  app.replaceChildren(head, el("div", { class: "toolbar" }, tabs, search, status),
    el("div", { class: "split" }, el("div", { class: "listcol" }, axis, list.box), detail));

  const matcher = () => {
    const words = search.value.trim().toLowerCase(), st = status.value;
    if (!words && !st) return null;
    return (i) => (!st || ix.model.nodes.status[i] === st) && (!words || ix.name(i).toLowerCase().includes(words));
  };
  function refresh() {
    for (const b of tabs) b.classList.toggle("on", b.dataset.tab === tab);
    if (!ix) return;
    drawAxis(axis, tab === "timeline" ? ix : null);
    const match = matcher();
    list.set(tab === "tree" ? treeRows(ix, open, match) : treeRows(ix, { has: () => true }, match));
  }
  const pick = (i) => { selected = i; list.paint(); drawDetail(detail, ix, i); };
  function rowBase(i, ...children) {
    return el("div", { class: "row st-" + ix.model.nodes.status[i] + (i === selected ? " selected" : ""), "data-id": i,
      onclick: () => pick(i) }, children);
  }
  function treeRow(i) {
    const nodes = ix.model.nodes, hasKids = ix.kids[i].length > 0;
    const toggle = el("span", { class: "toggle", onclick: (e) => {
      e.stopPropagation(); open.has(i) ? open.delete(i) : open.add(i); refresh();
    } }, hasKids ? (open.has(i) || matcher() ? "▾" : "▸") : "");
    const row = rowBase(i, toggle, el("span", { class: "dot" }), el("span", { class: "name" }, text(ix.name(i))),
      el("span", { class: "nid" }, "#" + i), el("span", { class: "dim" }, nodes.status[i]),
      el("span", { class: "dim" }, ms(nodes.end[i] === null ? null : nodes.end[i] - nodes.start[i])),
      nodes.replayed[i] ? el("span", { class: "badge replayed" }, "replayed") : null,
      nodes.error[i] ? el("span", { class: "st-failed" }, text(nodes.error[i].type)) : null);
    row.style.paddingLeft = 4 + ix.depth[i] * 16 + "px";
    return row;
  }
  function barRow(i) {
    const nodes = ix.model.nodes, end = nodes.end[i] ?? ix.t0 + ix.span;
    const bar = el("div", { class: "bar", title: ms(end - nodes.start[i]) });
    bar.style.left = (100 * (nodes.start[i] - ix.t0)) / ix.span + "%";
    bar.style.width = (100 * (end - nodes.start[i])) / ix.span + "%";
    return rowBase(i, el("span", { class: "label" }, "\u00a0".repeat(ix.depth[i] * 2), text(ix.name(i)), " #" + i),
      el("div", { class: "track" }, bar));
  }
  function load(model, first) {
    ix = index(model);
    if (first) for (let i = 0; i < ix.n; i++) if (ix.n <= BIG || ix.depth[i] < 1) open.add(i);
    drawSummary(head, model.summary, model.questions || [], ix);
    refresh();
    if (selected !== null && selected < ix.n) drawDetail(detail, ix, selected);
    if (first) window.rcFirstRender = performance.now(); // read by the browser test
  }
  api.run(runId).then((model) => { banner(""); load(model, true); }, (e) => {
    head.replaceChildren(el("div", { class: "empty" }, e.gone ? `There is no run ${text(runId)}: it was deleted or never saved.` : "This run cannot be shown: " + text(e.message)));
  });
  listen("?run=" + encodeURIComponent(runId), {
    run: (model) => { banner(""); load(model, !ix); },
    gone: () => banner("This run was deleted: its file is gone from the state folder. What you see is the last version read."),
    unreadable: (e) => banner("The run file cannot be read right now: " + text(e.error)),
  });
}

function drawAxis(axis, ix) {
  axis.replaceChildren();
  if (!ix) return;
  const track = el("div", { class: "track" });
  for (let k = 0; k <= 4; k++) {
    const tick = el("span", { class: "tick" }, ms((ix.span * k) / 4));
    tick.style.left = k * 25 + "%";
    track.append(tick);
  }
  axis.append(el("span", { class: "label dim" }, "time since the first node started"), track);
}

function drawSummary(head, s, questions, ix) {
  head.replaceChildren(...el("div", {},el("b", {}, "run " + text(s.id)), el("span", { class: "st-" + s.outcome }, text(s.outcome)),
    el("span", {}, "started " + when(s.started_at)), el("span", {}, ms(s.duration)), el("span", {}, s.nodes + " nodes"),
    el("span", {}, `${s.input_tokens} in / ${s.output_tokens} out tokens`), el("span", {}, "cost " + cost(s.cost)),
    s.resumed_from ? el("span", {}, "resumed from " + text(s.resumed_from)) : null, budgetOf(s.budget)).childNodes);
  const waiting = questions.filter((q) => q.status === "open");
  if (waiting.length) head.append(el("div", { class: "questions", id: "questions" },
    el("b", {}, `${waiting.length} open questions`),
    el("span", { class: "dim" }, " (answer them with Runner.from_state(file, answers={id: answer}))"),
    el("table", {}, el("tbody", {}, waiting.map((q) => el("tr", { "data-question": text(q.id) },
      el("td", {}, text(q.id)), el("td", {}, `${text(ix.name(q.node))} #${q.node}`), el("td", {}, text(q.question)),
      el("td", { class: "dim" }, q.schema === null || q.schema === undefined ? "any answer" : "schema " + text(q.schema))))))));
}
// The run's rc.Budget, limit by limit: spent (and reserved, if any) against the limit.
function budgetOf(budget) {
  const object = (v) => v && typeof v === "object" && !Array.isArray(v);
  if (!object(budget) || !object(budget.limits)) return null;
  const spent = object(budget.spent) ? budget.spent : {}, reserved = object(budget.reserved) ? budget.reserved : {};
  return el("span", { id: "budget" }, "budget: " + Object.entries(budget.limits).map(([limit, most]) => {
    const key = limit.replace(/^max_/, ""), own = (o) => (Object.hasOwn(o, key) ? o[key] : null); // never the prototype's
    const held = own(reserved);
    return `${text(key)} ${text(own(spent) ?? "?")} of ${text(most)}` + (held ? ` (+${text(held)} reserved)` : "");
  }).join(", "));
}

// ---- a node's detail ------------------------------------------------------------
function conversationOf(output) {
  const value = output && typeof output === "object" && "$value" in output ? output.$value : output;
  return value && typeof value === "object" && Array.isArray(value.history) ? value.history : null;
}
function drawMessage(m) {
  const parts = [el("div", { class: "role" }, text(m.role) + (m.name ? " · " + text(m.name) : ""))];
  if (m.content !== null && m.content !== undefined) parts.push(el("pre", {}, text(m.content)));
  for (const call of m.tool_calls || [])
    parts.push(el("div", { class: "toolcall" }, "→ calls ", el("b", {}, text(call.name)), el("pre", {}, text(call.arguments))));
  return el("div", { class: `msg ${text(m.role)}${m.is_error ? " error" : ""}` }, parts);
}
function nodeDetail(ix, i) {
  const nodes = ix.model.nodes, llm = (nodes.extras[i] || {}).llm, error = nodes.error[i];
  const end = nodes.end[i], parent = nodes.parent[i];
  const facts = [["status", el("span", { class: "st-" + nodes.status[i] }, nodes.status[i])],
    ["parent", parent === null ? "top-level request" : `${text(ix.name(parent))} #${parent}`],
    ["started", "+" + ms(nodes.start[i])], ["latency", ms(end === null ? null : end - nodes.start[i])]];
  if (nodes.replayed[i]) facts.push(["replayed", "yes: the recorded output was reused"]);
  if (llm) facts.push(["model", text(`${llm.provider ?? "?"}:${llm.model ?? "?"}`)],
    ["tokens", `${llm.input_tokens ?? 0} in / ${llm.output_tokens ?? 0} out`], ["cost", cost(llm.cost)]);
  const kw = nodes.kwargs[i] || {};
  const parts = [el("h2", {}, text(ix.name(i)), el("span", { class: "nid" }, " #" + i)),
    el("dl", {}, facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    el("h3", {}, "inputs"), el("pre", { class: "inputs" }, text(Object.keys(kw).length ? { args: nodes.args[i], kwargs: kw } : nodes.args[i]))];
  if (error) parts.push(el("h3", {}, "error"), el("pre", { class: "error st-failed" }, text(`${error.type}: ${error.message}`)),
    el("h3", {}, "traceback"), el("pre", { class: "traceback" }, text(error.traceback)));
  const talk = conversationOf(nodes.output[i]);
  const output = talk ? (nodes.output[i].$value || nodes.output[i]).output : nodes.output[i];
  if (!error) parts.push(el("h3", {}, "output"), el("pre", { class: "output" }, text(output)));
  if (talk) parts.push(el("h3", {}, "conversation"), el("div", { class: "conversation" }, talk.map(drawMessage)));
  const asked = (ix.model.questions || []).filter((q) => q.node === i);
  if (asked.length) parts.push(el("h3", {}, "questions"), asked.map((q) => el("div", { class: "question" },
    el("b", {}, text(q.id)), " ", el("span", { class: q.status === "open" ? "st-waiting" : "dim" }, text(q.status)), " ",
    text(q.question), q.status === "answered" ? el("pre", {}, text(q.answer)) : null)));
  const streamed = ix.model.streamed.filter(([n]) => n === i);
  if (streamed.length) parts.push(el("h3", {}, "streamed"), streamed.map(([, item]) => el("pre", {}, text(item))));
  return parts;
}
function drawDetail(box, ix, i) { box.replaceChildren(...nodeDetail(ix, i).flat(Infinity)); } // lists of parts too

// ---- two runs side by side ---------------------------------------------------------
function showDiff(a, b) {
  app.replaceChildren(el("div", { class: "empty" }, "Comparing…"));
  api.diff(a, b).then((d) => {
    const A = index(d.a), B = index(d.b);
    const byA = new Map(), byB = new Map();
    d.pairs.forEach((p, k) => { if (p.a !== null) byA.set(p.a, k); if (p.b !== null) byB.set(p.b, k); });
    const kids = d.pairs.map(() => []), tops = [], depth = [];
    d.pairs.forEach((p, k) => {
      const up = p.a !== null ? byA.get(d.a.nodes.parent[p.a]) : byB.get(d.b.nodes.parent[p.b]);
      up === undefined ? tops.push(k) : kids[up].push(k);
    });
    const rows = [], stack = [...tops].reverse().map((k) => [k, 0]);
    while (stack.length) {
      const [k, dep] = stack.pop(); rows.push(k); depth[k] = dep;
      for (let c = kids[k].length - 1; c >= 0; c--) stack.push([kids[k][c], dep + 1]);
    }
    let selected = null;
    const pane = el("div", { class: "diffpair", id: "diffdetail" }, el("div", { class: "empty" }, "Select a row to compare the two nodes."));
    const side = (ix, i) => (i === null ? "—" : `${ix.model.nodes.status[i]} · ${ms(ix.model.nodes.end[i] === null ? null : ix.model.nodes.end[i] - ix.model.nodes.start[i])}`);
    const list = virtualList((k) => {
      const p = d.pairs[k], ix = p.a !== null ? A : B, i = p.a !== null ? p.a : p.b;
      const row = el("div", { class: "row" + (p.changed.length ? " changed" : "") + (k === selected ? " selected" : ""), "data-pair": k,
        onclick: () => { selected = k; list.paint(); pane.replaceChildren(
          el("div", { class: "detail" }, p.a === null ? "only in " + text(d.b.summary.id) : nodeDetail(A, p.a)),
          el("div", { class: "detail" }, p.b === null ? "only in " + text(d.a.summary.id) : nodeDetail(B, p.b))); } },
        el("span", { class: "label" }, "\u00a0".repeat(depth[k] * 2), text(ix.name(i))),
        el("span", { class: "cell st-" + (p.a === null ? "" : d.a.nodes.status[p.a]) }, side(A, p.a)),
        el("span", { class: "cell st-" + (p.b === null ? "" : d.b.nodes.status[p.b]) }, side(B, p.b)),
        p.changed.map((c) => el("span", { class: "badge chg" }, c === "only" ? (p.a === null ? "only in B" : "only in A") : c + " changed")));
      return row;
    });
    const changed = d.pairs.filter((p) => p.changed.length).length;
    app.replaceChildren(el("div", { class: "summary" }, el("b", {}, "A: " + text(d.a.summary.id)), el("b", {}, "B: " + text(d.b.summary.id)),
      el("span", {}, `${d.pairs.length} nodes matched or unmatched, ${changed} with changes`)),
      el("div", { class: "split" }, list.box), pane);
    list.set(rows);
  }, (e) => app.replaceChildren(el("div", { class: "empty" }, "Cannot compare: " + text(e.message))));
  listen("", {});
}

// ---- routing ----------------------------------------------------------------------
function route() {
  banner("");
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "run" && parts[1]) showRun(parts[1]);
  else if (parts[0] === "diff" && parts[1] && parts[2] && !bundle) showDiff(parts[1], parts[2]);
  else if (bundle && bundle.listing.length === 1 && !location.hash) showRun(bundle.listing[0].id);
  else showList();
}
window.addEventListener("hashchange", route);
route();
