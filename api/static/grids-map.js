/* The grids desk's design map: current grids, the proposal and the problems, without tiles. */
(function () {
  "use strict";
  var holder = document.getElementById("design-map");
  var data = document.getElementById("design-data");
  if (!holder || !data || !window.L) { return; }
  var layers = JSON.parse(data.textContent);
  var map = L.map(holder, { preferCanvas: false, attributionControl: false });
  var overlays = {};
  var bounds = null;
  function add(name, collection, style) {
    if (!collection || !collection.features || !collection.features.length) { return; }
    var layer = L.geoJSON(collection, {
      style: style,
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 6, color: "#a4231b" }); },
      onEachFeature: function (f, l) {
        var p = f.properties || {};
        l.bindTooltip(String(p.name || p.message || p.code || ""));
      }
    }).addTo(map);
    overlays[name] = layer;
    bounds = bounds ? bounds.extend(layer.getBounds()) : layer.getBounds();
  }
  add("现有网格", layers.current, { color: "#0d47a1", weight: 2, fillOpacity: 0.05 });
  add("划分方案", layers.proposal, { color: "#c25e00", weight: 3, dashArray: "6 4", fillOpacity: 0 });
  add("问题", layers.problems, { color: "#a4231b", weight: 2, fillOpacity: 0.3 });
  L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  if (bounds && bounds.isValid()) { map.fitBounds(bounds); } else { map.setView([30.27, 120.15], 13); }
  holder.setAttribute("data-ready", "1");
})();
