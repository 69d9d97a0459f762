// Copy buttons of the settings page. Without this script the buttons stay hidden and the page
// still shows every value; with it, a click copies one value and says so in words that the page
// carries (data-done / data-failed on #copy-status), so this file holds no text to translate.
"use strict";

(() => {
  const status = document.getElementById("copy-status");
  const buttons = document.querySelectorAll("button.copy[data-copy]");
  const timers = new WeakMap();

  // Clipboard API where the page is a secure context; else the older selection-and-copy way.
  async function copyText(element) {
    const text = element.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch {
        // Permission refused: fall through to the selection way.
      }
    }
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }

  function show(button, state) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.dataset.state = state;
    button.textContent = status.dataset[state === "copied" ? "done" : "failed"];
    status.textContent = button.textContent;
    clearTimeout(timers.get(button));
    timers.set(
      button,
      setTimeout(() => {
        button.textContent = label;
        delete button.dataset.state;
      }, 2500),
    );
  }

  if (!status) {
    return;
  }
  for (const button of buttons) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) {
      continue;
    }
    button.hidden = false;
    button.addEventListener("click", async () => {
      show(button, (await copyText(source)) ? "copied" : "failed");
    });
  }
})();
