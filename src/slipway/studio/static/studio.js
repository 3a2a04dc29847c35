// Draws every element of class "chart" from the plotly figure in its data-figure attribute.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const element of document.querySelectorAll(".chart[data-figure]")) {
    const figure = JSON.parse(element.dataset.figure);
    Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false })
      .then(() => { element.dataset.rendered = "true"; });
  }
});
