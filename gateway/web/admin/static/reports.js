// The reports page's two charts, drawn with Chart.js (vendor/chart.umd.min.js) from the JSON block
// #report-data the server wrote: the console's CSP runs no inline script. No data, no charts.
(function () {
  "use strict";

  function draw() {
    var block = document.getElementById("report-data");
    if (!block || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(block.textContent);
    var Chart = window.Chart;
    Chart.defaults.animation = false; // figures, not a show: drawn at once (and screenshots see them)
    Chart.defaults.maintainAspectRatio = false;
    var colours = ["#1f5fa8", "#2e8b57", "#c77d12"];

    var funnel = document.getElementById("chart-funnel");
    if (funnel) {
      new Chart(funnel, {
        type: "bar",
        data: {
          labels: data.funnel.labels,
          datasets: [{ label: data.funnel.label, data: data.funnel.counts, backgroundColor: colours[0] }],
        },
        options: {
          indexAxis: "y",
          plugins: { legend: { display: false } },
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
        },
      });
    }

    var trend = document.getElementById("chart-trend");
    if (trend) {
      new Chart(trend, {
        type: "line",
        data: {
          labels: data.trend.labels,
          datasets: data.trend.series.map(function (series, index) {
            return {
              label: series.label,
              data: series.data,
              borderColor: colours[index % colours.length],
              backgroundColor: colours[index % colours.length],
              tension: 0, // straight lines: nothing happens between two days
            };
          }),
        },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
      });
    }
    document.body.setAttribute("data-charts", "drawn");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
