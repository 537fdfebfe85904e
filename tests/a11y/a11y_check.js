// The project's own accessibility checker (issue #15 item 8), evaluated in a page by the
// browser tests (tests/a11y/__init__.py). It returns a list of violations, each
// {rule, where, detail}; an empty list is a pass. Rules (WCAG 2.1 AA where they come from):
//   lang            <html> has no lang (3.1.1)
//   control-name    an input/select/textarea with no accessible name: a <label>, aria-label,
//                   aria-labelledby or title; a placeholder does not count (1.3.1, 4.1.2)
//   img-alt         an <img> without an alt attribute (alt="" marks decoration) (1.1.1)
//   svg-name        an <svg> not aria-hidden without aria-label / aria-labelledby / <title> (1.1.1)
//   button-name     a button, or input of type submit/button/reset, with no accessible name (4.1.2)
//   link-name       an <a href> with no accessible name (2.4.4)
//   duplicate-id    two elements with one id (4.1.1)
//   describedby     aria-describedby/-labelledby naming an id not in the page; a control marked
//                   aria-invalid="true" that no message describes (3.3.1)
//   th-scope        a <th> without scope (1.3.1)
//   skip-link       no link to the main content (a[href="#<id of main>"]) (2.4.1)
//   contrast        visible text whose colour against its computed background is below 4.5:1,
//                   or 3:1 for large text (≥ 24px, or ≥ 18.66px bold) (1.4.3)
(() => {
  const out = [];
  const where = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    else if (el.getAttribute("name")) s += `[name=${el.getAttribute("name")}]`;
    else if (el.className && typeof el.className === "string") s += "." + el.className.trim().split(/\s+/).join(".");
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return text ? `${s} «${text}»` : s;
  };
  const fail = (rule, el, detail) => out.push({ rule, where: el ? where(el) : "document", detail: detail || "" });
  const byIds = (value) => (value || "").split(/\s+/).filter(Boolean).map((id) => document.getElementById(id));
  const hidden = (el) => {
    for (let e = el; e; e = e.parentElement) {
      if (e.hidden || e.getAttribute("aria-hidden") === "true") return true;
      const cs = getComputedStyle(e);
      if (cs.display === "none" || cs.visibility === "hidden") return true;
    }
    return false;
  };
  // The text a node contributes to a name: its text, images' alt, children not aria-hidden.
  const textOf = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return node.textContent;
    if (node.nodeType !== Node.ELEMENT_NODE) return "";
    if (node.getAttribute("aria-hidden") === "true") return "";
    if (node.getAttribute("aria-label")) return node.getAttribute("aria-label");
    if (node.tagName === "IMG") return node.getAttribute("alt") || "";
    if (["SELECT", "TEXTAREA", "SCRIPT", "STYLE"].includes(node.tagName)) return "";
    if (node.tagName.toLowerCase() === "svg") {
      const t = node.querySelector("title");
      return t ? t.textContent : "";
    }
    return Array.from(node.childNodes).map(textOf).join("");
  };
  const labelledBy = (el) =>
    byIds(el.getAttribute("aria-labelledby")).filter(Boolean).map(textOf).join(" ").trim();
  const nameOf = (el, fromContent) => {
    const n = labelledBy(el) || (el.getAttribute("aria-label") || "").trim();
    if (n) return n;
    if (el.labels && el.labels.length) {
      const t = Array.from(el.labels).map(textOf).join(" ").trim();
      if (t) return t;
    }
    if (fromContent) {
      const t = textOf(el).trim();
      if (t) return t;
    }
    return (el.getAttribute("title") || "").trim();
  };

  // lang
  if (!(document.documentElement.getAttribute("lang") || "").trim()) fail("lang", null, "<html> has no lang");

  // duplicate ids
  const seen = new Map();
  for (const el of document.querySelectorAll("[id]")) {
    if (seen.has(el.id)) fail("duplicate-id", el, `id "${el.id}" also on ${where(seen.get(el.id))}`);
    else seen.set(el.id, el);
  }

  // references
  for (const attr of ["aria-describedby", "aria-labelledby"]) {
    for (const el of document.querySelectorAll(`[${attr}]`)) {
      for (const id of (el.getAttribute(attr) || "").split(/\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) fail("describedby", el, `${attr} names "${id}", not in the page`);
      }
    }
  }

  // form controls
  const buttonTypes = new Set(["submit", "button", "reset", "image"]);
  for (const el of document.querySelectorAll("input, select, textarea")) {
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (type === "hidden") continue;
    if (buttonTypes.has(type)) {
      const name = nameOf(el, false) || el.value || el.getAttribute("alt") || "";
      if (!name.trim()) fail("button-name", el, "input button without a name");
      continue;
    }
    if (!nameOf(el, false)) fail("control-name", el, "no <label>, aria-label, aria-labelledby or title");
    if (el.getAttribute("aria-invalid") === "true") {
      const described = byIds(el.getAttribute("aria-describedby")).filter((d) => d && textOf(d).trim());
      if (!described.length) fail("describedby", el, "aria-invalid without an error message tied by aria-describedby");
    }
  }

  // buttons, links, images, svg
  for (const el of document.querySelectorAll("button, [role=button]")) {
    if (!nameOf(el, true)) fail("button-name", el, "button without an accessible name");
  }
  for (const el of document.querySelectorAll("a[href]")) {
    if (hidden(el)) continue;
    if (!nameOf(el, true)) fail("link-name", el, "link without an accessible name");
  }
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt")) fail("img-alt", el, "img without alt");
  }
  for (const el of document.querySelectorAll("svg")) {
    if (el.getAttribute("aria-hidden") === "true" || el.closest("[aria-hidden=true]")) continue;
    const title = el.querySelector(":scope > title");
    if (!(el.getAttribute("aria-label") || labelledBy(el) || (title && title.textContent.trim())))
      fail("svg-name", el, "svg without aria-label, aria-labelledby or <title>");
  }

  // tables
  for (const el of document.querySelectorAll("th")) {
    if (!el.getAttribute("scope")) fail("th-scope", el, "th without scope");
  }

  // skip link
  const main = document.querySelector("main");
  if (!main || !main.id) fail("skip-link", main, "no <main> with an id to skip to");
  else if (!document.querySelector(`a[href="#${main.id}"]`)) fail("skip-link", main, `no link to #${main.id}`);

  // contrast
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(parseFloat);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const lum = (c) => {
    const ch = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  };
  const ratio = (a, b) => {
    const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };
  // The background behind an element: the backgrounds of it and its ancestors, blended from
  // the page's white up. null when an image or gradient is in the way (not computable).
  const backgroundOf = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.backgroundImage && cs.backgroundImage !== "none") return null;
      const c = parse(cs.backgroundColor);
      if (c && c.a > 0) {
        layers.push(c);
        if (c.a >= 1) break;
      }
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const c of layers.reverse()) bg = over(c, bg);
    return bg;
  };
  const opacityOf = (el) => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= parseFloat(getComputedStyle(e).opacity);
    return o;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const done = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || done.has(el) || !node.textContent.trim()) continue;
    done.add(el);
    if (["SCRIPT", "STYLE", "NOSCRIPT", "TITLE", "OPTION"].includes(el.tagName)) continue;
    if (el.closest("svg") && el.tagName.toLowerCase() !== "text") continue;
    if (hidden(el)) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width < 1 || rect.height < 1 || rect.right < 0 || rect.bottom < 0) continue;
    const cs = getComputedStyle(el);
    let bg;
    let fg;
    if (el.tagName.toLowerCase() === "text") {
      // SVG text: its fill against the chart's (HTML) background
      fg = parse(cs.fill);
      bg = backgroundOf(el.closest("svg").parentElement);
    } else {
      fg = parse(cs.color);
      bg = backgroundOf(el);
    }
    if (!fg || !bg) continue;
    fg = { ...fg, a: fg.a * opacityOf(el) };
    const r = ratio(over(fg, bg), bg);
    const size = parseFloat(cs.fontSize);
    const bold = parseInt(cs.fontWeight, 10) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    const need = large ? 3 : 4.5;
    if (r < need - 0.005) fail("contrast", el, `${r.toFixed(2)}:1 < ${need}:1 (${cs.color} on rgb(${Math.round(bg.r)}, ${Math.round(bg.g)}, ${Math.round(bg.b)}), ${size}px)`);
  }
  return out;
})()
