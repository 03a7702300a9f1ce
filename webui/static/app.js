// Progressive enhancement only: every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".menu-toggle");
  const nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  // Menu groups are <details>: they work without this. With it, one group is open at a time,
  // Escape closes it (focus back on its name) and a click elsewhere closes it.
  const groups = Array.from(document.querySelectorAll("details[data-menu-group]"));
  const closeGroups = (except) => {
    groups.forEach((group) => {
      if (group !== except) group.open = false;
    });
  };
  groups.forEach((group) => {
    group.addEventListener("toggle", () => {
      if (!group.open) return;
      closeGroups(group);
      // A list that would run past the window's right edge opens leftwards instead.
      const list = group.querySelector("ul");
      list.classList.remove("flip");
      if (list.getBoundingClientRect().right > document.documentElement.clientWidth) {
        list.classList.add("flip");
      }
    });
    group.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && group.open) {
        group.open = false;
        group.querySelector("summary").focus();
      }
    });
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest("details[data-menu-group]")) closeGroups(null);
  });
  // "Back to the previous page" on error pages: only where the browser has one to go back to.
  document.querySelectorAll("[data-history-back]").forEach((button) => {
    if (window.history.length > 1) {
      button.hidden = false;
      button.addEventListener("click", () => window.history.back());
    }
  });
  // Forms that ask for confirmation carry data-confirm="question".
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});

// The CSRF token for fetch() calls made by page scripts.
window.applianceCsrfToken = () => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
};

// Copy buttons: <button data-copy="#field" data-copied="Copied"> copies the field's value
// (a candidate's link to hand over when no message could be sent).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  field.select();
  const done = () => {
    const label = button.textContent;
    button.textContent = button.dataset.copied || label;
    setTimeout(() => { button.textContent = label; }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, () => document.execCommand("copy") && done());
  } else if (document.execCommand("copy")) {
    done();
  }
});
