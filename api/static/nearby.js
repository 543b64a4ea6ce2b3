/* 周边服务: ask the browser for its position (WGS84), then draw the services on foot
 * (/r/nearby/list, swapped into #services by htmx; an error lands in #flash) and put
 * them on a Leaflet map: the configured raster tiles, or the offline vector basemap
 * (MapLibre GL in Leaflet) when its scripts are loaded; with neither, on white. */
(function () {
  "use strict";
  var button = document.getElementById("locate");
  var status = document.getElementById("locate-status");
  var el = document.getElementById("nearby-map");
  if (!button) { return; }
  var map = null, layer = null;
  function say(text) { status.textContent = text; }

  function ensureMap() {
    if (map || !el || !window.L) { return map; }
    el.hidden = false;
    map = L.map(el, { zoomControl: true, attributionControl: true });
    window.wanggeMap = map;
    var d = el.dataset;
    if (d.raster) {
      L.tileLayer(d.raster, { attribution: d.attribution || "", subdomains: d.subdomains || "abc", maxZoom: 19 }).addTo(map);
    } else if (d.style && L.maplibreGL) {
      L.maplibreGL({ style: new URL(d.style, window.location.origin).href, localIdeographFontFamily: false, attribution: "底图：本辖区数据" }).addTo(map);
    }
    layer = L.layerGroup().addTo(map);
    return map;
  }

  function draw() {
    var result = document.getElementById("nearby-result");
    if (!result || !ensureMap()) { return; }
    layer.clearLayers();
    var here = [parseFloat(result.dataset.lat), parseFloat(result.dataset.lon)];
    L.circleMarker(here, { radius: 8, weight: 3, color: "#fff", fillColor: "#a4231b", fillOpacity: 1 })
      .bindTooltip("我的位置").addTo(layer);
    var points = [here];
    document.querySelectorAll("#service-list li[data-lat]").forEach(function (item) {
      var p = [parseFloat(item.dataset.lat), parseFloat(item.dataset.lon)];
      if (!isFinite(p[0]) || !isFinite(p[1])) { return; }
      L.circleMarker(p, { radius: 7, weight: 2, color: "#fff", fillColor: "#173a63", fillOpacity: 0.9 })
        .bindTooltip(item.dataset.label).addTo(layer);
      points.push(p);
    });
    el.dataset.markers = String(points.length - 1);
    map.fitBounds(L.latLngBounds(points).pad(0.1), { maxZoom: 17 });
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "services") { draw(); }
  });

  button.addEventListener("click", function () {
    if (!navigator.geolocation) { say("此浏览器不能提供位置，请换用手机浏览器。"); return; }
    say("正在获取位置…");
    navigator.geolocation.getCurrentPosition(function (pos) {
      say("正在查找附近的服务…");
      var url = "/r/nearby/list?lon=" + pos.coords.longitude.toFixed(6) +
        "&lat=" + pos.coords.latitude.toFixed(6);
      htmx.ajax("GET", url, { target: "#services", swap: "innerHTML" }).then(function () {
        say("");
      });
    }, function (err) {
      say(err.code === 1 ? "您拒绝了位置权限：请在浏览器设置中允许本网站使用位置。" :
        "暂时无法获取位置，请到室外或稍后再试。");
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
})();
