// 周边服务: ask the browser for its position (WGS84), then draw the services on foot
// (/r/nearby/list, swapped into #services by htmx; an error lands in #flash).
(function () {
  "use strict";
  var button = document.getElementById("locate");
  var status = document.getElementById("locate-status");
  if (!button) return;
  function say(text) { status.textContent = text; }
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
