/* The service worker of the grid worker's app (网格员), served at /worker-sw.js for scope
 * /worker (api/pages/worker.py fills in the shell's files and their version).
 *
 * - The app shell (icons, Leaflet, the manifest): kept on install, served from the cache
 *   first; a new version of the files is a new cache, the old one is deleted when this
 *   worker takes over.  The app's own script and stylesheet are inside the page.
 * - The page /worker: from the network, kept less the tasks it carries (#w-first-tasks:
 *   personal data is kept on the device only encrypted, in the offline package); without
 *   a network, the kept copy (the app then draws the tasks of the offline package).
 * - GET /api/worker/bundle without a network: the last package, read from the page's
 *   IndexedDB and decrypted with the device key (never kept in plain text by the cache).
 * - Everything else (the API's answers hold personal data): not touched, not kept.
 */
"use strict";

var VERSION = "__VERSION__";
var SHELL = "__SHELL__";
var CACHE = "wangge-worker-shell-" + VERSION;
var APP = "/worker";
var DB_NAME = "wangge-worker";
// the tasks the page carries (api/templates/worker/app.html): never kept in the cache
var FIRST_TASKS = /<script type="application\/json" id="w-first-tasks">[\s\S]*?<\/script>/;

// The page as kept for offline use: the answer less its tasks, with its own headers (its
// Content-Security-Policy names the nonce of its inline scripts) less the encoding of the
// bytes as they travelled (the text here is decoded).
function keptPage(answer) {
  return answer.text().then(function (html) {
    var headers = new Headers(answer.headers);
    headers.delete("Content-Encoding");
    headers.delete("Content-Length");
    return new Response(html.replace(FIRST_TASKS, ""), { status: answer.status, statusText: answer.statusText,
                                                          headers: headers });
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    // the page that registered us was loaded before we ran: keep it too (signed in, or not at all)
    var app = fetch(APP, { credentials: "same-origin" }).then(function (answer) {
      return answer.ok && !answer.redirected ? keptPage(answer).then(function (kept) { return cache.put(APP, kept); }) : null;
    }).catch(function () { return null; });
    return Promise.all([cache.addAll(SHELL), app]);
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) {
      return n.indexOf("wangge-worker-") === 0 && n !== CACHE;
    }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function page(request) {
  return fetch(request).then(function (answer) {
    if (answer.ok && !answer.redirected) {
      var copy = answer.clone();
      Promise.all([caches.open(CACHE), keptPage(copy)]).then(function (r) { return r[0].put(APP, r[1]); });
    }
    return answer;
  }, function () {
    return caches.match(APP, { ignoreSearch: true }).then(function (kept) {
      return kept || new Response("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>网格员</title>" +
        "<p>离线：本机尚无网格员应用的缓存，请联网后打开一次。</p></html>",
        { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
    });
  });
}

function shell(request) {
  return caches.match(request).then(function (kept) {
    return kept || fetch(request).then(function (answer) {
      if (answer.ok) {
        var copy = answer.clone();
        caches.open(CACHE).then(function (cache) { return cache.put(request, copy); });
      }
      return answer;
    });
  });
}

function idb(action) {
  return new Promise(function (resolve) {
    var r = indexedDB.open(DB_NAME, 1);
    r.onupgradeneeded = function () { r.transaction.abort(); };  // no package kept: nothing to read
    r.onerror = function () { resolve(null); };
    r.onsuccess = function () {
      var db = r.result;
      action(db).then(function (v) { db.close(); resolve(v); }, function () { db.close(); resolve(null); });
    };
  });
}

function get(db, name, key) {
  return new Promise(function (resolve, reject) {
    var q = db.transaction(name).objectStore(name).get(key);
    q.onsuccess = function () { resolve(q.result); };
    q.onerror = function () { reject(q.error); };
  });
}

function keptBundle() {
  if (!self.crypto || !crypto.subtle) { return Promise.resolve(null); }
  return idb(function (db) {
    return Promise.all([get(db, "keys", "device"), get(db, "data", "bundle")]).then(function (r) {
      if (!r[0] || !r[1]) { return null; }
      return crypto.subtle.decrypt({ name: "AES-GCM", iv: r[1].iv }, r[0], r[1].data).then(function (bytes) {
        var text = new TextDecoder().decode(bytes);
        var expires = JSON.parse(text).expires_at;
        return expires && new Date(expires).getTime() <= Date.now() ? null : text;
      });
    });
  });
}

function bundle(request) {
  return fetch(request).catch(function () {
    return keptBundle().then(function (text) {
      if (!text) {
        return new Response(JSON.stringify({ title: "离线", detail: "离线，本机没有有效的离线数据包" }),
          { status: 503, headers: { "Content-Type": "application/problem+json", "X-Wangge-Offline": "1" } });
      }
      return new Response(text, { status: 200, headers: { "Content-Type": "application/json", "X-Wangge-Offline": "1",
        "Cache-Control": "no-store" } });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate" && url.pathname === APP) {
    event.respondWith(page(request));
  } else if (SHELL.indexOf(url.pathname) >= 0) {
    event.respondWith(shell(request));
  } else if (url.pathname === "/api/worker/bundle") {
    event.respondWith(bundle(request));
  }
});
