"use strict";
// The last hour of one lock, from `GET /history` (`h`: its minutes, oldest first): bars for the
// longest line each minute, a line for the longest wait in line before a grant. Inline SVG, nothing
// loaded. `now`: the server's clock (ms); `dur` formats seconds.
function weblockPlot(h, now, dur) {
  if (!h || !h.length) return null;
  var W = 180, H = 34, NS = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "plot");
  svg.setAttribute("width", W); svg.setAttribute("height", H);
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  var maxWaiting = 1, maxWaited = 0.001, grants = 0;
  h.forEach(function (p) {
    maxWaiting = Math.max(maxWaiting, p.waiting);
    maxWaited = Math.max(maxWaited, p.waited_max);
    grants += p.grants;
  });
  var x = function (p) { return Math.max(0, W - 3 - (now - Date.parse(p.minute)) / 3600000 * W); };
  var points = [];
  h.forEach(function (p) {
    var r = document.createElementNS(NS, "rect");
    var bh = p.waiting / maxWaiting * (H - 2);
    r.setAttribute("class", "waiters");
    r.setAttribute("x", x(p).toFixed(1)); r.setAttribute("width", "3");
    r.setAttribute("y", (H - bh).toFixed(1)); r.setAttribute("height", bh.toFixed(1));
    svg.appendChild(r);
    if (p.grants) points.push((x(p) + 1.5).toFixed(1) + "," + (H - 1 - p.waited_max / maxWaited * (H - 2)).toFixed(1));
  });
  var line = document.createElementNS(NS, "polyline");
  line.setAttribute("class", "wait");
  line.setAttribute("points", points.join(" "));
  svg.appendChild(line);
  var title = document.createElementNS(NS, "title");
  title.textContent = "last hour: up to " + maxWaiting + " waiting; " + grants + " grants; longest wait in line " + dur(maxWaited);
  svg.appendChild(title);
  return svg;
}
