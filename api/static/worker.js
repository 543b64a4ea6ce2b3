/* The grid worker's field app (网格员), offline first.  No framework.  The page carries this
 * script inline (with its CSP nonce) and the first screen's tasks as JSON (#w-first-tasks,
 * the answer of GET /api/worker/tasks): the tasks are drawn with no request of their own.
 *
 * Data: on load the app asks GET /api/worker/bundle (my grids, buildings, households
 * (masked), tasks, roads, shelters, proof rules, expires_at) and keeps it in IndexedDB,
 * encrypted with AES-GCM under a key made here as non-extractable (the CryptoKey object is
 * stored, its bytes never leave the browser).  Without WebCrypto (not a secure context)
 * nothing personal is kept and the banner says so.  An expired package is dropped.
 *
 * Actions (接单, 签到, 照片, 反馈, 走访, 核查标记) all go through the outbox: each is queued
 * (encrypted, photos as encrypted bytes) with an Idempotency-Key made when queued, then
 * sent in order at once, on `online` and on load.  2xx: done; 409 (the case changed hands
 * meanwhile): a conflict card, not retried; other refusals: a card too; network errors
 * and 5xx: kept for the next try.  Sign-out (退出) wipes IndexedDB, the caches and the key.
 */
(function () {
  "use strict";

  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var DB_NAME = "wangge-worker";
  var STATE_ZH = { reported: "已上报", registered: "已立案", dispatched: "已派遣", processing: "处置中",
    resolved: "已办结", closed: "已结案", escalated: "已上报上级" };
  var MARKS = [["reached", "已联系"], ["not_home", "不在家"], ["needs_help", "需帮助"]];
  var MARK_ZH = { reached: "已联系", not_home: "不在家", needs_help: "需帮助" };
  var AGE_ZH = { child: "儿童", adult: "成年", elderly: "老年", very_elderly: "高龄" };
  var NEEDS_ZH = { living_alone_elderly: "独居老人", elderly_alone: "独居老人", disabled: "残疾",
    mobility_impaired: "行动不便", low_income: "低收入", children: "儿童", child: "儿童", very_elderly: "高龄" };

  var app = {
    db: null, key: null, crypto: !!(window.crypto && crypto.subtle && window.isSecureContext),
    bundle: null, tasks: null, origin: null, here: null, rules: {}, households: {},
    checkon: [], notices: [], conflicts: [], pending: 0, offline: !navigator.onLine,
    map: null, layers: null, flushing: null, checkedIn: {}, myMarks: {}
  };
  window.wanggeWorker = app;  // tests and the curious read the app's state here
  var device = window.wanggeDevice(app, DB_NAME);  // IndexedDB, AES-GCM, wiping (worker-device.js)
  var openDb = device.openDb, dbGet = device.dbGet, dbPut = device.dbPut, dbDelete = device.dbDelete;
  var dbAll = device.dbAll, cryptoKey = device.cryptoKey, seal = device.seal, open = device.open;
  var sealJson = device.sealJson, openJson = device.openJson, multipart = device.multipart, wipe = device.wipe;

  /* ------------------------------------------------------------------ small helpers */
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; }
      else if (k === "class") { e.className = attrs[k]; }
      else if (k.slice(0, 2) === "on") { e.addEventListener(k.slice(2), attrs[k]); }
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); }
    });
    return e;
  }
  function say(id, text, error) {
    var box = $(id);
    box.textContent = text || "";
    box.classList.toggle("w-error", !!error);
  }
  // deadlines in Beijing time, as the desk and the SMS say them, whatever the device's zone
  var BEIJING = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", month: "numeric", day: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });
  function when(iso, none) {
    if (!iso) { return none || "无期限"; }
    var p = {};
    BEIJING.formatToParts(new Date(iso)).forEach(function (x) { p[x.type] = x.value; });
    return p.month + "月" + p.day + "日 " + p.hour + ":" + p.minute;
  }
  function ago(iso) {
    if (!iso) { return "从未走访"; }
    var days = Math.floor((Date.now() - new Date(iso).getTime()) / 86400000);
    return days <= 0 ? "今天走访" : days + " 天前走访";
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  }
  function list(x, name) {  // a list, or the list inside an answer ({tasks: [...]})
    if (!x) { return []; }
    if (Array.isArray(x)) { return x; }
    if (name && Array.isArray(x[name])) { return x[name]; }
    if (Array.isArray(x.features)) { return x.features; }
    return [];
  }

  /* ------------------------------------------------------------------ the network */
  function Http(status, body, headers) {
    this.status = status; this.body = body || {}; this.headers = headers;
    this.message = (this.body.detail || this.body.title || ("HTTP " + status));
  }
  function api(path, options) {
    options = options || {};
    if (!navigator.onLine) { online(false); return Promise.reject(new Error("离线")); }  // no request at all
    var headers = Object.assign({ "X-CSRF-Token": CSRF, "Accept": "application/json" }, options.headers || {});
    return fetch(path, { method: options.method || "GET", body: options.body, headers: headers,
                         credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        online(!r.headers.get("X-Wangge-Offline"));  // the service worker's kept package
        if (r.status === 401) {  // the session ended: sign in again, then come back
          location.assign("/login?next=" + encodeURIComponent(location.pathname));
        }
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) { throw new Http(r.status, body, r.headers); }
          return body;
        });
      }, function (e) { online(false); throw e; });
  }
  function online(yes) {
    var was = app.offline;
    app.offline = !yes;
    if (was !== app.offline) { banner(); }
  }
  function position(timeoutMs) {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) { resolve(null); return; }
      navigator.geolocation.getCurrentPosition(function (p) {
        app.here = { lon: p.coords.longitude, lat: p.coords.latitude };
        resolve(app.here);
      }, function () { resolve(null); }, { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 30000 });
    });
  }

  /* ------------------------------------------------------------------ the offline package */
  function keptBundle() {
    if (!app.key) { return Promise.resolve(null); }
    return dbGet("data", "bundle").then(function (box) {
      if (!box) { return null; }
      return openJson(box).then(function (b) {
        if (b.expires_at && new Date(b.expires_at).getTime() <= Date.now()) {
          return dbDelete("data", "bundle").then(function () { return null; });  // expired: dropped
        }
        return b;
      }, function () { return dbDelete("data", "bundle").then(function () { return null; }); });
    });
  }
  function keepBundle(b) {
    if (!app.key) { return Promise.resolve(); }
    return sealJson(b).then(function (box) { return dbPut("data", box, "bundle"); });
  }
  function fetchBundle() {
    return api("/api/worker/bundle").catch(function (e) {
      if (!(e instanceof Http) || (e.status !== 404 && e.status < 500)) { throw e; }
      return assembled();  // no package from the server: the same from the single routes
    });
  }
  function assembled() {
    return api("/api/worker/grids").then(function (grids) {
      var codes = grids.features.map(function (f) { return f.properties.code; });
      return Promise.all([
        Promise.all(codes.map(function (c) { return api("/api/worker/buildings?grid=" + c); })),
        Promise.all(codes.map(function (c) { return api("/api/worker/households?grid=" + c); })),
        api("/api/worker/tasks"),
        api("/api/worker/proof-rules").catch(function () { return { categories: [] }; })
      ]).then(function (r) {
        var buildings = [], households = [];
        r[0].forEach(function (fc) { buildings = buildings.concat(fc.features); });
        r[1].forEach(function (a) { households = households.concat(a.households); });
        return { grids: grids, buildings: { type: "FeatureCollection", features: buildings },
                 households: households, tasks: r[2], proof_rules: r[3], expires_at: null };
      });
    });
  }
  function useBundle(b) {
    app.bundle = b;
    $("w-bundle-status").textContent = app.key ? "离线数据包已加密保存在本机，有效至 " + when(b.expires_at, "（未注明）") +
      "；退出登录时清除。" : "此浏览器不能加密保存数据：离线数据包只在本页打开期间可用。";
    rulesFrom(b.proof_rules);
    var hs = list(b.households, "households");
    var byGrid = {};
    hs.forEach(function (h) { (byGrid[h.grid_code || ""] = byGrid[h.grid_code || ""] || []).push(h); });
    app.households = byGrid;
    if (!app.tasks) {
      var t = b.tasks || {};
      app.tasks = list(t, "tasks");
      app.origin = t.from || null;
    }
    var grids = list(b.grids);
    $("w-who").textContent = "我的网格：" + (grids.length ? grids.map(function (f) { return f.properties.name; }).join("、") : "无");
  }
  function rulesFrom(r) {
    list(r, "categories").forEach(function (c) { app.rules[c.code] = c; });
  }

  /* ------------------------------------------------------------------ the outbox */
  function queue(item) {
    // item: {kind, label, url, json?, files?, task?} -> queued with its key, then sent
    item.key = newKey();
    item.queued_at = new Date().toISOString();
    var files = item.files || [];
    delete item.files;
    var kept;
    if (app.key) {
      kept = Promise.all(files.map(function (f) {
        return f.arrayBuffer().then(seal).then(function (box) {
          return { name: f.name || "photo.jpg", type: f.type || "application/octet-stream", box: box };
        });
      })).then(function (sealedFiles) {
        item.files = sealedFiles;
        return sealJson({ url: item.url, json: item.json || null }).then(function (box) {
          return dbPut("outbox", { key: item.key, kind: item.kind, label: item.label, task: item.task || null,
                                   queued_at: item.queued_at, box: box, files: sealedFiles });
        });
      });
    } else {  // nothing personal is kept on a device without WebCrypto: held in memory only
      item.plainFiles = files;
      app.memoryOutbox = (app.memoryOutbox || []).concat([item]);
      kept = Promise.resolve();
    }
    return kept.then(count).then(function () { return flush(); });
  }
  function outboxItems() {
    if (!app.key) { return Promise.resolve((app.memoryOutbox || []).slice()); }
    return dbAll("outbox");
  }
  function count() {
    return outboxItems().then(function (items) {
      app.pending = items.length;
      app.queuedByTask = {};  // what is waiting per task (ids and kinds only: nothing personal)
      items.forEach(function (i) { if (i.task) { (app.queuedByTask[i.task] = app.queuedByTask[i.task] || {})[i.kind] = 1; } });
      banner();
      return items.length;
    });
  }
  function drop(item) {
    if (!app.key) {
      app.memoryOutbox = (app.memoryOutbox || []).filter(function (i) { return i.key !== item.key; });
      return Promise.resolve();
    }
    return dbDelete("outbox", item.seq);
  }
  function send(item) {
    var ready = app.key ? openJson(item.box).then(function (body) {
      return Promise.all((item.files || []).map(function (f) {
        return open(f.box).then(function (bytes) { return { type: f.type, bytes: bytes }; });
      })).then(function (files) { return { url: body.url, json: body.json, files: files }; });
    }) : Promise.all((item.plainFiles || []).map(function (f) {
      return f.arrayBuffer().then(function (bytes) { return { type: f.type || "image/jpeg", bytes: bytes }; });
    })).then(function (files) { return { url: item.url, json: item.json, files: files }; });
    return ready.then(function (r) {
      var headers = { "Idempotency-Key": item.key }, body;
      if (r.files.length) {
        var boundary = "wangge-" + item.key;
        headers["Content-Type"] = "multipart/form-data; boundary=" + boundary;
        body = multipart(r.files, boundary);
      } else {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(r.json || {});
      }
      return api(r.url, { method: "POST", headers: headers, body: body });
    });
  }
  function flush() {
    if (app.flushing) { app.again = true; return app.flushing; }
    if (!navigator.onLine) { online(false); return count().then(function () { return 0; }); }  // kept for `online`
    var sent = 0;
    app.flushing = outboxItems().then(function (items) {
      var next = function (i) {
        if (i >= items.length) { return null; }
        var item = items[i];
        return send(item).then(function (answer) {
          sent += 1;
          (app.sentKinds = app.sentKinds || {})[item.kind] = 1;
          done(item, answer);
          return drop(item).then(function () { return next(i + 1); });
        }, function (e) {
          if (!(e instanceof Http)) { return null; }           // no network: kept, tried later
          if (e.status === 409 && e.headers && e.headers.get("Retry-After")) { return null; }  // still running
          if (e.status >= 500 || e.status === 401 || e.status === 429) { return null; }
          conflict(item, e);                                   // refused (409 = reassigned): shown, not retried
          return drop(item).then(function () { return next(i + 1); });
        });
      };
      return next(0);
    }).then(function () {
      app.flushing = null;
      return count();
    }, function () { app.flushing = null; return count(); }).then(function () {
      if (sent) { refresh(app.sentKinds); app.sentKinds = {}; }
      if (app.again) { app.again = false; return flush().then(function (more) { return sent + more; }); }
      return sent;
    });
    return app.flushing;
  }
  function done(item, answer) {
    if (item.kind === "checkin" && answer) {
      app.checkedIn[item.task] = !!answer.accepted;
      var r = document.querySelector('.w-card[data-task="' + item.task + '"] .w-result');
      if (r) {
        r.textContent = answer.message || (answer.accepted ? "签到成功" : "签到位置不在范围内（已记录）");
        r.className = "w-result " + (answer.accepted ? "w-ok" : "w-bad");
        r.dataset.accepted = String(!!answer.accepted);
      }
    }
  }
  function conflict(item, e) {
    var current = e.body && e.body.current;
    var text;
    if (e.status === 409 && current) {
      var moved = /改派/.test(e.message);
      text = (item.task ? "工单 " + item.task + "：" : "") + (moved ? "此工单已改派给 " + (current.assignee || "其他人员") :
        "此工单已是“" + (current.status_name || STATE_ZH[current.status] || current.status) + "”") +
        "，您离线时的“" + item.label + "”未提交。";
    } else {
      text = "“" + item.label + "”未能提交：" + e.message;
    }
    app.conflicts.push({ key: item.key, text: text, status: e.status });
    drawConflicts();
  }
  function drawConflicts() {
    var box = $("w-conflicts");
    box.textContent = "";
    app.conflicts.forEach(function (c, i) {
      box.appendChild(el("div", { class: "w-conflict", role: "alert", "data-status": c.status }, [
        el("span", { text: c.text }),
        el("button", { type: "button", class: "w-btn", text: "知道了", onclick: function () {
          app.conflicts.splice(i, 1); drawConflicts();
        } })
      ]));
    });
  }

  /* ------------------------------------------------------------------ the banner */
  function banner() {
    var box = $("w-banner");
    box.textContent = "";
    if (!app.crypto) {
      box.appendChild(el("p", { class: "w-nocrypto", text: "此浏览器环境不支持加密存储（非安全连接）：离线数据不保存在本机。" }));
    }
    if (app.offline) {
      box.appendChild(el("p", { class: "w-offline", text: "离线" + (app.bundle ? "：显示本机离线数据包" : "") +
        (app.pending ? " · 待同步 " + app.pending + " 条" : "") }));
    } else if (app.pending) {
      box.appendChild(el("p", { class: "w-pending", text: "待同步 " + app.pending + " 条" }));
    }
    if (!app.crypto && app.pending) {  // the outbox lives in this page only (nothing kept in plain text)
      box.appendChild(el("p", { class: "w-nocrypto", text: "待同步的操作只保存在本页：关闭或刷新本页前请先联网同步。" }));
    }
  }

  /* ------------------------------------------------------------------ 任务 */
  function sentWithPage() {  // the tasks the page came with (once: later readings ask the server)
    var box = $("w-first-tasks");
    if (!box) { return null; }  // the copy kept offline carries none
    box.remove();
    try { return JSON.parse(box.textContent); } catch (e) { return null; }
  }
  function loadTasks() {
    var at = app.here ? "?lon=" + app.here.lon + "&lat=" + app.here.lat : "";
    var sent = at ? null : sentWithPage();
    var asked = sent ? Promise.resolve(sent) : api("/api/worker/tasks" + at);
    return asked.then(function (a) {
      app.tasks = a.tasks; app.origin = a.from;
      drawTasks();
      drawMap();
    }, function (e) {
      if (app.tasks) { drawTasks(); }
      else { say("w-task-status", e instanceof Http ? "任务加载失败：" + e.message : "离线，暂无本机任务数据", !app.tasks); }
    });
  }
  function openTasks() {  // the tasks, less those resolved here and not yet sent
    var queued = app.queuedByTask || {};
    var tasks = (app.tasks || []).filter(function (t) { return !(queued[t.id] && queued[t.id].resolve); });
    tasks.forEach(function (t) {  // taken while offline: shown as taken until the server says
      if (queued[t.id] && queued[t.id].start && (t.actions || []).indexOf("start") >= 0) {
        t.actions = t.actions.filter(function (a) { return a !== "start"; }).concat(["resolve"]);
        t.state = "processing";
        t.state_name = "处置中（待同步）";
      }
    });
    return tasks;
  }
  function ordered(tasks) {
    return tasks.slice().sort(function (a, b) {
      var da = a.deadline ? new Date(a.deadline).getTime() : Infinity;
      var db = b.deadline ? new Date(b.deadline).getTime() : Infinity;
      return da - db || a.priority - b.priority || a.id - b.id;
    });
  }
  function proofOf(t) {
    var r = app.rules[t.category_code] || {};
    return { note: true, photo: !!r.photo, checkin: !!r.checkin };
  }
  function drawTasks() {
    var box = $("w-task-list");
    var tasks = ordered(openTasks());
    var old = {};
    Array.prototype.forEach.call(box.children, function (c) { old[c.dataset.task] = c; });
    box.textContent = "";
    $("w-count-tasks").textContent = tasks.length ? String(tasks.length) : "";
    say("w-task-status", tasks.length ? "共 " + tasks.length + " 件待办" +
      (app.origin && app.origin.kind === "position" ? "，步行时间从我的位置算起" : "，步行时间从网格中心算起") +
      (app.offline ? "（离线数据）" : "") : "暂无待办工单");
    tasks.forEach(function (t, i) {
      var card = taskCard(t, i), before = old[t.id];
      if (before) {  // a reload keeps what the worker was doing on the card: the form, the answer
        var form = before.querySelector(".w-form"), was = before.querySelector(".w-result"), now = card.querySelector(".w-result");
        if (form) { card.insertBefore(form, now); }
        now.textContent = was.textContent; now.className = was.className;
        if (was.dataset.accepted !== undefined) { now.dataset.accepted = was.dataset.accepted; }
      }
      box.appendChild(card);
    });
    if (tasks.length && window.performance && performance.mark && !app.firstTasks) {
      app.firstTasks = true;
      performance.mark("wangge-first-tasks");  // the first screen with tasks (benchmarks/worker_page.py)
    }
  }
  function taskCard(t, i) {
    var walk = t.walk_minutes === null || t.walk_minutes === undefined ? "无法步行到达" :
      "步行约 " + Math.max(1, Math.round(t.walk_minutes)) + " 分钟（" + Math.round(t.walk_distance_m) + " 米）";
    var actions = t.actions || [];
    var card = el("li", { class: "w-card" + (t.overdue ? " w-overdue" : ""), "data-task": t.id }, [
      el("div", { class: "w-card-head" }, [
        el("span", { class: "w-card-title", text: (i + 1) + ". " + t.category_name }),
        el("span", { class: "w-prio w-prio-" + t.priority, text: "优先级 " + t.priority })
      ]),
      el("div", { class: "w-meta" }, [(t.state_name || STATE_ZH[t.state] || t.state) + " · 期限 " + when(t.deadline),
        t.overdue ? el("span", { class: "w-late", text: " · 已超期" }) : null]),
      el("div", { class: "w-meta", text: walk + (t.address ? " · " + t.address : "") }),
      el("p", { class: "w-desc", text: t.description }),
      el("div", { class: "w-actions" }, [
        actions.indexOf("start") >= 0 ? el("button", { type: "button", class: "w-btn w-btn-primary", "data-do": "start", text: "接单",
          onclick: function () { start(t, card); } }) : null,
        el("button", { type: "button", class: "w-btn", "data-do": "checkin", text: "签到", onclick: function () { checkin(t, card); } }),
        actions.indexOf("resolve") >= 0 ? el("button", { type: "button", class: "w-btn w-btn-ok", "data-do": "resolve", text: "反馈",
          onclick: function () { resolveForm(t, card); } }) : null,
        el("button", { type: "button", class: "w-btn", "data-do": "route", text: "路线", onclick: function () { route(t, card); } })
      ]),
      el("div", { class: "w-result", "aria-live": "polite" })
    ]);
    return card;
  }
  function result(card, text, ok) {
    var r = card.querySelector(".w-result");
    r.textContent = text;
    r.className = "w-result" + (ok === true ? " w-ok" : ok === false ? " w-bad" : "");
  }
  function start(t, card) {
    t.actions = (t.actions || []).filter(function (a) { return a !== "start"; }).concat(["resolve"]);
    t.state = "processing";
    t.state_name = "处置中" + (app.offline ? "（待同步）" : "");
    result(card, "已接单" + (app.offline ? "（待同步）" : ""), true);
    queue({ kind: "start", label: "接单", task: t.id, url: "/api/incidents/" + t.id + "/actions",
            json: { action: "start", note: null } });
    var fresh = taskCard(t, Array.prototype.indexOf.call(card.parentNode.children, card));
    card.replaceWith(fresh);
  }
  function checkin(t, card) {
    result(card, "正在定位…");
    position(10000).then(function (p) {
      if (!p) { result(card, "无法获取当前位置，请允许定位后再签到", false); return; }
      app.checkedIn[t.id] = app.checkedIn[t.id] || false;
      result(card, app.offline ? "已签到（离线记录，待同步）" : "正在签到…");
      drawMap();
      queue({ kind: "checkin", label: "签到", task: t.id, url: "/api/worker/tasks/" + t.id + "/checkin",
              json: { lon: p.lon, lat: p.lat, coord_type: "wgs84", at: new Date().toISOString() } });
    });
  }
  function resolveForm(t, card) {
    var open = card.querySelector(".w-form");
    if (open) { open.remove(); return; }
    var need = proofOf(t);
    var note = el("textarea", { rows: "3", id: "w-note-" + t.id, placeholder: "处置情况说明（必填）" });
    var photo = el("input", { type: "file", accept: "image/*", capture: "environment", multiple: "multiple", id: "w-photo-" + t.id });
    var proof = el("ul", { class: "w-proof", "aria-live": "polite" });
    function check() {
      var items = [["说明", note.value.trim().length > 0, true], ["现场照片", photo.files.length > 0, need.photo],
                   ["现场签到", t.id in app.checkedIn, need.checkin]];
      proof.textContent = "";
      var ok = true;
      items.forEach(function (x) {
        if (!x[2]) { return; }
        ok = ok && x[1];
        proof.appendChild(el("li", { class: x[1] ? "w-met" : "w-unmet", text: (x[1] ? "✓ " : "✗ ") + x[0] + (x[1] ? "" : "（必需）") }));
      });
      return ok;
    }
    note.addEventListener("input", check);
    photo.addEventListener("change", check);
    var form = el("form", { class: "w-form", novalidate: "novalidate" }, [
      el("p", { class: "w-meta", text: "本类工单反馈需要：说明" + (need.photo ? "、现场照片" : "") + (need.checkin ? "、现场签到" : "") }),
      proof,
      el("label", { class: "w-field", for: "w-note-" + t.id }, ["处置说明"]), note,
      el("label", { class: "w-field", for: "w-photo-" + t.id }, ["现场照片" + (need.photo ? "（必需）" : "（可选）")]), photo,
      el("button", { type: "submit", class: "w-btn w-btn-ok", text: "提交反馈" })
    ]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      card = form.closest(".w-card") || card;  // a reload may have moved the form to a new card
      if (!check()) { result(card, "请先补全反馈所需的材料（见上方清单）", false); return; }
      var files = Array.prototype.slice.call(photo.files);
      var steps = Promise.resolve();
      if (files.length) {
        steps = Promise.all(files.map(smaller)).then(function (small) {
          return queue({ kind: "photos", label: "上传照片", task: t.id, url: "/api/incidents/" + t.id + "/photos", files: small });
        });
      }
      steps.then(function () {
        return queue({ kind: "resolve", label: "反馈", task: t.id, url: "/api/incidents/" + t.id + "/actions",
                       json: { action: "resolve", note: note.value.trim() } });
      });
      app.tasks = app.tasks.filter(function (x) { return x.id !== t.id; });
      drawTasks();
      say("w-task-status", "已反馈：工单 " + t.id + (app.offline ? "（离线，待同步）" : ""));
    });
    card.appendChild(form);
    check();
    note.focus();
  }
  function smaller(file) {  // a camera's photo as a JPEG of at most 1600 px: less to keep and to send
    if (!window.createImageBitmap) { return Promise.resolve(file); }
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }
  function route(t, card) {
    if (app.offline) { result(card, "离线时无法计算路线；地图上显示工单位置", false); showTab("map"); focusTask(t); return; }
    var at = app.here ? "&lon=" + app.here.lon + "&lat=" + app.here.lat : "";
    api("/api/worker/route?task=" + t.id + at).then(function (f) {
      result(card, "路线：" + f.properties.message, true);
      withMap(function () {
        app.layers.route.clearLayers();
        L.geoJSON(f, { style: { color: "#1f6feb", weight: 6, opacity: .85, className: "w-route" } }).addTo(app.layers.route);
        if (window.matchMedia("(max-width: 899px)").matches) { showTab("map"); }
        app.map.fitBounds(app.layers.route.getBounds(), { padding: [30, 30] });
      });
    }, function (e) { result(card, "路线获取失败：" + (e.message || "网络错误"), false); });
  }

  /* ------------------------------------------------------------------ 住户 */
  function loadHouseholds() {
    var grids = list(app.bundle && app.bundle.grids);
    if (!grids.length || app.offline) { drawHouseholds(); return Promise.resolve(); }
    return Promise.all(grids.map(function (f) {
      var code = f.properties.code;
      return api("/api/worker/households?grid=" + code).then(function (a) { app.households[code] = a.households; });
    })).then(drawHouseholds, function () { drawHouseholds(); });
  }
  function drawHouseholds() {
    var box = $("w-household-list");
    var only = $("w-only-vulnerable").checked;
    box.textContent = "";
    var all = [];
    Object.keys(app.households).forEach(function (g) { all = all.concat(app.households[g]); });
    if (only) { all = all.filter(function (h) { return (h.vulnerable || []).length; }); }
    if (!all.length) { say("w-household-status", app.bundle ? "没有住户" : "正在加载住户…"); return; }
    say("w-household-status", "共 " + all.length + " 户" + (app.offline ? "（离线数据）" : ""));
    var byBuilding = {}, order = [];
    all.forEach(function (h) {
      if (!byBuilding[h.building_id]) { byBuilding[h.building_id] = []; order.push(h.building_id); }
      byBuilding[h.building_id].push(h);
    });
    order.forEach(function (b) {
      var hs = byBuilding[b].sort(function (x, y) { return x.unit - y.unit || String(x.room).localeCompare(String(y.room), "zh", { numeric: true }); });
      var sec = el("section", { class: "w-building", "data-building": b }, [
        el("h3", {}, [hs[0].building_name || "楼栋 " + b, el("span", { class: "w-sub", text: hs.length + " 户" })])
      ]);
      var shown = hs.slice(0, 60);
      shown.forEach(function (h) { sec.appendChild(householdCard(h)); });
      if (hs.length > shown.length) { sec.appendChild(el("p", { class: "w-meta", text: "另有 " + (hs.length - shown.length) + " 户未显示，请勾选“只看重点关注”" })); }
      box.appendChild(sec);
    });
  }
  function householdCard(h) {
    var people = el("ul", { class: "w-people" });
    (h.residents || []).forEach(function (r) {
      people.appendChild(el("li", {}, [(r.name || "（姓名已隐藏）") + " · " + (r.age_group_name || r.age_group || "") +
        (r.phone ? " · " + r.phone : "") + " ",
        ].concat((r.flag_names || []).map(function (f) { return el("span", { class: "w-flag", text: f }); }))));
    });
    var last = el("span", { class: "w-last", text: ago(h.last_visited) + (h.visits_recent ? "（近期 " + h.visits_recent + " 次）" : "") });
    var card = el("div", { class: "w-household" + ((h.vulnerable || []).length ? " w-care" : ""), "data-household": h.id }, [
      el("div", { class: "w-card-head" }, [
        el("span", { class: "w-card-title", text: h.unit + " 单元 " + h.room + " 室 · " + h.size + " 人" }),
        last
      ]),
      people,
      h.identity_masked === false ? el("p", { class: "w-meta", text: "此楼有在办工单：显示实名与电话（查阅已记录）" }) : null,
      el("div", { class: "w-actions" }, [
        el("button", { type: "button", class: "w-btn", "data-do": "visit", text: "走访", onclick: function () { visitForm(h, card, last); } })
      ])
    ]);
    return card;
  }
  function visitForm(h, card, last) {
    var open = card.querySelector(".w-form");
    if (open) { open.remove(); return; }
    var note = el("textarea", { rows: "2", id: "w-visit-" + h.id, required: "required", placeholder: "走访情况（必填，如：老人身体良好，已提醒防台）" });
    var form = el("form", { class: "w-form" }, [
      el("label", { class: "w-field", for: "w-visit-" + h.id }, ["走访记录"]), note,
      el("button", { type: "submit", class: "w-btn w-btn-primary", text: "保存走访" })
    ]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!note.value.trim()) { note.focus(); return; }
      var at = new Date().toISOString();
      var body = { household_id: h.id, note: note.value.trim(), visited_at: at };
      if (app.here) { body.lon = app.here.lon; body.lat = app.here.lat; }
      h.last_visited = at;
      h.visits_recent = (h.visits_recent || 0) + 1;
      last.textContent = "今天走访" + (app.offline ? "（待同步）" : "");
      form.remove();
      queue({ kind: "visit", label: "走访", url: "/api/worker/visits", json: body });
    });
    card.appendChild(form);
    note.focus();
  }

  /* ------------------------------------------------------------------ 地图 */
  function withMap(fn) {
    if (window.L) { if (!app.map) { makeMap(); } fn(); return; }
    (app.mapWaiters = app.mapWaiters || []).push(fn);
    if (app.leafletLoading) { return; }
    app.leafletLoading = true;
    var meta = document.querySelector('meta[name="wangge-leaflet"]');
    var css = el("link", { rel: "stylesheet", href: meta.dataset.css });
    document.head.appendChild(css);
    var s = el("script", { src: meta.content });
    s.addEventListener("load", function () {
      makeMap();
      (app.mapWaiters || []).splice(0).forEach(function (f) { f(); });
    });
    s.addEventListener("error", function () { $("w-map-note").textContent = "地图组件加载失败"; });
    document.head.appendChild(s);
  }
  function makeMap() {
    if (app.map) { return; }
    app.map = L.map("w-map", { zoomControl: true, attributionControl: false, preferCanvas: false });
    app.map.setView([30.28, 120.15], 14);
    app.layers = {
      roads: L.featureGroup().addTo(app.map), grids: L.featureGroup().addTo(app.map),
      buildings: L.featureGroup().addTo(app.map), shelters: L.featureGroup().addTo(app.map),
      tasks: L.featureGroup().addTo(app.map), route: L.featureGroup().addTo(app.map), here: L.featureGroup().addTo(app.map)
    };
    app.fitted = false;
  }
  function drawMap() {
    if (!app.bundle && !app.tasks) { return; }
    withMap(function () {
      var b = app.bundle || {};
      var ly = app.layers;
      ["roads", "grids", "buildings", "shelters", "tasks", "here"].forEach(function (k) { ly[k].clearLayers(); });
      if (b.roads) {
        L.geoJSON(b.roads, { interactive: false, style: { color: "#8c959f", weight: 2, className: "w-road" } }).addTo(ly.roads);
      }
      if (b.grids) {
        L.geoJSON(b.grids, { style: function (f) {
          return { color: f.properties.assignment_role === "backup" ? "#8250df" : "#0b5cad", weight: 3, fillOpacity: .06, className: "w-grid" };
        }, onEachFeature: function (f, layer) { layer.bindTooltip(f.properties.name + "（" + f.properties.code + "）"); } }).addTo(ly.grids);
      }
      if (b.buildings) {
        L.geoJSON(b.buildings, { style: function (f) {
          var p = f.properties;
          var care = (p.living_alone_elderly || 0) + (p.disabled || 0) + (p.mobility_impaired || 0);
          return { color: care ? "#a34f00" : "#57606a", weight: 1, fillColor: care ? "#fb8f44" : "#afb8c1", fillOpacity: .55, className: "w-building-shape" };
        }, onEachFeature: function (f, layer) {
          var p = f.properties;
          layer.bindTooltip((p.name || "楼栋 " + p.id) + "：" + p.households + " 户");
        } }).addTo(ly.buildings);
      }
      if (b.shelters) {
        L.geoJSON(b.shelters, { pointToLayer: function (f, ll) {
          return L.circleMarker(ll, { radius: 7, color: "#fff", weight: 2, fillColor: "#1a6b2f", fillOpacity: 1, className: "w-shelter" });
        }, onEachFeature: function (f, layer) { layer.bindTooltip("避难场所：" + (f.properties.name || "")); } }).addTo(ly.shelters);
      }
      var shown = openTasks();
      shown.forEach(function (t) {
        L.circleMarker([t.lat, t.lon], { radius: 9, color: "#fff", weight: 3, fillColor: "#a4231b", fillOpacity: 1, className: "w-task-spot" })
          .bindTooltip(t.category_name + "：" + t.description).addTo(ly.tasks);
      });
      if (app.here) {
        L.circleMarker([app.here.lat, app.here.lon], { radius: 8, color: "#fff", weight: 3, fillColor: "#0969da", fillOpacity: 1, className: "w-you" })
          .bindTooltip("我的位置").addTo(ly.here);
      }
      var n = list(b.buildings).length;
      $("w-map-note").textContent = n ? "楼栋 " + n + " 栋 · 工单 " + shown.length + " 件（本机数据绘制，无需底图）" : "暂无地图数据";
      app.map.invalidateSize();
      if (!app.fitted && ly.grids.getLayers().length && $("w-map").clientWidth > 0) {  // hidden: later
        app.map.fitBounds(ly.grids.getBounds(), { padding: [16, 16] });
        app.fitted = true;
      }
    });
  }
  function focusTask(t) { withMap(function () { app.map.setView([t.lat, t.lon], 17); }); }

  /* ------------------------------------------------------------------ 核查 */
  function loadCheckon() {
    var grids = list(app.bundle && app.bundle.grids);
    if (!grids.length || app.offline) { drawCheckon(); return Promise.resolve(); }
    if (app.checkonLoading) { return app.checkonLoading; }  // one reading at a time
    app.checkonLoading = Promise.all(grids.map(function (f) {
      return api("/api/worker/checkon?grid=" + f.properties.code).catch(function () { return null; });
    })).then(function (answers) {
      var people = [], hazard = null;
      answers.forEach(function (a) {
        if (a && a.hazard) { hazard = hazard || a.hazard; people = people.concat(a.people || []); }
      });
      app.hazard = hazard;
      people.forEach(function (p) {  // my marks not yet sent (or answered late) stay as I made them
        var mine = app.myMarks[p.resident_id];
        if (mine && (!p.marked_at || new Date(mine.marked_at) > new Date(p.marked_at))) {
          p.mark = mine.mark; p.marked_at = mine.marked_at;
        }
      });
      app.checkon = people;
      drawCheckon();
    }).then(function () { app.checkonLoading = null; }, function () { app.checkonLoading = null; });
    return app.checkonLoading;
  }
  function hazardName(h) {
    if (!h) { return ""; }
    return typeof h === "string" ? h : (h.name || h.title || h.kind_name || h.kind || ("灾害 " + (h.id || "")));
  }
  function drawCheckon() {
    var box = $("w-checkon-list");
    box.textContent = "";
    var open = app.checkon.filter(function (p) { return !p.mark; }).length;
    $("w-count-checkon").textContent = open ? String(open) : "";
    if (!app.hazard) { say("w-checkon-status", "当前没有需要核查的灾害预警"); return; }
    say("w-checkon-status", "");
    var status = $("w-checkon-status");
    status.appendChild(el("span", { class: "w-hazard", text: hazardName(app.hazard) }));
    status.appendChild(document.createTextNode(" 共 " + app.checkon.length + " 人，待核查 "));
    status.appendChild(el("span", { id: "w-checkon-open", text: String(open) }));
    status.appendChild(document.createTextNode(" 人"));
    app.checkon.forEach(function (p) { box.appendChild(personCard(p)); });
  }
  function personCard(p) {
    var s = p.shelter;
    var card = el("li", { class: "w-card" + (p.mark ? " w-mark-" + p.mark : ""), "data-resident": p.resident_id }, [
      el("div", { class: "w-card-head" }, [
        el("span", { class: "w-card-title", text: (p.name || "（姓名）") + " · " + (AGE_ZH[p.age_group] || p.age_group || "") }),
        el("span", { class: "w-last", text: p.mark ? MARK_ZH[p.mark] + (p.marked_at ? " " + when(p.marked_at, "") : "") : "未核查" })
      ]),
      el("div", { class: "w-meta", text: (p.building || "") + (p.phone ? " · 电话 " + p.phone : "") }),
      (p.needs && p.needs.length) ? el("div", {}, (Array.isArray(p.needs) ? p.needs : [p.needs]).map(function (n) { return el("span", { class: "w-flag", text: NEEDS_ZH[n] || n }); })) : null,
      s ? el("div", { class: "w-meta", text: "安全避难点：" + s.name + (p.walk_min !== null && p.walk_min !== undefined ? "，步行约 " + Math.max(1, Math.round(p.walk_min)) + " 分钟（绕开危险区）" : "") }) : null,
      el("div", { class: "w-actions" }, MARKS.map(function (m) {
        return el("button", { type: "button", class: "w-btn" + (p.mark === m[0] ? (m[0] === "needs_help" ? " w-btn-danger" : " w-btn-primary") : "") +
          (m[0] === "needs_help" ? " w-btn-alarm" : ""),
          "data-mark": m[0], "aria-pressed": p.mark === m[0] ? "true" : "false", text: m[1], onclick: function () { mark(p, m[0], card); } });
      }).concat(p.route ? [el("button", { type: "button", class: "w-btn", "data-do": "shelter-route", text: "避难路线",
        onclick: function () { shelterRoute(p); } })] : []))
    ]);
    return card;
  }
  function mark(p, what, card) {
    p.mark = what;
    p.marked_at = new Date().toISOString();
    app.myMarks[p.resident_id] = { mark: what, marked_at: p.marked_at };
    card.replaceWith(personCard(p));
    drawCheckonCount();
    queue({ kind: "mark", label: "核查标记", url: "/api/worker/checkon/marks",
            json: { hazard_id: app.hazard && app.hazard.id, resident_id: p.resident_id, mark: what, marked_at: p.marked_at } });
  }
  function shelterRoute(p) {  // the walk to the safe shelter, around the hazard (from the list)
    withMap(function () {
      app.layers.route.clearLayers();
      L.geoJSON({ type: "Feature", geometry: p.route, properties: {} },
        { style: { color: "#1a6b2f", weight: 6, opacity: .85, className: "w-route" } }).addTo(app.layers.route);
      if (p.shelter) {
        L.circleMarker([p.shelter.lat, p.shelter.lon], { radius: 9, color: "#fff", weight: 3, fillColor: "#1a6b2f", fillOpacity: 1 })
          .bindTooltip("避难场所：" + (p.shelter.name || "")).addTo(app.layers.route);
      }
      if (window.matchMedia("(max-width: 899px)").matches) { showTab("map"); }
      app.map.invalidateSize();
      app.map.fitBounds(app.layers.route.getBounds(), { padding: [30, 30] });
    });
  }
  function drawCheckonCount() {
    var open = app.checkon.filter(function (p) { return !p.mark; }).length;
    $("w-count-checkon").textContent = open ? String(open) : "";
    if ($("w-checkon-open")) { $("w-checkon-open").textContent = String(open); }
  }

  /* ------------------------------------------------------------------ 通知 */
  function loadNotices() {
    if (app.offline) { return Promise.resolve(); }
    return api("/api/worker/notices").then(function (a) {
      app.notices = a.notices || [];
      drawNotices();
    }, function (e) { say("w-notice-status", e instanceof Http ? "通知加载失败：" + e.message : "离线，无法获取新通知", true); });
  }
  function drawNotices() {
    var box = $("w-notice-list");
    box.textContent = "";
    var seen = Number(localStorage.getItem("wangge-notices-seen") || 0);
    var fresh = app.notices.filter(function (n) { return new Date(n.at).getTime() > seen; }).length;
    $("w-count-notices").textContent = fresh && document.body.dataset.tab !== "notices" ? String(fresh) : "";
    say("w-notice-status", app.notices.length ? "共 " + app.notices.length + " 条" : "暂无通知");
    var KIND = { deadline: "期限提醒", urged: "督办", reassigned: "改派", alert: "灾害预警" };
    app.notices.forEach(function (n) {
      box.appendChild(el("li", { class: "w-card" + (n.kind === "urged" || n.kind === "alert" ? " w-overdue" : "") }, [
        el("div", { class: "w-card-head" }, [el("span", { class: "w-card-title", text: KIND[n.kind] || n.kind }),
          el("span", { class: "w-meta", text: when(n.at, "") })]),
        el("p", { class: "w-desc", text: n.text + (n.incident_id ? "（工单 " + n.incident_id + "）" : "") })
      ]));
    });
  }

  /* ------------------------------------------------------------------ 覆盖 */
  var COVER_ZH = { households: "住户", households_visited: "已走访住户", buildings: "楼栋", buildings_visited: "已巡查楼栋",
    visits: "走访次数", checkins: "签到次数", household_coverage: "住户覆盖率", building_coverage: "楼栋覆盖率" };
  function loadCoverage() {
    if (app.offline) { return Promise.resolve(); }
    var days = $("w-coverage-days").value;
    return api("/api/worker/coverage?days=" + days).then(function (a) { drawCoverage(a, days); },
      function (e) { say("w-coverage-status", e instanceof Http ? "覆盖率加载失败：" + e.message : "离线", true); });
  }
  function ratio(part, whole) { return whole ? Math.round(100 * part / whole) : 0; }
  function drawCoverage(a, days) {
    var box = $("w-coverage");
    box.textContent = "";
    var grids = list(a, "grids");
    say("w-coverage-status", "近 " + days + " 天的走访与签到" + (grids.length ? "" : "：暂无数据"));
    grids.forEach(function (g) {
      var hh = g.households_visited !== undefined ? ratio(g.households_visited, g.households) : null;
      var bb = g.buildings_visited !== undefined ? ratio(g.buildings_visited, g.buildings) : null;
      var facts = el("dl");
      Object.keys(COVER_ZH).forEach(function (k) {
        if (g[k] === undefined || g[k] === null) { return; }
        var v = g[k];
        if (/coverage$/.test(k)) { v = Math.round(v <= 1 ? v * 100 : v) + "%"; }
        facts.appendChild(el("dt", { text: COVER_ZH[k] }));
        facts.appendChild(el("dd", { text: String(v) }));
      });
      var code = g.grid || g.code || "";
      var named = list(app.bundle && app.bundle.grids).filter(function (f) { return f.properties.code === code; })[0];
      box.appendChild(el("section", { class: "w-card w-cov", "data-grid": code }, [
        el("div", { class: "w-card-title", text: (named ? named.properties.name : "网格") + "（" + code + "）" }),
        hh === null ? null : el("label", { class: "w-meta" }, ["住户覆盖 " + hh + "%",
          el("meter", { min: "0", max: "100", value: String(hh), class: "w-meter" })]),
        bb === null ? null : el("label", { class: "w-meta" }, ["楼栋覆盖 " + bb + "%",
          el("meter", { min: "0", max: "100", value: String(bb), class: "w-meter" })]),
        facts
      ]));
    });
  }

  /* ------------------------------------------------------------------ tabs */
  var LOADERS = { households: function () { drawHouseholds(); }, checkon: loadCheckon, notices: function () {
    localStorage.setItem("wangge-notices-seen", String(Date.now())); drawNotices(); }, coverage: loadCoverage,
    map: function () { drawMap(); } };
  function showTab(name) {
    document.body.dataset.tab = name;
    document.querySelectorAll(".w-tabs button").forEach(function (b) {
      if (b.dataset.tab === name) { b.setAttribute("aria-current", "page"); } else { b.removeAttribute("aria-current"); }
    });
    document.querySelectorAll(".w-screen").forEach(function (s) { s.hidden = s.dataset.screen !== name; });
    if (name === "map") { document.querySelectorAll(".w-screen").forEach(function (s) { s.hidden = s.dataset.screen !== "tasks"; }); }
    if (LOADERS[name]) { LOADERS[name](); }
    if (app.map) { setTimeout(function () { app.map.invalidateSize(); }, 0); }
  }

  /* ------------------------------------------------------------------ start */
  function refresh(kinds) {  // after sending: read again what the sent actions changed
    if (app.offline) { return Promise.resolve(); }
    kinds = kinds || { start: 1, resolve: 1, visit: 1 };
    var steps = [];
    if (kinds.start || kinds.resolve || kinds.checkin || kinds.photos) { steps.push(loadTasks(), loadNotices()); }
    if (kinds.visit && document.body.dataset.tab === "households") { steps.push(loadHouseholds()); }
    return Promise.all(steps);
  }
  function loadBundle() {
    if (app.offline) { return Promise.resolve(); }
    return fetchBundle().then(function (b) {
      if (app.crypto) { useBundle(b); return keepBundle(b); }
      // without encryption nothing personal is kept: the package lives in this page only
      useBundle(b);
      return null;
    }).then(function () {
      drawMap();
      drawHouseholds();
      loadHouseholds();
      loadCheckon();
      banner();
    }, function () { banner(); });
  }

  function init() {
    document.querySelectorAll(".w-tabs button").forEach(function (b) {
      b.addEventListener("click", function () { showTab(b.dataset.tab); });
    });
    $("w-only-vulnerable").addEventListener("change", drawHouseholds);
    $("w-coverage-days").addEventListener("change", loadCoverage);
    $("w-signout").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var form = ev.target;
      wipe().then(function () { form.submit(); }, function () { form.submit(); });
    });
    window.addEventListener("online", function () { online(true); flush().then(refresh); loadBundle(); });
    window.addEventListener("offline", function () { online(false); });
    if (window.matchMedia("(min-width: 900px)").matches) { withMap(function () { drawMap(); }); }
    banner();

    // the tasks first (the first screen), without waiting for the device or the position
    var first = loadTasks();
    openDb().then(function (db) {
      app.db = db;
      return cryptoKey().catch(function () { app.crypto = false; return null; });
    }).then(function (key) {
      app.key = key;
      banner();
      return keptBundle();
    }).then(function (kept) {
      return count().then(function () {
        if (app.tasks) { drawTasks(); }  // drawn before the outbox was read: less what waits in it
        if (kept) {
          useBundle(kept);
          if (!app.tasks || app.offline) { app.tasks = list(kept.tasks, "tasks"); drawTasks(); }
          drawMap(); drawHouseholds(); drawCheckon();
        }
      });
    }).then(function () {
      return first;
    }).then(function () {
      flush();
      loadBundle();
      loadNotices();
      api("/api/worker/proof-rules").then(function (r) { rulesFrom(r); }, function () { return null; });
      position(8000).then(function (p) { if (p) { loadTasks(); } });
    });
    if (navigator.serviceWorker) {
      var sw = document.querySelector('meta[name="wangge-sw"]');
      navigator.serviceWorker.register(sw.content, { scope: sw.dataset.scope }).catch(function () { return null; });
    }
    setInterval(function () { if (!app.offline) { loadNotices(); } }, 60000);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
