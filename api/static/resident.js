/* The residents' phone pages: the map (Leaflet over the offline basemap), the browser's
 * position, the report form (photos resized on the phone, one Idempotency-Key per report so
 * a double tap files once), the shelter page's route, and a signed-in resident's reminders,
 * hazard alerts and notices arriving live (server-sent events).  No inline script: CSP. */
(function () {
  "use strict";

  function baseMap(el) {
    var map = L.map(el, { zoomControl: true, attributionControl: true });
    var d = el.dataset;
    if (d.raster) {
      L.tileLayer(d.raster, { attribution: d.attribution || "", subdomains: d.subdomains || "abc", maxZoom: 19 }).addTo(map);
    } else if (d.style && L.maplibreGL) {
      L.maplibreGL({ style: new URL(d.style, window.location.origin).href, localIdeographFontFamily: false, attribution: "底图：本辖区数据" }).addTo(map);
    }
    window.wanggeMap = map;
    return map;
  }

  function geolocate(ok, refused) {
    if (!navigator.geolocation) { refused(); return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      ok(pos.coords.longitude, pos.coords.latitude);
    }, refused, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return String(Date.now()) + "-" + Math.random().toString(16).slice(2);
  }

  /* ------------------------------------------------------------ 报事报修 */
  function reportPage(form) {
    var el = document.getElementById("r-map");
    var status = document.getElementById("r-geo-status");
    var lonIn = document.getElementById("r-lon"), latIn = document.getElementById("r-lat");
    var map = baseMap(el);
    var icon = L.divIcon({ className: "r-pin", iconSize: [26, 26], iconAnchor: [13, 26] });
    var pin = L.marker([parseFloat(el.dataset.lat), parseFloat(el.dataset.lon)],
      { draggable: true, icon: icon, keyboard: true, title: "问题位置（可拖动）", alt: "问题位置" }).addTo(map);
    map.setView(pin.getLatLng(), 15);
    function put(lat, lon) {
      latIn.value = lat.toFixed(7); lonIn.value = lon.toFixed(7);
      el.dataset.placed = "1";
    }
    pin.on("dragend", function () {
      var p = pin.getLatLng();
      put(p.lat, p.lng);
      status.textContent = "已按图钉位置定位。";
    });
    map.on("click", function (e) { pin.setLatLng(e.latlng); put(e.latlng.lat, e.latlng.lng); });
    function locate() {
      status.textContent = "正在获取您的位置……";
      geolocate(function (lon, lat) {
        pin.setLatLng([lat, lon]); map.setView([lat, lon], 17); put(lat, lon);
        status.textContent = "已定位到您当前的位置，如有偏差请拖动图钉。";
      }, function () {
        status.textContent = "无法获取您的位置（未允许定位）。请拖动地图上的图钉到问题所在处。";
      });
    }
    document.getElementById("r-locate").addEventListener("click", locate);
    locate();

    var photos = document.getElementById("r-photos");
    var note = document.getElementById("r-photo-note");
    var max = parseInt(photos.dataset.max, 10) || 4;
    photos.addEventListener("change", function () {
      var n = photos.files.length;
      note.textContent = n > max ? "最多 " + max + " 张，请重新选择。" : (n ? "已选 " + n + " 张，提交时会自动压缩。" : "");
    });

    function resize(file) {  // longest side at most 1600 px, JPEG: a slow network sends less
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

    function send(data, headers, tries) {  // the first send still running (409): ask again
      return fetch(form.action, { method: "POST", body: data, headers: headers, credentials: "same-origin" })
        .then(function (response) {
          var after = response.headers.get("Retry-After");
          if (response.status !== 409 || !after || tries >= 10) { return response; }
          var wait = Math.min(parseFloat(after) || 1, 5);
          return new Promise(function (resolve) { setTimeout(resolve, wait * 1000); })
            .then(function () { return send(data, headers, tries + 1); });
        });
    }

    var key = newKey();  // one report, one key: a second tap or a retry files nothing twice
    form.addEventListener("input", function (e) { if (e.target !== photos) { key = newKey(); } });
    var error = document.getElementById("r-error");
    var submit = document.getElementById("r-submit");
    function fail(text) { error.textContent = text; error.hidden = false; submit.disabled = false; error.scrollIntoView(); }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.hidden = true;
      if (!form.elements.category_code.value) { fail("请选择问题类别。"); return; }
      if (!form.elements.description.value.trim()) { fail("请描述一下问题。"); return; }
      if (!lonIn.value) { fail("还没有位置：请允许定位，或拖动图钉到问题所在处。"); return; }
      var files = Array.prototype.slice.call(photos.files, 0);
      if (files.length > max) { fail("照片最多 " + max + " 张。"); return; }
      submit.disabled = true;
      submit.textContent = "正在提交……";
      Promise.all(files.map(resize)).then(function (blobs) {
        var data = new FormData(form);
        data.delete("photos");
        blobs.forEach(function (blob, i) { data.append("photos", blob, "photo" + (i + 1) + ".jpg"); });
        var headers = { "Idempotency-Key": key, "HX-Request": "true" };
        if (form.elements.csrf_token) { headers["X-CSRF-Token"] = form.elements.csrf_token.value; }
        return send(data, headers, 0);
      }).then(function (response) {
        return response.text().then(function (text) {
          var doc = new DOMParser().parseFromString(text, "text/html");
          var link = doc.getElementById("r-track-link");
          if (response.ok && link) { window.location.assign(link.getAttribute("href")); return; }
          submit.textContent = "提交";
          var box = doc.querySelector(".flash") || doc.querySelector("main") || doc.body;
          fail((box.textContent || "提交失败，请稍后重试。").replace(/\s+/g, " ").trim());
        });
      }).catch(function () {
        submit.textContent = "提交";
        fail("网络不通，没有提交成功。请检查网络后再点“提交”（不会重复提交）。");
      });
    });
  }

  /* ------------------------------------------------------------ 最近避难场所 */
  function findShelter(status) {
    geolocate(function (lon, lat) {
      window.location.replace("/r/shelter?lon=" + lon.toFixed(6) + "&lat=" + lat.toFixed(6));
    }, function () {
      status.hidden = true;
      document.getElementById("r-geo-refused").hidden = false;
    });
  }

  function shelterMap(el) {
    var way = JSON.parse(el.dataset.way);
    var map = baseMap(el);
    map.fitBounds(L.latLngBounds(way.route).extend(way.you).pad(0.2), { maxZoom: 17 });  // a view before any path
    if (way.hazard) {
      L.geoJSON(way.hazard, { style: { color: "#a4231b", weight: 2, fillColor: "#d1242f", fillOpacity: 0.2, className: "wangge-hazard" } }).addTo(map);
    }
    L.polyline(way.route, { color: "#0b4f9c", weight: 6, opacity: 0.9, className: "wangge-route" }).addTo(map);
    L.circleMarker(way.you, { radius: 8, color: "#fff", weight: 3, fillColor: "#d1242f", fillOpacity: 1, className: "wangge-you" }).bindTooltip("您的位置").addTo(map);
    L.circleMarker(way.shelter, { radius: 10, color: "#fff", weight: 3, fillColor: "#1a6b2f", fillOpacity: 1, className: "wangge-shelter" }).bindTooltip("避难场所").addTo(map);
  }

  /* ------------------------------------------------------------ 办理提醒, live */
  function liveReminders(list) {
    if (!window.EventSource) { return; }
    var source = new EventSource(list.dataset.live);
    source.addEventListener("ready", function () { list.dataset.listening = "1"; });
    source.addEventListener("reminder", function (e) {
      var m = JSON.parse(e.data);
      if (list.querySelector('[data-id="' + m.id + '"]')) { return; }
      var li = document.createElement("li");
      li.className = "r-reminder r-new";
      li.dataset.id = m.id;
      var text = document.createElement("span");
      text.textContent = m.text;
      var at = document.createElement("time");
      at.className = "muted small";
      at.dateTime = m.at;
      at.textContent = m.at.slice(5, 10) + " " + m.at.slice(11, 16);
      li.appendChild(text);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(at);
      list.insertBefore(li, list.firstChild);
      var none = document.getElementById("r-reminders-none");
      if (none) { none.hidden = true; }
    });
    liveNotices(source);
    window.addEventListener("pagehide", function () { source.close(); });
  }

  /* ------------------------------------------------------------ 通知公告, live: alerts first */
  function when(at) { return at.slice(0, 10) + " " + at.slice(11, 16); }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    if (text !== undefined) { el.textContent = text; }
    return el;
  }

  function showIn(list, li) {
    list.insertBefore(li, list.firstChild);
    list.hidden = false;
    var none = document.getElementById("r-notices-none");
    if (none) { none.hidden = true; }
  }

  function liveNotices(source) {
    var alerts = document.getElementById("alerts"), notices = document.getElementById("notices");
    if (!alerts || !notices) { return; }
    source.addEventListener("alert", function (e) {
      var a = JSON.parse(e.data);
      if (alerts.querySelector('[data-id="' + a.id + '"]')) { return; }
      var li = element("li", "item alert unread r-new");
      li.dataset.id = a.id;
      li.dataset.unread = "1";
      var box = element("div");
      box.setAttribute("role", "alert");  // read out at once
      var h = element("h2", "", a.kind_name + "预警：" + a.hazard_name + " ");
      h.appendChild(element("span", "small", "（未读）"));
      box.appendChild(h);
      box.appendChild(element("p", "", a.message));
      box.appendChild(element("p", "meta", when(a.at)));
      li.appendChild(box);
      if (alerts.dataset.csrf) {  // 知道了: seen, no longer unread (as on a reload)
        var form = element("form");
        form.method = "post";
        form.action = "/r/alerts/" + a.id + "/seen";
        var token = element("input");
        token.type = "hidden";
        token.name = "csrf_token";
        token.value = alerts.dataset.csrf;
        form.appendChild(token);
        var ok = element("button", "", "知道了");
        ok.type = "submit";
        ok.setAttribute("aria-label", "知道了：" + a.kind_name + "预警 " + a.hazard_name);
        form.appendChild(ok);
        li.appendChild(form);
      }
      showIn(alerts, li);
      showUnread(a.unread);
    });
    source.addEventListener("notice", function (e) {
      var n = JSON.parse(e.data);
      if (notices.querySelector('[data-id="' + n.id + '"]')) { return; }
      var li = element("li", "item unread r-new");
      li.dataset.id = n.id;
      li.dataset.unread = "1";
      var h = element("h2");
      var link = element("a", "", n.title);
      link.href = "/r/notices/" + n.id;
      h.appendChild(link);
      h.appendChild(document.createTextNode(" "));
      h.appendChild(element("span", "small", "（未读）"));
      li.appendChild(h);
      li.appendChild(element("p", "meta", n.audience + " · " + when(n.at)));
      showIn(notices, li);
      showUnread(n.unread);
    });
  }

  /* the unread count (notices not opened, alerts not seen) as the server counts it now */
  function showUnread(count) {
    var unread = document.getElementById("unread");
    if (!unread || count === undefined) { return; }
    unread.dataset.unread = count;
    unread.className = count ? "badge" : "muted small";
    unread.textContent = count ? count : "全部已读";
    if (count) { unread.setAttribute("aria-label", "未读 " + count + " 条"); } else { unread.removeAttribute("aria-label"); }
  }

  var form = document.getElementById("report-form");
  if (form && window.L) { reportPage(form); }
  var ask = document.querySelector("[data-find-shelter]");
  if (ask) { findShelter(ask); }
  var wayEl = document.querySelector("#r-map[data-way]");
  if (wayEl && window.L) { shelterMap(wayEl); }
  var reminders = document.querySelector("#r-reminders[data-live]");
  if (reminders) { liveReminders(reminders); }
})();
