/* pytest-imagesize HTML report: zoomable treemaps of each image's final filesystem.
 * Data comes from the JSON document embedded in the page; every name and path is put in the page
 * with textContent or setAttribute, never parsed as markup. Layout: d3-hierarchy's treemap. */
(function () {
  "use strict";

  var MAX_DEPTH = 3; // levels drawn below the zoomed directory
  var HEADER = 17; // px kept for a directory's title bar
  var UNITS = [
    ["YB", 1e24], ["ZB", 1e21], ["EB", 1e18], ["PB", 1e15], ["TB", 1e12], ["GB", 1e9], ["MB", 1e6], ["KB", 1e3]
  ];

  /* Two decimals, trailing zeros dropped, halves to even as in Python's "%.2f". */
  function twoDecimals(x) {
    var eighths = x * 8;
    var text;
    if (Number.isInteger(eighths) && eighths % 2 !== 0 && Number.isInteger(x * 200) && (x * 200) % 2 !== 0) {
      var low = Math.floor(x * 100);
      text = ((low % 2 === 0 ? low : low + 1) / 100).toFixed(2);
    } else {
      text = x.toFixed(2);
    }
    return text.replace(/0+$/, "").replace(/\.$/, "");
  }

  /* Same text as pytest_imagesize.sizes.format_size: decimal units, "B" for bytes. */
  function formatSize(n) {
    if (n === null || n === undefined) return "-";
    if (n < 0) return "-" + formatSize(-n);
    for (var i = 0; i < UNITS.length; i++) {
      if (n >= UNITS[i][1]) return twoDecimals(n / UNITS[i][1]) + " " + UNITS[i][0];
    }
    return String(n) + " B";
  }
  window.imagesizeFormatSize = formatSize;

  var dataElement = document.getElementById("imagesize-data");
  var documentData = JSON.parse(dataElement.textContent);
  var paletteSize = Number(document.body.getAttribute("data-palette")) || 1;

  function colourClass(layer) {
    return layer === null || layer === undefined ? "cx" : "c" + (layer % paletteSize);
  }

  function isGo(data) {
    return data.kind === "go-module" || data.kind === "go-package" || data.kind === "go-other";
  }

  /* A directory: opened ones have children and no kind; folded ones have kind "dir". */
  function isDir(data) {
    return data.kind === "dir" || (data.kind === undefined && data.children !== undefined);
  }

  // A name as the page shows it: "label" carries it with control and bidi characters escaped.
  function shownName(data) {
    return data.label !== undefined ? data.label : data.name;
  }

  function childPath(parentPath, parentData, data) {
    var name = shownName(data);
    if (data.kind === "more") return parentPath + (parentPath.endsWith("/") ? "" : "/") + "(" + name + ")";
    if (!isDir(parentData)) return parentPath + " \u203a " + name; // inside a Go binary
    return parentPath + (parentPath.endsWith("/") ? "" : "/") + name;
  }

  function Treemap(section, image) {
    this.section = section;
    this.image = image;
    this.box = section.querySelector(".treemap, .pkgmap"); // the files' map comes first
    this.crumbs = section.querySelector(".crumbs");
    this.up = section.querySelector(".tm-up");
    this.layers = image.layers || [];
    this.stack = [{ data: image.treemap, path: "/" }];
    this.nodes = [];
    var self = this;
    this.box.addEventListener("click", function (event) { self.onClick(event); });
    this.up.addEventListener("click", function () {
      if (self.stack.length > 1) { self.stack.pop(); self.draw(); }
    });
    section.querySelectorAll("[data-zoom-path]").forEach(function (button) {
      button.addEventListener("click", function () {
        self.zoomToPath(button.getAttribute("data-zoom-path"));
        self.box.scrollIntoView({ block: "center" });
      });
    });
  }

  Treemap.prototype.current = function () {
    return this.stack[this.stack.length - 1];
  };

  Treemap.prototype.describe = function (data, path) {
    var text = path + "\n" + formatSize(data.size) + " (" + data.size + " B)";
    if (data.kind === "more" || (data.kind === "dir" && data.count !== undefined)) {
      text += "\n" + (data.count === undefined ? "" : data.count + " files, ") + "folded to keep the report small";
    }
    if (data.layer !== null && data.layer !== undefined) {
      var layer = this.layers[data.layer];
      var what = layer && layer.created_by ? layer.created_by : "";
      if (what.length > 160) what = what.slice(0, 157) + "...";
      text += "\nlayer " + data.layer + (data.children ? " (most bytes)" : "") + (what ? ": " + what : "");
    }
    return text;
  };

  Treemap.prototype.draw = function () {
    var box = this.box;
    var top = this.current();
    var width = box.clientWidth, height = box.clientHeight;
    box.textContent = "";
    this.nodes = [];
    this.drawCrumbs();
    this.up.disabled = this.stack.length < 2;
    if (!top.data.children || top.data.children.length === 0 || !(top.data.size > 0)) {
      var note = document.createElement("div");
      note.className = "note";
      note.textContent = top.data.size > 0 ? "nothing to show" : "empty: 0 B";
      box.appendChild(note);
      return;
    }
    var root = d3.hierarchy(top.data, function (d) { return d.children; })
      .sum(function (d) { return d.children && d.children.length ? 0 : Math.max(d.size, 0); })
      .sort(function (a, b) { return b.value - a.value; });
    d3.treemap()
      .tile(d3.treemapSquarify)
      .size([width, height])
      .round(true)
      .paddingInner(function (n) { return n.depth < MAX_DEPTH ? 2 : 0; })
      .paddingOuter(function (n) { return n.depth > 0 && n.depth < MAX_DEPTH ? 2 : 0; })
      .paddingTop(function (n) {
        if (n.depth === 0) return 0;
        if (n.depth >= MAX_DEPTH) return 0;
        return n.y1 - n.y0 > HEADER + 8 && n.x1 - n.x0 > 24 ? HEADER : 2;
      })(root);

    var paths = new Map();
    paths.set(root, top.path);
    var fragment = document.createDocumentFragment();
    var self = this;
    root.each(function (n) {
      if (n === root) return;
      var path = childPath(paths.get(n.parent), n.parent.data, n.data);
      paths.set(n, path);
      if (n.depth > MAX_DEPTH) return;
      var w = n.x1 - n.x0, h = n.y1 - n.y0;
      if (w < 2 || h < 2) return;
      var data = n.data;
      var hasChildren = !!(data.children && data.children.length);
      var framed = hasChildren && n.depth < MAX_DEPTH && h > HEADER + 8 && w > 24;
      var el = document.createElement("div");
      var classes = ["node", colourClass(data.layer)];
      if (framed) classes.push("frame");
      else if (hasChildren) classes.push("zoom");
      else if (data.kind === "more" || data.kind === "dir") classes.push("more");
      else classes.push("file");
      if (isGo(data) || data.kind === "go-binary") classes.push("go");
      el.className = classes.join(" ");
      el.style.left = n.x0 + "px";
      el.style.top = n.y0 + "px";
      el.style.width = w + "px";
      el.style.height = h + "px";
      el.setAttribute("data-i", String(self.nodes.length));
      el.setAttribute("data-path", path);
      el.setAttribute("data-bytes", String(data.size));
      if (hasChildren) el.setAttribute("data-dir", "1");
      el.title = self.describe(data, path);
      if (w > 26 && h > 12) {
        var label = document.createElement("span");
        label.textContent = shownName(data) + (isDir(data) ? "/" : "");
        el.appendChild(label);
        if ((framed && w > 110) || (!framed && h > 28 && w > 40)) {
          var size = document.createElement("span");
          size.className = "sz";
          size.textContent = formatSize(data.size);
          el.appendChild(size);
        }
      }
      self.nodes.push(n);
      fragment.appendChild(el);
    });
    box.appendChild(fragment);
  };

  Treemap.prototype.drawCrumbs = function () {
    var crumbs = this.crumbs;
    var self = this;
    crumbs.textContent = "";
    this.stack.forEach(function (entry, i) {
      var last = i === self.stack.length - 1;
      if (i > 1) {
        var sep = document.createElement("span");
        sep.className = "sep";
        sep.textContent = isDir(self.stack[i - 1].data) ? "/" : "\u203a";
        crumbs.appendChild(sep);
      }
      var item = document.createElement(last ? "span" : "button");
      item.className = last ? "here" : "crumb";
      item.textContent = i === 0 ? "/" : shownName(entry.data);
      if (!last) {
        item.type = "button";
        item.addEventListener("click", function () {
          self.stack = self.stack.slice(0, i + 1);
          self.draw();
        });
      }
      crumbs.appendChild(item);
    });
    var size = document.createElement("span");
    size.className = "size";
    size.textContent = formatSize(this.current().data.size);
    size.setAttribute("data-bytes", String(this.current().data.size));
    crumbs.appendChild(size);
    this.section.setAttribute("data-zoom", this.current().path);
  };

  Treemap.prototype.zoomTo = function (n) {
    var chain = [];
    for (var p = n; p && p.parent; p = p.parent) chain.unshift(p);
    var base = this.current().path;
    var path = base;
    var parentData = this.current().data;
    for (var i = 0; i < chain.length; i++) {
      path = childPath(path, parentData, chain[i].data);
      parentData = chain[i].data;
      this.stack.push({ data: chain[i].data, path: path });
    }
    this.draw();
  };

  Treemap.prototype.onClick = function (event) {
    var el = event.target.closest(".node");
    if (!el) return;
    var n = this.nodes[Number(el.getAttribute("data-i"))];
    if (!n) return;
    if (n.data.children && n.data.children.length) this.zoomTo(n);
    else if (n.parent && n.parent.parent) this.zoomTo(n.parent);
  };

  Treemap.prototype.zoomToPath = function (target) {
    this.stack = this.stack.slice(0, 1);
    var parts = target.split("/").filter(function (p) { return p !== ""; });
    var data = this.stack[0].data;
    var path = "/";
    for (var i = 0; i < parts.length; i++) {
      var next = null;
      for (var j = 0; data.children && j < data.children.length; j++) {
        if (shownName(data.children[j]) === parts[i] && data.children[j].kind !== "more") { next = data.children[j]; break; }
      }
      if (!next || !next.children || !next.children.length) break;
      path = childPath(path, data, next);
      this.stack.push({ data: next, path: path });
      data = next;
    }
    this.draw();
  };

  var maps = [];
  document.querySelectorAll("section.image[data-index]").forEach(function (section) {
    var image = documentData.images[Number(section.getAttribute("data-index"))];
    if (!image || !image.treemap || !section.querySelector(".treemap")) return;
    var map = new Treemap(section, image);
    maps.push(map);
    map.draw();
  });

  // each image's packages: a second treemap (ecosystems, then packages) in the same section
  document.querySelectorAll("section.image[data-index] .tm-packages").forEach(function (wrapper) {
    var section = wrapper.closest("section.image");
    var image = documentData.images[Number(section.getAttribute("data-index"))];
    if (!image || !image.package_treemap) return;
    var map = new Treemap(wrapper, { treemap: image.package_treemap, layers: image.layers });
    maps.push(map);
    map.draw();
  });

  var resizeTimer = 0;
  var lastWidth = window.innerWidth;
  window.addEventListener("resize", function () {
    if (window.innerWidth === lastWidth) return;
    lastWidth = window.innerWidth;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { maps.forEach(function (m) { m.draw(); }); }, 120);
  });

  window.imagesizeRendered = performance.now();
  document.documentElement.setAttribute("data-rendered", String(Math.round(window.imagesizeRendered)));
})();
