/* The device side of the grid worker's app (网格员): IndexedDB, the AES-GCM sealing of what
 * it keeps, the multipart body of a queued photo, and wiping everything on sign-out.
 * Loaded before worker.js, which calls window.wanggeDevice(app, name) once: the functions
 * read the app's open database (app.db) and its device key (app.key, a non-extractable
 * CryptoKey kept in the database itself).  The page carries it inline, before worker.js. */
(function () {
  "use strict";

  window.wanggeDevice = function (app, DB_NAME) {
    /* ------------------------------------------------------------------ IndexedDB and encryption */
    function req(r) {
      return new Promise(function (resolve, reject) {
        r.onsuccess = function () { resolve(r.result); };
        r.onerror = function () { reject(r.error); };
      });
    }
    function openDb() {
      if (!window.indexedDB) { return Promise.resolve(null); }
      var r = indexedDB.open(DB_NAME, 1);
      r.onupgradeneeded = function () {
        var db = r.result;
        db.createObjectStore("keys");
        db.createObjectStore("data");
        db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      };
      return req(r).catch(function () { return null; });
    }
    function store(name, mode) { return app.db.transaction(name, mode || "readonly").objectStore(name); }
    function dbGet(name, key) { return app.db ? req(store(name).get(key)) : Promise.resolve(undefined); }
    function dbPut(name, value, key) {
      return req(key === undefined ? store(name, "readwrite").put(value) : store(name, "readwrite").put(value, key));
    }
    function dbDelete(name, key) { return req(store(name, "readwrite").delete(key)); }
    function dbAll(name) { return app.db ? req(store(name).getAll()) : Promise.resolve([]); }

    function cryptoKey() {
      if (!app.crypto || !app.db) { return Promise.resolve(null); }
      return dbGet("keys", "device").then(function (key) {
        if (key) { return key; }
        return crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"])
          .then(function (made) { return dbPut("keys", made, "device").then(function () { return made; }); });
      });
    }
    function seal(bytes) {  // ArrayBuffer -> {iv, data} (AES-GCM)
      var iv = crypto.getRandomValues(new Uint8Array(12));
      return crypto.subtle.encrypt({ name: "AES-GCM", iv: iv }, app.key, bytes)
        .then(function (data) { return { iv: iv, data: data }; });
    }
    function open(box) {
      return crypto.subtle.decrypt({ name: "AES-GCM", iv: box.iv }, app.key, box.data);
    }
    function sealJson(value) { return seal(new TextEncoder().encode(JSON.stringify(value))); }
    function openJson(box) {
      return open(box).then(function (b) { return JSON.parse(new TextDecoder().decode(b)); });
    }

    function multipart(parts, boundary) {  // the same bytes on every retry (the key's body)
      var chunks = [];
      parts.forEach(function (p, i) {
        var ext = (p.type.split("/")[1] || "bin").replace(/[^a-z0-9]/g, "");
        chunks.push("--" + boundary + '\r\nContent-Disposition: form-data; name="files"; filename="photo-' +
          (i + 1) + "." + ext + '"\r\nContent-Type: ' + p.type + "\r\n\r\n", p.bytes, "\r\n");
      });
      chunks.push("--" + boundary + "--\r\n");
      return new Blob(chunks);
    }
    /* ------------------------------------------------------------------ sign-out */
    function wipe() {
      var steps = [];
      if (app.db) { app.db.close(); app.db = null; }
      app.key = null; app.bundle = null;
      if (window.indexedDB) {
        steps.push(new Promise(function (resolve) {
          var r = indexedDB.deleteDatabase(DB_NAME);
          r.onsuccess = r.onerror = r.onblocked = function () { resolve(); };
        }));
      }
      if (window.caches) {
        steps.push(caches.keys().then(function (names) { return Promise.all(names.map(function (n) { return caches.delete(n); })); }));
      }
      if (navigator.serviceWorker) {
        steps.push(navigator.serviceWorker.getRegistrations().then(function (rs) {
          return Promise.all(rs.map(function (r) { return r.unregister(); }));
        }).catch(function () { return null; }));
      }
      try { localStorage.removeItem("wangge-notices-seen"); } catch (e) { /* private mode */ }
      return Promise.all(steps);
    }

    return { openDb: openDb, dbGet: dbGet, dbPut: dbPut, dbDelete: dbDelete, dbAll: dbAll,
             cryptoKey: cryptoKey, seal: seal, open: open, sealJson: sealJson, openJson: openJson,
             multipart: multipart, wipe: wipe };
  };
})();
