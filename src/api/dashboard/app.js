// The dashboard's polling and drawing. `weblock` is what controls.js uses: the API client (with the
// secret of --auth-file), the state last drawn, and a way to poll at once after an action.
var weblock = (function () {
  var POLL_MS = 1000, TICK_MS = 250, TIMEOUT_MS = 4000;
  // Waiters listed per lock; a longer queue is summed up (the count is in the summary too).
  var QUEUE_SHOWN = 10;
  // Recent changes kept on the page (the server keeps 500).
  var CHANGES_KEPT = 300;
  var SECRET_KEY = "weblock.secret";
  // The server's clock minus ours, in ms, learnt from locks (since + held_for): ages read the same
  // whatever the browser's clock says.
  var skew = 0;
  var lastOk = null, downSince = null, pollTimer = null, polls = 0;
  var state = { locks: [], services: [], tickets: {} };
  // The last change seen (`seq`): the next poll asks for what came after it.
  var changes = [], lastSeen = 0;
  // Per lock, the server's last hour (`GET /history`): [{minute, waiting, grants, waited_max, …}].
  var history = {};

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  // A button that controls.js acts on: data-action, and what it acts on as data-* attributes.
  function button(action, label, data, cls) {
    var b = el("button", cls || "small", label);
    b.type = "button";
    b.dataset.action = action;
    Object.keys(data || {}).forEach(function (k) { b.dataset[k] = data[k]; });
    return b;
  }
  // "45s", "3m12s", "2h05m", "3d04h".
  function dur(seconds) {
    if (!isFinite(seconds) || seconds < 0) seconds = 0;
    var s = Math.floor(seconds);
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    if (m < 60) return m + "m" + two(s % 60) + "s";
    if (h < 24) return h + "h" + two(m % 60) + "m";
    return d + "d" + two(h % 24) + "h";
  }
  // A cell that keeps counting between polls: up for ages, down for leases.
  function counter(seconds, down) {
    var span = el("span", "time");
    span.dataset.base = String(seconds);
    span.dataset.t0 = String(performance.now());
    if (down) span.dataset.down = "1";
    paint(span);
    return span;
  }
  function paint(span) {
    var passed = (performance.now() - Number(span.dataset.t0)) / 1000;
    var base = Number(span.dataset.base);
    if (span.dataset.down) {
      var left = base - passed;
      span.textContent = left > 0 ? dur(Math.ceil(left)) : "expiring";
      span.className = "time" + (left <= 0 ? " lease-out" : left < 10 ? " lease-low" : "");
    } else {
      span.textContent = dur(base + passed);
    }
  }
  function tick() {
    var spans = document.querySelectorAll("span[data-t0]");
    for (var i = 0; i < spans.length; i++) paint(spans[i]);
  }
  function serverNow() { return Date.now() + skew; }
  function ageOf(timestamp) {
    var t = Date.parse(timestamp);
    return isNaN(t) ? null : Math.max(0, (serverNow() - t) / 1000);
  }
  function table(headings) {
    var t = el("table"), tr = el("tr");
    headings.forEach(function (h) { tr.appendChild(el("th", null, h)); });
    t.appendChild(el("thead")).appendChild(tr);
    t.appendChild(el("tbody"));
    t.headings = headings;
    return t;
  }
  // A row; each cell is labelled with its heading (the narrow layout shows the label).
  function row(t, cells) {
    var tr = el("tr");
    cells.forEach(function (c, i) {
      var td;
      if (c instanceof Node && c.tagName === "TD") td = c;  // a cell the caller made
      else {
        td = el("td");
        if (c instanceof Node) td.appendChild(c);
        else td.textContent = c === undefined || c === null ? "" : String(c);
      }
      td.dataset.label = t.headings[i] || "";
      if (!td.textContent && !td.querySelector("button")) td.classList.add("empty-cell");
      tr.appendChild(td);
    });
    t.tBodies[0].appendChild(tr);
    return tr;
  }
  function stack(items) {
    var d = el("div", "stack");
    items.forEach(function (i) { var line = el("div"); line.appendChild(i); d.appendChild(line); });
    return d;
  }
  function text(s, cls) { return el("span", cls || null, s); }

  // A lock's holders: the `holders` array when the server gives one (shared locks), else the
  // top-level holder fields.
  function holdersOf(lock) {
    if (Array.isArray(lock.holders)) return lock.holders;
    if (lock.in_use && lock.holder !== undefined) return [lock];
    return [];
  }

  function plot(name) { return weblockPlot(history[name], serverNow(), dur); }

  function renderLocks(locks) {
    var body = $("locks-body");
    body.replaceChildren();
    var waiting = 0;
    locks.forEach(function (l) { waiting += (l.queue || []).length; });
    $("n-locks").textContent = locks.filter(function (l) { return holdersOf(l).length > 0; }).length;
    $("n-waiting").textContent = waiting;
    if (locks.length === 0) { body.appendChild(el("div", "empty", "No lock is held.")); return; }
    var t = table(["Lock", "Holder", "Held for", "Lease left", "Fence", "Queue", ""]);
    locks.forEach(function (lock) {
      var holders = holdersOf(lock);
      var name = el("td", "name", lock.id);
      // A plain mutex says nothing more; a semaphore says how full it is, a shared lock says so.
      var kind = [];
      if (lock.mode === "shared") kind.push("shared");
      if (lock.slots > 1) kind.push(holders.length + " of " + lock.slots + " held");
      if (kind.length) name.appendChild(el("div", "dim", kind.join(" · ")));
      var svg = plot(lock.id);
      if (svg) name.appendChild(svg);
      var who = stack(holders.map(function (h) { return text(h.holder); }));
      var held = stack(holders.map(function (h) { return counter(Number(h.held_for) || 0, false); }));
      var lease = stack(holders.map(function (h) {
        return h.ttl_left !== undefined ? counter(Number(h.ttl_left), true) : text("no lease", "dim");
      }));
      var fence = stack(holders.map(function (h) { return text(h.fence !== undefined ? h.fence : ""); }));
      var queue;
      var waiters = lock.queue || [];
      if (waiters.length === 0) queue = text("—", "dim");
      else {
        queue = el("ol", "queue");
        waiters.slice(0, QUEUE_SHOWN).forEach(function (w) {
          var li = el("li");
          li.appendChild(text(w.holder + " "));
          var age = ageOf(w.since);
          if (age !== null) { li.appendChild(text("waiting ", "dim")); li.appendChild(counter(age, false)); }
          queue.appendChild(li);
        });
        if (waiters.length > QUEUE_SHOWN) {
          queue.appendChild(el("li", "dim more", "… and " + (waiters.length - QUEUE_SHOWN) + " more"));
        }
      }
      var fenceCell = el("td", "num"); fenceCell.appendChild(fence);
      row(t, [name, who, held, lease, fenceCell, queue, button("end-holder", "End…", { lock: lock.id }, "small danger")]);
    });
    body.appendChild(t);
  }

  // "2026-11-23 10:05:38+0000" (the gatekeeper's format) → seconds ago.
  function gateAge(stamp) {
    if (!stamp) return null;
    return ageOf(stamp.replace(" ", "T").replace(/\+0000$/, "Z"));
  }

  function renderGates(services) {
    var gates = $("gates-body"), tickets = $("tickets-body");
    gates.replaceChildren(); tickets.replaceChildren();
    var closed = 0, byTicket = {};
    function ticket(id) {
      return byTicket[id] || (byTicket[id] = { holds: [], waits: [], holder: "" });
    }
    // A ticket as a person reads it: who asked for it (`holder`), else the start of its id.
    function who(id, holders, pos) {
      var h = holders[pos];
      return h ? h : "ticket " + id.slice(0, 8);
    }
    if (services.length === 0) {
      gates.appendChild(el("div", "empty", "No service has gates."));
    } else {
      var t = table(["Service", "Gate", "State", "Message", "For", "Queue", ""]);
      services.forEach(function (svc) {
        Object.keys(svc.environments).sort().forEach(function (env, i) {
          var g = svc.environments[env], full = svc.name + ":" + env;
          var queue = (g.queue || []).map(function (t) { return typeof t === "string" ? t : t.id; });
          var holder = g.held_by || null, holders = g.queue_holders || [];
          if (g.state === "closed") closed++;
          queue.forEach(function (id, pos) {
            if (holders[pos]) ticket(id).holder = holders[pos];
            if (id === holder) ticket(id).holds.push(full);
            else ticket(id).waits.push(full + " (#" + (holder ? pos : pos + 1) + ")");
          });
          var svcCell = el("td", "name", i === 0 ? svc.name : "");
          if (i === 0 && svc.group) svcCell.appendChild(el("div", "dim", svc.group));
          if (i === 0) svcCell.appendChild(button("delete-service", "Delete…", { service: svc.name }, "small danger"));
          var state;
          if (holder && !g.closed_by_hand) state = el("span", "badge held", "held by " + who(holder, holders, queue.indexOf(holder)));
          else if (g.state === "closed") state = el("span", "badge closed", "closed");
          else state = el("span", "badge open", "open");
          var message = el("div");
          if (g.message) {
            message.appendChild(text(g.message));
            var set = gateAge(g.message_timestamp);
            if (set !== null) {
              var when = el("div", "dim");
              when.appendChild(text("set ")); when.appendChild(counter(set, false)); when.appendChild(text(" ago"));
              message.appendChild(when);
            }
          }
          var age = gateAge(g.state_timestamp);
          var waiting = [];
          queue.forEach(function (id, pos) { if (id !== holder) waiting.push(who(id, holders, pos)); });
          var line = null;
          if (waiting.length) {
            line = el("ol", "queue");
            waiting.slice(0, QUEUE_SHOWN).forEach(function (w) { line.appendChild(el("li", null, w)); });
            if (waiting.length > QUEUE_SHOWN) line.appendChild(el("li", "dim more", "… and " + (waiting.length - QUEUE_SHOWN) + " more"));
          }
          var act = g.closed_by_hand
            ? button("open-gate", "Open…", { service: svc.name, gate: env })
            : button("close-gate", "Close…", { service: svc.name, gate: env }, "small danger");
          row(t, [svcCell, el("td", "name", env), state, message,
                  age === null ? text("—", "dim") : counter(age, false),
                  line || text("—", "dim"), act]);
        });
      });
      gates.appendChild(t);
    }
    $("n-gates").textContent = closed;
    state.tickets = byTicket;
    var ids = Object.keys(byTicket).sort();
    $("n-tickets").textContent = ids.length;
    if (ids.length === 0) { tickets.appendChild(el("div", "empty", "No ticket is live.")); return; }
    var tt = table(["Ticket", "Holder", "Holds", "Waits for", ""]);
    ids.forEach(function (id) {
      var tk = byTicket[id];
      row(tt, [el("td", "name", id), tk.holder || text("—", "dim"), tk.holds.join(", ") || text("—", "dim"),
               tk.waits.join(", ") || text("—", "dim"), button("end-ticket", "End…", { ticket: id }, "small danger")]);
    });
    tickets.appendChild(tt);
  }

  var BAD = { expiry: 1, timeout: 1, "delete": 1, gate_closed: 1, ticket_expired: 1, ticket_deleted: 1, service_deleted: 1 };
  var GOOD = { grant: 1, gate_opened: 1, ticket_granted: 1, service_created: 1 };
  function renderChanges(fresh) {
    fresh.forEach(function (e) { changes.push(e); });
    if (changes.length > CHANGES_KEPT) changes.splice(0, changes.length - CHANGES_KEPT);
    if (!fresh.length && $("changes-body").childNodes.length) return;
    var body = $("changes-body");
    body.replaceChildren();
    if (changes.length === 0) { body.appendChild(el("div", "empty", "Nothing has changed yet.")); return; }
    var list = el("ol", "changes");
    changes.slice().reverse().forEach(function (e) {
      var li = el("li");
      var at = Date.parse(e.ts);
      li.appendChild(text(isNaN(at) ? e.ts : new Date(at).toLocaleTimeString() + " ", "dim"));
      li.appendChild(text(e.event.replace(/_/g, " ") + " ", "ev" + (BAD[e.event] ? " bad" : GOOD[e.event] ? " ok" : "")));
      li.appendChild(text(e.resource));
      var more = [];
      if (e.holder !== undefined) more.push(e.holder);
      if (e.message) more.push("“" + e.message + "”");
      if (e.gates) more.push(e.gates.join(", ") + (e.gates_more ? " and " + e.gates_more + " more" : ""));
      if (e.fence !== undefined) more.push("fence " + e.fence);
      if (e.waited !== undefined) more.push("waited " + dur(e.waited));
      if (more.length) li.appendChild(text(" · " + more.join(" · "), "dim"));
      list.appendChild(li);
    });
    body.appendChild(list);
  }

  function renderServer(who) {
    var store = { memory: "in memory", file: "state file (--state)", etcd: "etcd" }[who.store] || who.store;
    if (who.store === "etcd" && who.servers) store += ", " + who.servers + " server" + (who.servers === 1 ? "" : "s");
    var s = $("server");
    s.replaceChildren(text("v" + who.version + " · up "), counter(Number(who.uptime) || 0, false), text(" · " + store));
  }

  function learnSkew(locks) {
    for (var i = 0; i < locks.length; i++) {
      var hs = holdersOf(locks[i]);
      for (var j = 0; j < hs.length; j++) {
        var since = Date.parse(hs[j].since), held = Number(hs[j].held_for);
        if (!isNaN(since) && isFinite(held)) { skew = since + held * 1000 - Date.now(); return; }
      }
    }
  }

  // One request to the server's own API; resolves to {status, body} (body parsed JSON, or null), or
  // rejects when the server cannot be reached. `opts.admin`: HTTP Basic "user:password" to send
  // instead of the secret (an administrative request; the administrator's credentials also pass
  // --auth-file). Same origin, so the server's cross-site check lets it through.
  function api(method, path, body, opts) {
    opts = opts || {};
    var abort = new AbortController();
    var timer = setTimeout(function () { abort.abort(); }, TIMEOUT_MS);
    // X-Requested-With: the server then sends no Basic challenge with a 401 (the page asks itself).
    var headers = { "Accept": "application/json", "X-Requested-With": "weblock-dashboard" };
    if (body !== undefined && body !== null) headers["Content-Type"] = "application/json";
    var secret = sessionStorage.getItem(SECRET_KEY);
    if (opts.admin) headers["Authorization"] = "Basic " + btoa(unescape(encodeURIComponent(opts.admin)));
    else if (secret) headers["Authorization"] = "Bearer " + secret;
    // The origin, not a relative path: a page opened as http://user:secret@host/ would resolve one to
    // a URL with credentials in it, which fetch refuses.
    return fetch(location.origin + path, {
      method: method, headers: headers, cache: "no-store", credentials: "same-origin",
      body: body === undefined || body === null ? undefined : JSON.stringify(body), signal: abort.signal
    }).then(function (r) {
      clearTimeout(timer);
      return r.text().then(function (t) {
        var parsed = null;
        try { parsed = t ? JSON.parse(t) : null; } catch (e) { parsed = null; }
        return { status: r.status, body: parsed };
      });
    }, function (e) { clearTimeout(timer); throw e; });
  }
  function getJSON(path) {
    return api("GET", path).then(function (r) {
      if (r.status === 401) throw { auth: true };
      if (r.status !== 200 || !r.body) throw new Error(path + " answered " + r.status);
      return r.body;
    });
  }

  function connected(ok, why) {
    var conn = $("conn"), banner = $("banner");
    if (ok) {
      lastOk = new Date(); downSince = null;
      conn.className = "live";
      $("conn-text").textContent = "live · " + lastOk.toLocaleTimeString();
      banner.className = ""; banner.textContent = "";
      $("main").className = "";
      $("auth").hidden = true;
      return;
    }
    if (!downSince) downSince = new Date();
    conn.className = "down";
    $("conn-text").textContent = why.auth ? "secret needed" : "server unreachable";
    banner.className = "shown";
    banner.textContent = why.text + (why.auth ? "" : " Retrying every second" +
      (lastOk ? "; what is shown is from " + lastOk.toLocaleTimeString() + "." : "."));
    $("main").className = "stale";
  }

  function poll() {
    clearTimeout(pollTimer);
    var asks = [getJSON("/status"), getJSON("/api/services"), getJSON("/events?since=" + lastSeen)];
    // What the server is, and the last hour per lock: not every second.
    var slow = polls++ % 10 === 0;
    if (slow) { asks.push(getJSON("/")); asks.push(getJSON("/history")); }
    return Promise.all(asks)
      .then(function (answers) {
        var locks = answers[0].locks || [], services = answers[1].services || [];
        state.locks = locks; state.services = services;
        if (answers[4]) history = answers[4].locks || {};
        learnSkew(locks);
        renderLocks(locks);
        renderGates(services);
        var ev = answers[2];
        if (ev.missed) changes.push({ ts: "", event: "…", resource: "older changes were forgotten by the server" });
        renderChanges(ev.events || []);
        if (ev.next > 0) lastSeen = ev.next - 1;
        if (answers[3]) renderServer(answers[3]);
        connected(true);
      })
      .catch(function (e) {
        if (e && e.auth) {
          var had = sessionStorage.getItem(SECRET_KEY);
          $("auth").hidden = false;
          connected(false, { auth: true, text: had
            ? "That secret was refused: enter another one."
            : "This server wants a secret (it runs with --auth-file): enter one below." });
        } else {
          if (!downSince) downSince = new Date();
          connected(false, { text: "Cannot reach the weblock server at " + location.host + " since " +
            downSince.toLocaleTimeString() + "." });
        }
      })
      .then(function () { pollTimer = setTimeout(poll, POLL_MS); });
  }

  $("auth").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = document.querySelector("#auth [data-field=secret]");
    if (input.value) sessionStorage.setItem(SECRET_KEY, input.value);
    input.value = "";
    poll();
  });

  $("where").textContent = location.host;
  setInterval(tick, TICK_MS);
  poll();
  return {
    api: api, el: el, text: text, dur: dur, poll: poll, state: state, holdersOf: holdersOf, ageOf: ageOf
  };
})();
