// runner dashboard: plain JS over the JSON API (/api/openapi.json). Data is only ever set as
// text (never as HTML), so a log line or a commit message cannot inject markup.
"use strict";

const TOKEN = document.querySelector('meta[name="runner-token"]').content;
const PAGE = document.body.dataset.page;
const main = document.getElementById("main");
const POLL_MS = 2000;

// ------------------------------------------------------------------ helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style") el.setAttribute("style", v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function notice(text, bad) {
  const el = document.getElementById("notice");
  el.textContent = text || "";
  el.className = bad ? "bad" : "";
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return { body, headers: r.headers };
}

async function get(path) {
  return (await api(path)).body;
}

async function post(path, payload) {
  const r = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Runner-Token": TOKEN },
    body: JSON.stringify(payload || {}),
  });
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(`${r.status}: ${body.error || r.statusText}`);
  return body;
}

function fmtDuration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 10) return `${s.toFixed(1)}s`;
  s = Math.round(s);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

function fmtTime(ts) {
  if (!ts) return "–";
  const d = new Date(ts * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// A duration; while still running, a span that counts up every second (see the timer at the end).
function running(started, ended, duration) {
  if (duration !== null && duration !== undefined) return fmtDuration(duration);
  if (!started || ended) return "–";
  return h("span", { class: "elapsed", "data-since": started }, fmtDuration(Date.now() / 1000 - started) + "…");
}

function statusClass(status) {
  const s = String(status || "").toUpperCase().replace(/[^A-Z]/g, "");
  if (["SUCCEEDED", "APPROVED", "READY", "HEALTHY"].includes(s)) return "ok";
  if (["FAILED", "FAULT", "TIMEDOUT", "REJECTED", "UNHEALTHY", "UNREACHABLE", "EXPIRED"].includes(s)) return "bad";
  if (["INPROGRESS", "BAKING", "QUEUED", "CREATED", "STOPPING"].includes(s)) return "run";
  if (["WAITING", "PENDINGAPPROVAL", "AWAITINGAPPROVAL"].includes(s)) return "wait";
  return "idle";
}

function badge(status) {
  return h("span", { class: `badge ${statusClass(status)}` }, status || "–");
}

function short(id, n) {
  if (!id) return "–";
  const text = String(id);
  const cut = text.startsWith("sha256:") ? 7 + (n || 12) : n || 12;
  return h("code", { title: text }, text.length > cut ? text.slice(0, cut) + "…" : text);
}

function actionButton(label, cls, run) {
  const b = h("button", { class: cls, type: "button" }, label);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await run();
    } catch (e) {
      notice(e.message, true);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

async function followJob(job) {
  notice(`${job.action} ${job.subject}: started`);
  for (;;) {
    const now = await get(`/api/jobs/${job.id}`);
    const last = now.messages.length ? now.messages[now.messages.length - 1] : "";
    if (now.status !== "InProgress") {
      notice(`${now.action} ${now.subject}: ${now.status}${now.error ? " — " + now.error : ""}`, now.status === "Failed");
      return now;
    }
    notice(`${now.action} ${now.subject}: ${last || "in progress"}`);
    await new Promise((r) => setTimeout(r, 700));
  }
}

// Re-renders only when the data changed, so buttons and inputs are not replaced under the cursor.
function poller(load, render) {
  let last = null;
  const tick = async () => {
    try {
      const data = await load();
      const text = JSON.stringify(data);
      if (text !== last) {
        last = text;
        render(data);
      }
    } catch (e) {
      notice(e.message, true);
    }
  };
  tick();
  return setInterval(tick, POLL_MS);
}

function table(headers, rows, attrs) {
  return h("table", attrs || {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}

// ------------------------------------------------------------------ pipelines

function pipelinesPage() {
  main.replaceChildren(h("h1", {}, "Pipeline executions"), h("div", { id: "executions" }));
  poller(() => get("/api/executions?limit=20"), (executions) => {
    const box = document.getElementById("executions");
    const typing = document.activeElement && document.activeElement.dataset.draft;
    const caret = typing ? document.activeElement.selectionStart : null;
    box.replaceChildren(...(executions.length ? executions.map(executionCard) : [h("p", { class: "muted" }, "No pipeline execution yet.")]));
    const again = typing ? [...box.querySelectorAll("input[data-draft]")].find((el) => el.dataset.draft === typing) : null;
    if (again) {
      again.focus();
      again.setSelectionRange(caret, caret);
    }
  });
}

function waitingApproval(execution, stage) {
  return execution.approvals.find((a) => a.stage === stage && !["Approved", "Rejected", "Expired", "Failed", "Succeeded", "Cancelled"].includes(a.status));
}

function executionCard(x) {
  const flow = h("div", { class: "flow" });
  x.stages.forEach((stage, i) => {
    if (i) flow.append(h("span", { class: "arrow" }, "→"));
    flow.append(stageBox(x, stage));
  });
  return h("section", { class: "card execution", "data-execution": x.id },
    h("div", { class: "card-head" },
      h("strong", {}, x.pipeline), " ", short(x.id, 8), " ", badge(x.status),
      h("span", { class: "muted" }, ` commit `, short(x.commit, 12), ` · ${x.trigger} · ${x.mode} · ${fmtTime(x.created)} · `, running(x.created, x.ended, x.duration_s)),
      h("span", { class: "spacer" }),
      actionButton("Re-run", "small", async () => followJob(await post(`/api/executions/${encodeURIComponent(x.id)}/rerun`)))),
    flow);
}

// Comments typed into approval boxes, by execution and stage: the list is re-rendered when
// any execution changes, and what the reviewer is typing must not vanish with it.
const drafts = new Map();

function decidedApproval(execution, stage) {
  const decided = execution.approvals.filter((a) => a.stage === stage && a.decided);
  return decided.length ? decided[decided.length - 1] : null;
}

function stageBox(x, stage) {
  const approval = waitingApproval(x, stage.name);
  const decided = approval ? null : decidedApproval(x, stage.name);
  const status = approval ? "Waiting" : stage.status;
  const box = h("div", { class: `stage ${statusClass(status)}`, "data-stage": stage.name },
    h("div", { class: "stage-name" }, stage.name),
    h("div", {}, badge(status)),
    h("div", { class: "muted" }, running(stage.started, stage.ended, stage.duration_s)),
    decided ? h("div", { class: "muted decision" }, `${decided.status}${decided.summary ? ": " + decided.summary : ""}`) : null);
  if (approval) {
    const key = `${x.id}/${stage.name}`;
    const summary = h("input", { type: "text", placeholder: "comment (required to reject)", class: "summary", "data-draft": key });
    summary.value = drafts.get(key) || "";
    summary.addEventListener("input", () => drafts.set(key, summary.value));
    box.append(summary, h("div", { class: "buttons" },
      actionButton("Approve", "approve", async () => {
        await post(`/api/executions/${encodeURIComponent(x.id)}/approve`, { summary: summary.value });
        notice(`approved ${x.id}`);
        drafts.delete(key);
      }),
      actionButton("Reject", "reject", async () => {
        await post(`/api/executions/${encodeURIComponent(x.id)}/reject`, { summary: summary.value });
        notice(`rejected ${x.id}`);
        drafts.delete(key);
      })));
  }
  return box;
}

// ------------------------------------------------------------------ build history

function historyPage() {
  const q = new URLSearchParams(location.search);
  const field = (name, options) => {
    const el = options
      ? h("select", { name }, h("option", { value: "" }, `any ${name}`), options.map((o) => h("option", { value: o }, o)))
      : h("input", { name, type: name === "since" ? "date" : "search", placeholder: name === "q" ? "build id or commit" : "" });
    el.value = q.get(name) || "";
    return el;
  };
  const form = h("form", { class: "filters", id: "filters" });
  const results = h("div", { id: "results" });
  main.replaceChildren(h("h1", {}, "Build history"), form, results);
  get("/api/builds/facets").then((f) => {
    form.replaceChildren(field("service", f.services), field("status", f.statuses), field("project", f.projects),
      field("q"), h("label", {}, "since ", field("since")), h("button", { type: "submit" }, "Filter"));
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, v);
    history.replaceState(null, "", `/history?${next}`);
    loadHistory(next, results);
  });
  loadHistory(q, results);
}

async function loadHistory(q, results) {
  const params = new URLSearchParams();
  for (const k of ["service", "status", "project", "q"]) if (q.get(k)) params.set(k, q.get(k));
  if (q.get("since")) params.set("since", String(new Date(q.get("since")).getTime() / 1000));
  const offset = Number(q.get("offset") || 0);
  params.set("limit", "50");
  params.set("offset", String(offset));
  try {
    const { body, headers } = await api(`/api/builds?${params}`);
    const total = Number(headers.get("X-Total-Count") || body.length);
    const page = (delta) => {
      const next = new URLSearchParams(q);
      next.set("offset", String(Math.max(0, offset + delta)));
      history.replaceState(null, "", `/history?${next}`);
      loadHistory(next, results);
    };
    results.replaceChildren(
      h("p", { class: "muted", id: "total" }, `${total} build(s); showing ${total ? offset + 1 : 0}–${offset + body.length}`),
      table(["#", "Build", "Service", "Status", "Source", "Started", "Duration"], body.map((b) =>
        h("tr", {}, h("td", {}, b.number), h("td", {}, h("a", { href: `/builds/${encodeURIComponent(b.id)}` }, b.id), batchTag(b)),
          h("td", {}, b.service || "–"), h("td", {}, badge(b.status)), h("td", {}, short(b.resolved_source_version, 12)),
          h("td", {}, fmtTime(b.started)), h("td", {}, running(b.started, b.ended, b.duration_s)))),
      { class: "history", id: "history-table" }),
      h("div", { class: "pager" },
        offset > 0 ? h("button", { type: "button", onclick: () => page(-50) }, "← Newer") : null,
        offset + body.length < total ? h("button", { type: "button", onclick: () => page(50) }, "Older →") : null));
  } catch (e) {
    notice(e.message, true);
  }
}

// ------------------------------------------------------------------ batch builds

function batchTag(b) {
  if (!b.batch) return null;
  return h("span", { class: "muted" }, " · ", h("a", { href: `/batches/${encodeURIComponent(b.batch.id)}` }, b.batch.id), ` ${b.batch.identifier}`);
}

function batchPage() {
  const id = decodeURIComponent(location.pathname.slice("/batches/".length));
  const timer = poller(() => get(`/api/batches/${encodeURIComponent(id)}`), (b) => {
    main.replaceChildren(
      h("h1", {}, `Batch ${b.batch_id} `, badge(b.status)),
      h("p", { class: "muted" }, `${b.kind} · started ${fmtTime(b.started)} · `, running(b.started, b.ended, b.ended ? b.ended - b.started : null)),
      table(["Task", "#", "Status", "Depends on"], b.builds.map((t) =>
        h("tr", {}, h("td", {}, t.build_id ? h("a", { href: `/builds/${encodeURIComponent(t.build_id)}` }, t.identifier) : t.identifier),
          h("td", {}, t.number ?? "–"), h("td", {}, badge(t.status)), h("td", {}, t.depends_on.join(", ") || "–"))), { class: "history", id: "batch-table" }));
    if (b.ended) clearInterval(timer);
  });
}

// ------------------------------------------------------------------ build page

function buildPage() {
  const id = decodeURIComponent(location.pathname.slice("/builds/".length));
  const head = h("div", { id: "build-head" });
  const details = h("div", { id: "build-details" });
  const log = logView(id);
  main.replaceChildren(head, details, log.element);
  const timer = poller(() => get(`/api/builds/${encodeURIComponent(id)}`), (b) => {
    renderBuild(b, head, details);
    if (b.ended) clearInterval(timer);
  });
}

function renderBuild(b, head, details) {
  head.replaceChildren(
    h("h1", {}, `Build ${b.id} `, badge(b.status)),
    h("p", { class: "muted" }, `#${b.number} · project ${b.project}${b.service ? " · service " + b.service : ""} · by ${b.initiator} · source `,
      short(b.resolved_source_version || b.source_version, 12), ` · image ${b.build_image} · started ${fmtTime(b.started)} · `, running(b.started, b.ended, b.duration_s), " ",
      actionButton("Re-run", "small", async () => followJob(await post(`/api/builds/${encodeURIComponent(b.id)}/rerun`)))));
  const result = b.result || {};
  const parts = [
    h("h2", {}, "Phases"),
    table(["Name", "Status", "Duration", "Context"], b.phases.map((p) =>
      h("tr", { "data-phase": p.name }, h("td", {}, p.name), h("td", {}, badge(p.status)), h("td", {}, running(p.started, p.ended, p.duration_s)),
        h("td", {}, p.status_code ? h("code", {}, p.status_code) : "", p.status_code && p.context ? ": " : "", p.context))), { class: "phases" }),
    reportsView(result.reports || []),
    artifactsView(b, result.artifacts),
    variablesView(result.exported_variables || {}),
  ];
  details.replaceChildren(...parts.filter((p) => p));
}

function reportsView(reports) {
  if (!reports.length) return null;
  return h("div", {}, h("h2", {}, "Reports"), reports.map((r) => h("div", { class: "report" },
    h("p", {}, h("strong", {}, r.name), " ", badge(r.status), ` ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped of ${r.total}`, r.problem ? ` — ${r.problem}` : ""),
    r.failures.length ? table(["Failing test case", "Suite", "Message"], r.failures.map((c) =>
      h("tr", {}, h("td", {}, c.name), h("td", {}, c.suite), h("td", {}, h("pre", { class: "message" }, c.message))))) : null)));
}

function artifactsView(b, artifacts) {
  if (!artifacts) return null;
  const base = `/api/builds/${encodeURIComponent(b.id)}/artifacts`;
  const block = (name, files) => h("div", { class: "artifact" },
    h("p", {}, h("strong", {}, name), " ", h("a", { href: `${base}/${encodeURIComponent(name)}.zip`, download: "" }, `${name}.zip`), h("span", { class: "muted" }, ` (${files.length} file(s))`)),
    h("ul", { class: "files" }, files.slice(0, 200).map((f) => h("li", {}, h("a", { href: `${base}/${encodeURIComponent(name)}/${f.split("/").map(encodeURIComponent).join("/")}` }, f)))));
  const blocks = [];
  if ((artifacts.primary || []).length) blocks.push(block("artifacts", artifacts.primary));
  for (const [name, files] of Object.entries(artifacts.secondary || {})) blocks.push(block(name, files));
  return blocks.length ? h("div", {}, h("h2", {}, "Artifacts"), blocks) : null;
}

function variablesView(vars) {
  const names = Object.keys(vars);
  if (!names.length) return null;
  return h("div", {}, h("h2", {}, "Exported variables"),
    table(["Name", "Value"], names.map((n) => h("tr", {}, h("td", {}, h("code", {}, n)), h("td", {}, h("code", {}, vars[n]))))));
}

// A log that stays usable with 100,000 lines: the tail first, earlier pages on demand, a
// bounded number of lines in the page, a filter, and "follow" that only scrolls while at the bottom.
function logView(id) {
  const MAX_LINES = 20000;
  const PAGE = 2000;
  const enc = encodeURIComponent(id);
  const lines = h("div", { class: "log", id: "log" });
  const filter = h("input", { type: "search", placeholder: "filter lines", id: "log-filter" });
  const follow = h("input", { type: "checkbox", checked: true, id: "log-follow" });
  const count = h("span", { class: "muted", id: "log-count" });
  const earlier = h("button", { type: "button", class: "small", hidden: true }, "Load earlier lines");
  const state = { first: 0, last: 0, shown: 0 };
  const element = h("div", {}, h("h2", {}, "Log"),
    h("div", { class: "log-tools" }, filter, h("label", {}, follow, " follow"), h("a", { href: `/api/builds/${enc}/logs.txt` }, "plain text"), count, earlier),
    lines);

  const matches = (text) => !filter.value || text.toLowerCase().includes(filter.value.toLowerCase());
  const lineNode = ([seq, text]) => {
    let cls = "ln";
    if (text.startsWith("[Container]")) cls += " sys";
    if (/Phase complete: .* State: (FAILED|FAULT|TIMED_OUT)/.test(text)) cls += " fail";
    if (/Entering phase/.test(text)) cls += " phase";
    const node = h("div", { class: cls, "data-seq": seq }, h("span", { class: "no" }, seq), h("span", { class: "tx" }, text));
    if (!matches(text)) node.hidden = true;
    return node;
  };
  const atBottom = () => lines.scrollHeight - lines.scrollTop - lines.clientHeight < 40;
  const append = (batch) => {
    const stick = follow.checked && atBottom();
    lines.append(...batch.map(lineNode));
    state.last = batch[batch.length - 1][0];
    state.shown += batch.length;
    while (state.shown > MAX_LINES) {
      lines.firstChild.remove();
      state.shown -= 1;
      state.first = Number(lines.firstChild.dataset.seq);
      earlier.hidden = false;
    }
    if (stick || (follow.checked && state.shown === batch.length)) lines.scrollTop = lines.scrollHeight;
    count.textContent = ` ${state.last} line(s)`;
  };
  filter.addEventListener("input", () => {
    for (const node of lines.children) node.hidden = !matches(node.lastChild.textContent);
  });
  earlier.addEventListener("click", async () => {
    const page = await get(`/api/builds/${enc}/logs?before=${state.first}&limit=${PAGE}`);
    if (page.lines.length) {
      const height = lines.scrollHeight;
      lines.prepend(...page.lines.map(lineNode));
      lines.scrollTop += lines.scrollHeight - height;
      state.first = page.lines[0][0];
      state.shown += page.lines.length;
    }
    earlier.hidden = state.first <= page.first_seq;
  });
  get(`/api/builds/${enc}/logs?tail=${PAGE}`).then((page) => {
    if (page.lines.length) {
      state.first = page.lines[0][0];
      append(page.lines);
      lines.scrollTop = lines.scrollHeight;
    }
    earlier.hidden = state.first <= page.first_seq;
    const source = new EventSource(`/api/builds/${enc}/logs/stream?after=${state.last}`);
    source.addEventListener("lines", (ev) => append(JSON.parse(ev.data)));
    source.addEventListener("end", (ev) => {
      source.close();
      lines.dataset.ended = JSON.parse(ev.data).status;
    });
  }).catch((e) => notice(e.message, true));
  return { element };
}

// ------------------------------------------------------------------ environments

function environmentsPage() {
  main.replaceChildren(h("h1", {}, "Environments"), h("div", { id: "environments" }));
  poller(() => get("/api/environments"), (envs) => {
    document.getElementById("environments").replaceChildren(...(envs.length ? envs.map(environmentView) : [h("p", { class: "muted" }, "No environment is up yet.")]));
  });
}

function environmentView(env) {
  return h("section", { class: "environment", "data-environment": env.name },
    h("div", { class: "card-head" }, h("h2", {}, env.name), h("span", { class: "spacer" }),
      actionButton(`Roll back ${env.name}`, "reject small", async () => rollback(env.name, null))),
    env.services.length ? env.services.map(serviceView) : h("p", { class: "muted" }, "No service deployed."));
}

async function rollback(environment, service) {
  const what = service ? `${service} in ${environment}` : `every service in ${environment}`;
  if (!confirm(`Roll back ${what} to the previous slot?`)) return;
  await followJob(await post(`/api/environments/${encodeURIComponent(environment)}/rollback`, { service }));
}

function weightsBar(weights, live) {
  const bar = h("div", { class: "weights", title: "traffic weights" });
  for (const slot of ["blue", "green"]) {
    const pct = weights[slot] !== undefined ? weights[slot] : slot === live ? 100 : 0;
    if (pct > 0) bar.append(h("div", { class: `slot-${slot}`, style: `width:${pct}%`, "data-slot": slot, "data-weight": pct }, `${slot} ${pct}%`));
  }
  return bar;
}

// The slot that is not live: the store remembers its image after the container is gone
// (a rollback, the end of the termination wait), so say what `runner status` sees.
function otherSlot(s, other) {
  const image = s.slots[other];
  if (!image || !image.tag) return null;
  const container = (s.slot_containers || {})[other];
  let state = container || "";
  if (container === "running" && s.warm_until && !(s.weights[other] > 0)) state = `warm until ${fmtTime(s.warm_until).slice(11)} for an instant rollback`;
  else if (container === "absent") state = "removed";
  return h("span", { class: "muted other-slot", "data-slot": other, "data-container": container || "unknown" },
    ` · ${other} slot: `, h("code", {}, image.tag), state ? ` (${state})` : "");
}

function serviceView(s) {
  const other = s.live_slot === "blue" ? "green" : "blue";
  return h("div", { class: "card service", "data-service": s.service },
    h("div", { class: "card-head" }, h("strong", {}, s.service), " live slot ",
      h("span", { class: `slot slot-${s.live_slot}` }, s.live_slot || "none"), " ", badge(s.health.status),
      h("span", { class: "muted", title: s.health.url || "" }, ` ${s.health.detail}`), h("span", { class: "spacer" }),
      actionButton("Roll back", "reject small", async () => rollback(s.environment, s.service))),
    h("p", {}, "image ", h("code", { class: "tag" }, (s.live && s.live.tag) || "–"), " ", short(s.live && s.live.id, 12),
      otherSlot(s, other),
      h("span", { class: "muted" }, ` · updated ${fmtTime(s.updated)}`)),
    weightsBar(s.weights, s.live_slot),
    s.deployments.length ? table(["Deployment", "Status", "Image", "Strategy", "Created", "Duration", "Events"], s.deployments.map(deploymentRow), { class: "deployments" }) : null);
}

// The strategy's name is in AWS time; what runs is divided by pipeline.yml's time_scale.
function schedule(d) {
  const steps = (((d.detail || {}).traffic || {}).steps || []);
  if (steps.length < 2) return null;
  const text = steps.map((x) => `${x.percent}%` + (x.wait_s ? ` for ${fmtDuration(x.wait_s)}` : "")).join(" → ");
  return h("div", { class: "muted schedule" }, text);
}

function deploymentRow(d) {
  const events = h("details", {}, h("summary", {}, `${d.lifecycle_events.length} lifecycle event(s)`),
    h("ol", { class: "events" }, d.lifecycle_events.map((e) => h("li", {}, `${e.name} `, badge(e.status), " ", running(e.started, e.ended, e.duration_s), " ", h("span", { class: "muted" }, e.message)))));
  return h("tr", { "data-deployment": d.id }, h("td", {}, h("code", {}, d.id), d.kind === "ROLLBACK" ? h("span", { class: "muted" }, " rollback") : null),
    h("td", {}, badge(d.status), d.reason ? h("div", { class: "muted" }, d.reason) : null),
    h("td", {}, h("code", {}, d.image.tag)), h("td", {}, d.strategy, schedule(d)), h("td", {}, fmtTime(d.created)),
    h("td", {}, running(d.started, d.ended, d.duration_s)), h("td", {}, events));
}

// ------------------------------------------------------------------ delivery metrics

function metricsPage() {
  const q = new URLSearchParams(location.search);
  const days = h("select", { name: "days" }, [7, 30, 90, 365].map((d) => h("option", { value: d }, `last ${d} days`)));
  days.value = q.get("days") || "30";
  const out = h("div", { id: "metrics" });
  const form = h("form", { class: "filters" }, days, h("input", { name: "environment", placeholder: "environment", value: q.get("environment") || "" }),
    h("input", { name: "service", placeholder: "service", value: q.get("service") || "" }), h("button", { type: "submit" }, "Show"));
  main.replaceChildren(h("h1", {}, "Delivery metrics"), form, out);
  const load = async () => {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
    history.replaceState(null, "", `/metrics?${params}`);
    try {
      const report = await get(`/api/metrics?${params}`);
      out.replaceChildren(...(report.groups.length ? report.groups.map(metricGroup) : [h("p", { class: "muted" }, "No deployment in this period.")]));
    } catch (e) {
      notice(e.message, true);
    }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  load();
}

function metricGroup(g) {
  const rate = g.change_failure_rate;
  const tile = (label, value, sub) => h("div", { class: "tile" }, h("div", { class: "muted" }, label), h("div", { class: "value" }, value), h("div", { class: "muted" }, sub));
  return h("section", { class: "card metric", "data-group": `${g.environment}/${g.service || "*"}` },
    h("div", { class: "card-head" }, h("strong", {}, g.environment), ` · ${g.service || "all services"}`),
    h("div", { class: "tiles" },
      tile("Deployment frequency", g.deployment_frequency_per_day === null ? "–" : `${g.deployment_frequency_per_day}/day`, `${g.deployments} deployment(s)`),
      tile("Change lead time", fmtDuration(g.lead_time_s.median), `median · p90 ${fmtDuration(g.lead_time_s.p90)}`),
      tile("Change failure rate", rate === null ? "–" : `${Math.round(rate * 100)}%`, `${g.failures} of ${g.changes} change(s)`),
      tile("Time to restore", fmtDuration(g.time_to_restore_s.median), g.unrestored ? `${g.unrestored} not restored` : `median of ${g.time_to_restore_s.count}`)),
    h("div", { class: "charts" },
      chart("deployments / day (failures in red)", g.daily, (d) => d.deployments, (d) => d.failures),
      chart("median lead time / day", g.daily, (d) => d.lead_time_s || 0, null, fmtDuration)));
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text) el.textContent = text;
  return el;
}

// A small bar chart: one bar per day; `red` (optional) stacks a red part on top.
function chart(title, days, value, red, fmt) {
  const W = 320, H = 80;
  const max = Math.max(1e-9, ...days.map((d) => value(d) + (red ? red(d) : 0)));
  const bw = W / Math.max(days.length, 1);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H + 14}`, class: "chart", role: "img", "aria-label": title });
  days.forEach((d, i) => {
    const v = value(d), r = red ? red(d) : 0;
    const hv = (v / max) * H, hr = (r / max) * H;
    const label = `${d.day}: ${fmt ? fmt(v) : v}${red ? `, ${r} failed` : ""}`;
    const bar = (y, height, cls) => {
      const rect = svg("rect", { x: i * bw + 1, y, width: Math.max(bw - 2, 1), height, class: cls });
      rect.append(svg("title", {}, label));
      root.append(rect);
    };
    if (hv > 0) bar(H - hv - hr, hv, "bar");
    if (hr > 0) bar(H - hr, hr, "bar-fail");
  });
  root.append(svg("line", { x1: 0, y1: H, x2: W, y2: H, class: "axis" }));
  if (days.length) {
    root.append(svg("text", { x: 0, y: H + 12, class: "axis-label" }, days[0].day));
    root.append(svg("text", { x: W, y: H + 12, class: "axis-label", "text-anchor": "end" }, days[days.length - 1].day));
  }
  return h("figure", {}, root, h("figcaption", { class: "muted" }, `${title} · max ${fmt ? fmt(max) : Math.round(max * 100) / 100}`));
}

// ------------------------------------------------------------------ start

setInterval(() => {
  for (const el of document.querySelectorAll(".elapsed")) el.textContent = fmtDuration(Date.now() / 1000 - Number(el.dataset.since)) + "…";
}, 1000);

for (const a of document.querySelectorAll("[data-nav]")) if (a.dataset.nav === PAGE || ((PAGE === "build" || PAGE === "batch") && a.dataset.nav === "history")) a.classList.add("current");
({ pipelines: pipelinesPage, history: historyPage, build: buildPage, batch: batchPage, environments: environmentsPage, metrics: metricsPage }[PAGE] || pipelinesPage)();
