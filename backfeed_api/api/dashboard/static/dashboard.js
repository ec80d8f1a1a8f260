// The dashboard's pages: read the API of this server, draw tables and SVG charts, and read
// again every few seconds. No other host is ever contacted.
"use strict";

(function () {
  const body = document.body;
  const contract = body.dataset.contract;
  const api = body.dataset.api.replace(/\/$/, "");
  const dashboard = body.dataset.dashboard.replace(/\/$/, "");
  const pollSeconds = Number(body.dataset.poll) || 3;
  const tokenKey = "backfeed-read-token:" + contract;
  const SVG = "http://www.w3.org/2000/svg";
  const state = { pulsePeriod: "day" };

  function token() {
    return sessionStorage.getItem(tokenKey);
  }

  async function read(path, params) {
    const url = new URL(api + path, window.location.href);
    for (const [key, value] of Object.entries(params || {})) {
      url.searchParams.set(key, value);
    }
    const headers = { Accept: "application/json" };
    if (token()) {
      headers.Authorization = "Bearer " + token();
    }
    const response = await fetch(url, { headers, cache: "no-store" });
    if (response.status === 401) {
      throw new NeedsToken();
    }
    const answer = await response.json();
    if (!response.ok) {
      throw new Error(answer.errors ? answer.errors.map((e) => e.description).join("; ") : response.status);
    }
    return answer;
  }

  class NeedsToken extends Error {}

  function element(name, text, className) {
    const node = document.createElement(name);
    if (text !== undefined) {
      node.textContent = text;
    }
    if (className) {
      node.className = className;
    }
    return node;
  }

  function svg(name, attributes) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) {
      node.setAttribute(key, value);
    }
    return node;
  }

  function number(value) {
    if (value === null || value === undefined) {
      return "–";
    }
    return Math.abs(value) >= 1e6 || (value !== 0 && Math.abs(value) < 1e-3)
      ? value.toExponential(3)
      : value.toLocaleString("en", { maximumFractionDigits: 3 });
  }

  function terms(list, pairs) {
    list.replaceChildren();
    for (const [term, value] of pairs) {
      list.append(element("dt", term), element("dd", String(value)));
    }
  }

  function rows(table, items, cells) {
    const tbody = table.querySelector("tbody");
    tbody.replaceChildren(
      ...items.map((item) => {
        const row = element("tr");
        for (const cell of cells(item)) {
          const td = element("td");
          if (cell instanceof Node) {
            td.append(cell);
          } else {
            td.textContent = cell;
          }
          row.append(td);
        }
        return row;
      })
    );
  }

  function userLink(id) {
    const link = element("a", "user " + id);
    link.href = dashboard + "/users/" + id;
    return link;
  }

  function status(text, error) {
    const node = document.getElementById("status");
    node.textContent = text;
    node.classList.toggle("error", Boolean(error));
  }

  // -- the contract's page -------------------------------------------------------------

  function drawPulse(pulse) {
    const chart = document.getElementById("pulse-chart");
    const width = 600, height = 160, bottom = 20;
    const step = width / Math.max(pulse.length, 1);
    chart.replaceChildren(svg("line", { class: "axis", x1: 0, y1: height - bottom, x2: width, y2: height - bottom }));
    pulse.forEach((bucket, i) => {
      const tall = bucket.rate * (height - bottom - 10);
      const bar = svg("rect", {
        class: "bar",
        x: i * step + 1,
        y: height - bottom - tall,
        width: Math.max(step - 2, 1),
        height: tall,
        "data-actions": bucket.users + bucket.contributions + bucket.evaluations,
      });
      const title = svg("title", {});
      title.textContent = new Date(bucket.time).toISOString() + ": " + bucket.evaluations +
        " votes, " + bucket.contributions + " contributions, " + bucket.users + " new users";
      bar.append(title);
      chart.append(bar);
    });
    if (pulse.length) {
      for (const [i, anchor] of [[0, "start"], [pulse.length - 1, "end"]]) {
        const label = svg("text", { x: anchor === "start" ? 2 : width - 2, y: height - 5, "text-anchor": anchor });
        label.textContent = new Date(pulse[i].time).toLocaleString("en-GB", { timeZone: "UTC" });
        chart.append(label);
      }
    }
  }

  function drawLorenz(reputation) {
    const chart = document.getElementById("lorenz-chart");
    const size = 200;
    const points = reputation.lorenz.map(([x, y]) => x * size + "," + (size - y * size)).join(" ");
    chart.replaceChildren(
      svg("line", { class: "equality", x1: 0, y1: size, x2: size, y2: 0 }),
      svg("polyline", { class: "curve", points })
    );
    document.getElementById("gini").textContent =
      "Gini " + number(reputation.gini) + " · the top 10 % hold " +
      number(reputation.top_10_percent_share * 100) + " %";
  }

  async function loadStats() {
    const stats = await read("/stats", { period: state.pulsePeriod, buckets: 24 });
    drawPulse(stats.pulse);
    const actions = stats.pulse.reduce((sum, b) => sum + b.users + b.contributions + b.evaluations, 0);
    const caption = document.getElementById("pulse-caption");
    caption.textContent = actions + " actions from " + new Date(stats.period.from).toISOString() +
      " to " + new Date(stats.period.to).toISOString();
    caption.dataset.actions = actions;
    document.getElementById("figures").textContent =
      "agreement " + (stats.agreement_rate === null ? "–" : number(stats.agreement_rate * 100) + " %") +
      " · reputation issued " + number(stats.issued.reputation.created) +
      ", destroyed " + number(stats.issued.reputation.destroyed) +
      " · tokens issued " + number(stats.issued.tokens.created) +
      ", destroyed " + number(stats.issued.tokens.destroyed);
    const list = document.getElementById("most-active");
    list.replaceChildren(
      ...stats.most_active.map((m) => {
        const item = element("li");
        item.append(userLink(m.user_id), " " + m.actions + " actions");
        return item;
      })
    );
    drawLorenz(stats.reputation);
  }

  async function loadBoard() {
    const board = await read("/leaderboard", {
      metric: document.getElementById("board-metric").value,
      period: document.getElementById("board-period").value,
      limit: 10,
    });
    rows(document.getElementById("leaderboard"), board.items, (item) => [
      String(item.rank), userLink(item.user.id), number(item.value),
    ]);
  }

  async function loadContract() {
    const found = await read("");
    document.getElementById("kind").textContent = found.kind;
    terms(document.getElementById("totals"), Object.entries(found.totals).map(([k, v]) => [k, number(v)]));
    const parameters = Object.entries(found.parameters).map(([k, v]) => [k, typeof v === "number" ? number(v) : JSON.stringify(v)]);
    for (const [name, type] of Object.entries(found.types)) {
      parameters.push(["type " + name, "fee " + number(type.fee) + " · values " + type.evaluation_set.join(", ")]);
    }
    terms(document.getElementById("parameters"), parameters);
    const top = await read("/contributions", { order_by: "-score", limit: 10 });
    rows(document.getElementById("contributions"), top.items, (c) => [
      String(c.id), c.type, userLink(c.contributor.id), number(c.stats.score),
    ]);
  }

  function contractPage() {
    for (const button of document.querySelectorAll("#pulse-period button")) {
      button.addEventListener("click", () => {
        state.pulsePeriod = button.dataset.period;
        for (const other of document.querySelectorAll("#pulse-period button")) {
          other.setAttribute("aria-pressed", String(other === button));
        }
        refresh();
      });
    }
    for (const id of ["board-metric", "board-period"]) {
      document.getElementById(id).addEventListener("change", refresh);
    }
    return () => Promise.all([loadContract(), loadStats(), loadBoard()]);
  }

  // -- a user's page ---------------------------------------------------------------------

  async function everyEntry(user) {
    const entries = [];
    for (;;) {
      const page = await read("/users/" + user + "/history", { limit: 1000, start: entries.length });
      entries.push(...page.items);
      if (!page.items.length || entries.length >= page._meta.total || entries.length >= 10000) {
        return entries;
      }
    }
  }

  function drawHistory(entries) {
    const chart = document.getElementById("history-chart");
    const width = 600, height = 200, pad = 10;
    chart.replaceChildren(svg("line", { class: "axis", x1: 0, y1: height - pad, x2: width, y2: height - pad }));
    const oldest = entries.slice().reverse();
    if (!oldest.length) {
      return;
    }
    const times = oldest.map((e) => Date.parse(e.created_at));
    const first = times[0], span = Math.max(times[times.length - 1] - first, 1);
    for (const what of ["reputation", "tokens"]) {
      const top = Math.max(...oldest.map((e) => e[what]), 1e-12);
      const points = oldest.map((e, i) => {
        const x = oldest.length === 1 ? width / 2 : ((times[i] - first) / span) * (width - 2 * pad) + pad;
        return x + "," + (height - pad - (e[what] / top) * (height - 3 * pad));
      });
      chart.append(svg("polyline", { class: what, points: points.join(" "), "data-points": points.length }));
      const label = svg("text", { x: what === "reputation" ? pad : width - pad, y: 12, "text-anchor": what === "reputation" ? "start" : "end", class: what + "-label" });
      label.textContent = what + " up to " + number(top);
      chart.append(label);
    }
  }

  function userPage(user) {
    return async () => {
      const found = await read("/users/" + user);
      terms(document.getElementById("balances"), [
        ["reputation", number(found.reputation)],
        ["share of all reputation", number(found.reputation_normalized * 100) + " %"],
        ["tokens", number(found.tokens)],
        ["since", new Date(found.created_at).toISOString()],
      ]);
      const entries = await everyEntry(user);
      drawHistory(entries);
      rows(document.getElementById("ledger"), entries.slice(0, 200), (e) => [
        new Date(e.created_at).toISOString(),
        e.cause.type + " " + e.cause.id,
        number(e.reputation_delta),
        number(e.tokens_delta),
        number(e.reputation),
        number(e.tokens),
      ]);
    };
  }

  // -- reading, again and again ----------------------------------------------------------

  const load = body.dataset.page === "user" ? userPage(body.dataset.user) : contractPage();
  let timer = null;

  async function refresh() {
    clearTimeout(timer);
    try {
      await load();
      status("updated " + new Date().toLocaleTimeString("en-GB"));
      document.getElementById("token-form").hidden = true;
    } catch (error) {
      if (error instanceof NeedsToken) {
        sessionStorage.removeItem(tokenKey);
        document.getElementById("token-form").hidden = false;
        status("a read token is needed", true);
        return;
      }
      status(String(error.message || error), true);
    }
    timer = setTimeout(refresh, pollSeconds * 1000);
  }

  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(tokenKey, document.getElementById("token").value);
    document.getElementById("token").value = "";
    refresh();
  });

  if (body.dataset.needsToken === "true" && !token()) {
    document.getElementById("token-form").hidden = false;
    status("a read token is needed", true);
  } else {
    refresh();
  }
})();
