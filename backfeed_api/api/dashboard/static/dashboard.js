// The dashboard's pages: read the API of this server, draw tables and SVG charts, and read
// them again when something happens: the page waits on the event feed's long-poll
// (GET /{contract}/events?after=&wait=) and reads its figures again after each new event;
// while the feed refuses to wait (503 or 429), it reads them every few seconds instead.
// No other host is ever contacted.
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
  const WAIT_SECONDS = 25; // the feed allows at most 30

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
    if (response.status === 503 || response.status === 429) {
      throw new Refused(Number(response.headers.get("Retry-After")) || pollSeconds);
    }
    const answer = await response.json();
    if (!response.ok) {
      throw new Error(answer.errors ? answer.errors.map((e) => e.description).join("; ") : response.status);
    }
    return answer;
  }

  class NeedsToken extends Error {}

  class Refused extends Error {
    constructor(seconds) {
      super("the server asks to wait " + seconds + " s");
      this.seconds = seconds;
    }
  }

  function sleep(seconds) {
    return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }

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

  // -- reading, again when something happens ---------------------------------------------

  const load = body.dataset.page === "user" ? userPage(body.dataset.user) : contractPage();
  let following = false;

  async function refresh() {
    try {
      await load();
      status("updated " + new Date().toLocaleTimeString("en-GB"));
      document.getElementById("token-form").hidden = true;
      return true;
    } catch (error) {
      if (error instanceof NeedsToken) {
        sessionStorage.removeItem(tokenKey);
        document.getElementById("token-form").hidden = false;
        status("a read token is needed", true);
        return false;
      }
      status(String(error.message || error), true);
      return true;
    }
  }

  // The id of the contract's newest event: the feed is read after it. The page carries it
  // when its visitor may read the contract; otherwise (a read token given in this tab), as
  // the feed lists the oldest first, it is found by doubling, then halving, the id to read
  // after.
  async function newestEvent() {
    if (body.dataset.newestEvent !== undefined) {
      return Number(body.dataset.newestEvent);
    }
    const after = async (id) => (await read("/events", { after: id, limit: 1 })).items[0];
    let found = await after(0);
    if (!found) {
      return 0;
    }
    let low = found.id; // an event's id
    let high = low * 2 + 1;
    while ((found = await after(high))) {
      low = found.id;
      high = low * 2 + 1;
    }
    while (high - low > 1) { // no event after high; low is an event
      const middle = Math.floor((low + high) / 2);
      found = await after(middle);
      if (found) {
        low = found.id;
      } else {
        high = middle;
      }
    }
    return low;
  }

  // Wait for events and read the figures again after each; poll while the feed refuses.
  async function follow() {
    if (following) {
      return;
    }
    following = true;
    let after = null;
    try {
      for (;;) {
        try {
          if (after === null) {
            after = await newestEvent();
          }
          const page = await read("/events", { after, wait: WAIT_SECONDS, limit: 100 });
          after = page._meta.next_after;
          if (page.items.length && !(await refresh())) {
            return;
          }
        } catch (error) {
          if (error instanceof NeedsToken) {
            await refresh(); // shows the token form
            return;
          }
          await sleep(error instanceof Refused ? Math.max(error.seconds, pollSeconds) : pollSeconds);
          if (!(await refresh())) {
            return;
          }
        }
      }
    } finally {
      following = false;
    }
  }

  async function start() {
    if (await refresh()) {
      follow();
    }
  }

  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(tokenKey, document.getElementById("token").value);
    document.getElementById("token").value = "";
    start();
  });

  if (body.dataset.needsToken === "true" && !token()) {
    document.getElementById("token-form").hidden = false;
    status("a read token is needed", true);
  } else {
    start();
  }
})();
