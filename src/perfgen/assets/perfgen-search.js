/*
 * perfgen: the search box of the services A to Z (services/index.html), and the "Find a
 * service" forms that lead to it (the home page).
 *
 * Progressive enhancement. Without JavaScript the search forms keep their `hidden` attribute and
 * the page is the full A to Z list. With it, this script shows the forms; a "Find a service"
 * form (`data-app-search-link`) simply opens the A to Z with the query (services/?q=...). On
 * the A to Z, the search form (`data-app-search`) filters the list as
 * the user types: a service matches when every word typed appears in its name, its department
 * or agency (`data-department`) or its keywords and category (`data-keywords`). Letters with no
 * match are hidden, in the list and in the letter navigation, and the number of matches is
 * announced in a polite live region ("2 services match 'passport'"). A query in the address
 * (services/?q=passport, from a bookmark or a search form elsewhere) is applied on load.
 *
 * Served from the site itself under `script-src 'self'`: no inline code, no eval, no network.
 */
(function () {
  "use strict";

  if (!("hidden" in document.documentElement) || !String.prototype.normalize || !window.URLSearchParams) {
    return;  /* a browser too old for this script keeps the page as it is without JavaScript */
  }
  Array.prototype.forEach.call(document.querySelectorAll("form[data-app-search-link]"), function (link) {
    link.hidden = false;
  });

  var form = document.querySelector("form[data-app-search]");
  if (!form) {
    return;
  }
  var input = form.querySelector("input");
  var status = document.getElementById(form.getAttribute("data-app-search"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("[data-app-search-group]"));
  var letters = {};
  Array.prototype.forEach.call(document.querySelectorAll("[data-app-search-letter]"), function (item) {
    letters[item.getAttribute("data-app-search-letter")] = item;
  });

  /* Lower case, without accents or apostrophes, single spaces: "Carer's" matches "carers". */
  function normalise(text) {
    return (text || "")
      .normalize("NFD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/['\u2018\u2019]/g, "")
      .replace(/\s+/g, " ")
      .trim();
  }

  var items = Array.prototype.map.call(document.querySelectorAll("[data-app-search-item]"), function (item) {
    var name = item.querySelector("a");
    return {
      element: item,
      text: normalise([
        name ? name.textContent : item.textContent,
        item.getAttribute("data-department"),
        item.getAttribute("data-keywords")
      ].join(" "))
    };
  });

  /* Counts as formatters.count writes them: grouped thousands. */
  function count(number) {
    return number.toLocaleString("en-GB");
  }

  function message(shown, query) {
    if (!query) {
      return "Showing all " + count(items.length) + (items.length === 1 ? " service" : " services");
    }
    if (shown === 0) {
      return "No services match '" + query + "'";
    }
    return count(shown) + (shown === 1 ? " service matches '" : " services match '") + query + "'";
  }

  var timer = null;
  var touched = false;

  function filter(announceNow) {
    var query = input.value.replace(/\s+/g, " ").trim();
    var words = normalise(query).split(" ").filter(Boolean);
    var shown = 0;
    items.forEach(function (item) {
      var match = words.every(function (word) {
        return item.text.indexOf(word) !== -1;
      });
      item.element.hidden = !match;
      shown += match ? 1 : 0;
    });
    groups.forEach(function (group) {
      var empty = !group.querySelector("[data-app-search-item]:not([hidden])");
      group.hidden = empty;
      var letter = letters[group.getAttribute("data-app-search-group")];
      if (letter) {
        letter.hidden = empty;
      }
    });
    if (!query && !touched) {
      return;
    }
    touched = true;
    /* Wait for a pause in typing, so a screen reader hears the result, not every keystroke. */
    window.clearTimeout(timer);
    var text = message(shown, query);
    timer = window.setTimeout(function () {
      status.textContent = text;
    }, announceNow ? 0 : 500);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    filter(true);
  });
  input.addEventListener("input", function () {
    filter(false);
  });

  var query = new URLSearchParams(window.location.search).get("q");
  form.hidden = false;
  if (query) {
    input.value = query;
    filter(true);
  }
})();
