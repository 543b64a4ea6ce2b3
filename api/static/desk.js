/* The case desk's map (案件地图): the cases of the list's page, or the one case, on Leaflet.
 * The basemap is the configured raster source, or the offline vector basemap (MapLibre GL
 * in Leaflet) when its scripts are loaded; with neither, the cases are drawn on white.
 * After htmx swaps the list, the markers follow the new page. */
(function () {
  "use strict";
  var el = document.getElementById("desk-map");
  if (!el || !window.L) { return; }
  var map = L.map(el, { zoomControl: true, attributionControl: true });
  window.wanggeMap = map;
  var d = el.dataset;
  if (d.raster) {
    L.tileLayer(d.raster, { attribution: d.attribution || "", subdomains: d.subdomains || "abc", maxZoom: 19 }).addTo(map);
  } else if (d.style && L.maplibreGL) {
    L.maplibreGL({ style: new URL(d.style, window.location.origin).href, localIdeographFontFamily: false, attribution: "底图：本辖区数据" }).addTo(map);
  }
  var layer = L.layerGroup().addTo(map);
  var colours = { reported: "#7a4d00", registered: "#0b4f9c", resolved: "#1a6b2f", escalated: "#a4231b" };

  function marker(lat, lon, label, colour, href) {
    var m = L.circleMarker([lat, lon], { radius: 7, weight: 2, color: "#fff", fillColor: colour, fillOpacity: 0.9 });
    m.bindTooltip(label);
    if (href) { m.on("click", function () { window.location.href = href; }); }
    return m.addTo(layer);
  }

  function draw() {
    layer.clearLayers();
    var points = [];
    if (d.lat && d.lon) {
      var lat = parseFloat(d.lat), lon = parseFloat(d.lon);
      marker(lat, lon, d.label || "", "#a4231b", null);
      map.setView([lat, lon], 17);
      return;
    }
    document.querySelectorAll("#case-list tr[data-lat]").forEach(function (row) {
      var lat = parseFloat(row.dataset.lat), lon = parseFloat(row.dataset.lon);
      if (!isFinite(lat) || !isFinite(lon)) { return; }
      var colour = row.dataset.overdue ? "#a4231b" : (colours[row.dataset.state] || "#173a63");
      marker(lat, lon, "#" + row.dataset.label, colour, "/desk/cases/" + row.dataset.id);
      points.push([lat, lon]);
    });
    el.dataset.markers = String(points.length);
    if (points.length) {
      map.fitBounds(L.latLngBounds(points).pad(0.15), { maxZoom: 17 });
    } else if (!map._loaded) {
      map.setView([0, 0], 2);
    }
  }

  draw();
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "case-list") { draw(); }
  });
})();
