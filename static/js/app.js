// Practice Dashboard: small progressive enhancements. Pages work without JavaScript except
// for charts. No inline scripts anywhere (Content-Security-Policy: script-src 'self').
(function () {
  "use strict";

  // A double-clicked submit saves once: the first submit disables the form's buttons.
  function submitButtons(form) {
    return form.querySelectorAll("button[type=submit], input[type=submit], button:not([type])");
  }
  function release(form) {
    delete form.dataset.submitting;
    submitButtons(form).forEach(function (b) {
      b.removeAttribute("aria-disabled");
      b.classList.remove("is-busy");
    });
  }
  // A GET form may answer with a download (a supervision packet, a CSV): the page stays,
  // so nothing would ever clear the guard. It only needs to outlast a double click.
  var GET_GUARD_MS = 1500;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.dataset.submitting === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    submitButtons(form).forEach(function (b) {
      b.setAttribute("aria-disabled", "true");
      b.classList.add("is-busy");
    });
    if ((form.getAttribute("method") || "get").toLowerCase() === "get") {
      window.setTimeout(function () { release(form); }, GET_GUARD_MS);
    }
  }, true);
  // Back to a page kept in the browser's cache: its forms can be used again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-submitting]").forEach(release);
  });

  // Charts: every <script type="application/json" data-chart="ID"> holds a Plotly figure
  // built on the server; it is drawn into the element with that id.
  //
  // The one Plotly config of every chart (client page and print view). Clinical data never
  // leaves the app: no "Share chart" / Chart Studio button, no link to plotly's cloud, no logo.
  // Applied after a figure's own config, so no figure can switch any of it back on.
  // (showLink and showEditInChartStudio are older plotly.js names for the same buttons.)
  var PLOTLY_CONFIG = Object.freeze({
    displaylogo: false,
    showSendToCloud: false,
    showEditInChartStudio: false,
    showLink: false,
    plotlyServerURL: "",
    modeBarButtonsToRemove: ["sendChartToCloud", "sendDataToCloud", "editInChartStudio"]
  });

  // This file loads deferred, so the page has been parsed by the time this runs. Plotly is
  // there already where a page loads it deferred before this file (the print view), or is
  // run by loadPlotly first (the client page). When every chart of the page is drawn, the
  // page says so once: <html data-charts-drawn="1"> and the performance mark "charts-drawn",
  // which the browser tests and benchmarks wait for.
  function drawOne(node, target) {
    var figure = JSON.parse(node.textContent);
    var config = Object.assign({ responsive: true }, figure.config || {}, PLOTLY_CONFIG);
    // The element keeps the figure's height (a tall figure would otherwise spill over the
    // caption under it, whose place was laid out before the chart was drawn).
    if (figure.layout && figure.layout.height) {
      target.style.minHeight = figure.layout.height + "px";
    }
    return window.Plotly.newPlot(target, figure.data, figure.layout, config).then(function () {
      target.dataset.rendered = "1";
      // Its legend (HTML, under it) comes with it: entries that toggle a drawn chart.
      var legend = document.getElementById(target.id + "-legend");
      if (legend) legend.hidden = false;
    });
  }
  // The charts are drawn in one go, those on the screen first and shown (a frame) before the
  // rest; a hidden page (a tab in the background) has no screen and draws in page order. A
  // click or a key pressed meanwhile is answered between two charts rather than after all of
  // them (a few hundred ms on a slow machine): bench/chart_input.py. A browser that cannot tell
  // (no isInputPending) gets a turn every 50 ms instead.
  var TURN_MS = 50;
  function nextTask() {
    return new Promise(function (resolve) { window.setTimeout(resolve, 0); });
  }
  // A task after the next frame: what was drawn before it is on the screen. (A hidden page
  // gets no frames: just the next task.)
  function afterFrame() {
    if (!window.requestAnimationFrame || document.hidden) return nextTask();
    return new Promise(function (resolve) {
      window.requestAnimationFrame(function () { window.setTimeout(resolve, 0); });
    });
  }
  function inputWaits(since) {
    var scheduling = navigator.scheduling;
    if (scheduling && scheduling.isInputPending) return scheduling.isInputPending();
    return performance.now() - since > TURN_MS;
  }
  function drawInTurn(charts) {
    var done = [];
    var next = 0;
    function turn() {
      var since = performance.now();
      while (next < charts.length) {
        // At least one chart a turn: the drawing always gets on.
        done.push(drawOne(charts[next].node, charts[next].target));
        next += 1;
        if (next < charts.length && inputWaits(since)) return nextTask().then(turn);
      }
      return Promise.all(done);
    }
    return turn();
  }
  function drawCharts() {
    if (!window.Plotly) return Promise.resolve();
    var charts = [];
    document.querySelectorAll("script[type='application/json'][data-chart]").forEach(function (node) {
      var target = document.getElementById(node.dataset.chart);
      if (target) charts.push({ node: node, target: target });
    });
    if (!charts.length) return Promise.resolve();
    var onScreen = function (c) {
      var box = c.target.getBoundingClientRect();
      return box.bottom > 0 && box.top < window.innerHeight;
    };
    var seen = document.hidden ? [] : charts.filter(onScreen);
    var rest = charts.filter(function (c) { return seen.indexOf(c) < 0; });
    var drawn = drawInTurn(seen);
    if (rest.length) {
      drawn = drawn.then(seen.length ? afterFrame : null).then(function () { return drawInTurn(rest); });
    }
    return drawn.then(function () {
      var root = document.documentElement;
      if (root.dataset.chartsDrawn === "1") return;
      root.dataset.chartsDrawn = "1";
      if (window.performance && performance.mark) performance.mark("charts-drawn");
    });
  }
  // A legend entry (partials/chart_legend.html) hides or shows the traces and shapes it names,
  // as Plotly's own legend did: aria-pressed says whether they are shown.
  function numbers(text) {
    return (text || "").split(" ").filter(Boolean).map(Number);
  }
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("button.legend-entry");
    if (!button) return;
    var list = button.closest("[data-legend-for]");
    var chart = list && document.getElementById(list.dataset.legendFor);
    if (!chart || chart.dataset.rendered !== "1" || !window.Plotly) return;
    var shown = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", shown ? "true" : "false");
    var traces = numbers(button.dataset.traces);
    if (traces.length) window.Plotly.restyle(chart, { visible: shown ? true : "legendonly" }, traces);
    var shapes = {};
    numbers(button.dataset.shapes).forEach(function (i) { shapes["shapes[" + i + "].visible"] = shown; });
    if (Object.keys(shapes).length) window.Plotly.relayout(chart, shapes);
  });

  // A table wider than the screen scrolls inside its wrapper; keyboard users scroll it too
  // once it can take focus (WCAG 2.1.1). Only wrappers that do scroll become tab stops.
  function scrollableTables() {
    document.querySelectorAll(".table-wrap, .caseload-table-wrap").forEach(function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        if (wrap.hasAttribute("tabindex")) return;
        var table = wrap.querySelector("table");
        var section = wrap.closest("section");
        var heading = (section && section.querySelector("h2, h3")) || document.querySelector("h1");
        var caption = (table && table.caption && table.caption.textContent.trim()) ||
          (heading && heading.textContent.trim());
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", (caption || "Table") + " (scrolls sideways)");
      } else if (wrap.getAttribute("role") === "region") {
        ["tabindex", "role", "aria-label"].forEach(function (a) { wrap.removeAttribute(a); });
      }
    });
  }
  var resizeTimer = 0;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(scrollableTables, 150);
  });

  // The client page preloads plotly.js without running it (<link rel="preload" data-plotly>):
  // run here, after DOMContentLoaded, its 1 MB of code no longer holds up the page's words,
  // forms and links. Resolves once it has run (or failed to load: then no chart is drawn and
  // each chart's summary sentence still says what it shows).
  function loadPlotly() {
    var link = document.querySelector("link[rel='preload'][data-plotly]");
    if (window.Plotly || !link) return Promise.resolve();
    return new Promise(function (resolve) {
      var script = document.createElement("script");
      script.src = link.href;
      script.onload = script.onerror = function () { resolve(); };
      document.head.appendChild(script);
    });
  }

  window.PracticeDashboard = { drawCharts: drawCharts, plotlyConfig: PLOTLY_CONFIG };
  // The charts are drawn in a task of their own after the next frame: the page's words and
  // figures paint first, and DOMContentLoaded does not wait for the drawing.
  function drawSoon() {
    afterFrame().then(drawCharts);
  }
  function ready() {
    scrollableTables();
    loadPlotly().then(drawSoon);
  }
  // Deferred (every page loads it so), this runs before DOMContentLoaded, while the document
  // already reads "interactive".
  var script = document.currentScript;
  if (document.readyState === "loading" || (script && script.defer && document.readyState === "interactive")) {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
