"use strict";
// The prefix tree of prefixes.html, from the columns ipam/page.py embeds (see its docstring).
// Database text is only ever inserted with textContent, never parsed as markup.
(function () {
  const data = JSON.parse(document.getElementById("ipam-data").textContent);
  const lengths = data.l, ups = data.p, offsets = data.a, idColumn = data.i;
  const count = lengths.length, ipv4Count = data.ipv4;
  const BATCH = 500; // children put in the DOM at a time; "Show more" or Down adds the next
  const FREE_SHOWN = 1000;

  // -- Derived columns: parent, depth, subtree end, address; children and used space (IPv4).
  const parent = new Int32Array(count);
  const depth = new Uint8Array(count);
  const subtreeEnd = new Int32Array(count);
  const childCount = new Int32Array(count);
  const address4 = new Float64Array(ipv4Count); // Numbers, no bitwise operators (2^31)
  const used4 = new Float64Array(ipv4Count);
  const address6 = new Array(count - ipv4Count); // BigInt, made from the hex once
  for (let node = 0; node < count; node++) {
    const up = ups[node];
    const above = up ? node - up : -1;
    parent[node] = above;
    subtreeEnd[node] = node + 1;
    if (above >= 0) {
      depth[node] = depth[above] + 1;
      childCount[above]++;
    }
    if (node < ipv4Count) {
      address4[node] = (above >= 0 ? address4[above] : 0) + offsets[node];
      if (above >= 0) used4[above] += 2 ** (32 - lengths[node]);
    } else {
      const base = above >= 0 ? address6[above - ipv4Count] : 0n;
      address6[node - ipv4Count] = base + BigInt("0x" + offsets[node]);
    }
  }
  for (let node = count - 1; node >= 0; node--) {
    const above = parent[node];
    if (above >= 0 && subtreeEnd[node] > subtreeEnd[above]) subtreeEnd[above] = subtreeEnd[node];
  }

  const isIPv4 = (node) => node < ipv4Count;
  const width = (node) => (isIPv4(node) ? 32 : 128);
  const bigAddress = (node) => (isIPv4(node) ? BigInt(address4[node]) : address6[node - ipv4Count]);
  const bigSize = (node) => 1n << BigInt(width(node) - lengths[node]);

  function* childrenOf(node) { // node -1: the roots
    const stop = node < 0 ? count : subtreeEnd[node];
    for (let child = node + 1; child < stop; child = subtreeEnd[child]) yield child;
  }

  function usedAddresses(node) { // the children's addresses, summed, as a BigInt
    if (isIPv4(node)) return BigInt(used4[node]);
    let used = 0n;
    for (const child of childrenOf(node)) used += bigSize(child);
    return used;
  }

  // -- Text: prefixes as Python's ipaddress writes them, percentages as `ipam tree` does.
  function ipv4Text(value) { // value: a Number
    const octets = [];
    for (let shift = 3; shift >= 0; shift--) octets.push(Math.floor(value / 256 ** shift) % 256);
    return octets.join(".");
  }

  function ipv6Text(value) { // value: a BigInt; RFC 5952, as ipaddress and inet_ntop write it
    if (data.dotted_mapped && value >> 32n === 0xffffn) {
      return "::ffff:" + ipv4Text(Number(value & 0xffffffffn));
    }
    const groups = [];
    for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
    let bestStart = -1, bestLength = 1, start = -1;
    for (let index = 0; index <= 8; index++) {
      if (index < 8 && groups[index] === 0) {
        if (start < 0) start = index;
      } else if (start >= 0) {
        if (index - start > bestLength) { bestStart = start; bestLength = index - start; }
        start = -1;
      }
    }
    const hex = groups.map((group) => group.toString(16));
    if (bestStart < 0) return hex.join(":");
    const head = hex.slice(0, bestStart).join(":");
    const tail = hex.slice(bestStart + bestLength).join(":");
    return head + "::" + tail;
  }

  function blockText(value, length, bits) { // value: a BigInt
    return (bits === 32 ? ipv4Text(Number(value)) : ipv6Text(value)) + "/" + length;
  }

  function prefixText(node) {
    return blockText(bigAddress(node), lengths[node], width(node));
  }

  function percent(utilization) { // Python's f"{x:.1f}", which rounds half to even
    if (!utilization) return "0%";
    const hundred = utilization * 100;
    let text = hundred.toFixed(1); // rounds exact ties up: only k.25 differs (k.75 -> k.8 both)
    const quarters = hundred * 4;
    if (Number.isInteger(quarters) && quarters % 4 === 1) text = (Math.floor(hundred * 10) / 10).toFixed(1);
    if (text.endsWith(".0")) text = text.slice(0, -2);
    if (text === "0") return "<0.1%";
    if (text === "100" && utilization < 1) return ">99.9%";
    return text + "%";
  }

  function utilizationOf(node) {
    const used = usedAddresses(node);
    return used ? Number(used) / Number(bigSize(node)) : 0;
  }

  const idsOf = (node) => (typeof idColumn[node] === "number" ? [idColumn[node]] : idColumn[node]);

  function idsText(node) {
    const ids = idsOf(node).map((id) => (id === null ? "None" : String(id)));
    return (ids.length > 1 ? "ids " : "id ") + ids.join(",");
  }

  const childrenText = (node) => childCount[node] + (childCount[node] === 1 ? " child" : " children");
  const grouped = (value) => value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const short = (value) => (value < 10n ** 15n ? grouped(value) : Number(value).toPrecision(3)); // a row's width

  // -- Free blocks: the node minus its children, as maximal CIDR blocks in address order.
  function* freeBlocks(node) {
    const bits = BigInt(width(node));
    const start = bigAddress(node), stop = start + bigSize(node);
    let cursor = start;
    function* split(low, high) {
      while (low < high) {
        let size = low === 0n ? 1n << bits : low & -low; // the largest block aligned at low
        while (low + size > high) size >>= 1n;
        let length = bits;
        for (let rest = size; rest > 1n; rest >>= 1n) length--;
        yield [low, Number(length), size];
        low += size;
      }
    }
    for (const child of childrenOf(node)) {
      const childStart = bigAddress(child);
      if (childStart > cursor) yield* split(cursor, childStart);
      cursor = childStart + bigSize(child);
    }
    if (cursor < stop) yield* split(cursor, stop);
  }

  // -- The DOM: a WAI-ARIA tree; only opened nodes' children are in it.
  const tree = document.getElementById("tree");
  const element = (tag, className, text) => {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
  };
  const itemOf = (node) => document.getElementById("n" + node);
  const nodeOf = (item) => Number(item.id.slice(1));

  function makeItem(node) {
    const item = element("li");
    item.id = "n" + node;
    item.setAttribute("role", "treeitem");
    item.setAttribute("aria-level", String(depth[node] + 1));
    item.setAttribute("aria-selected", "false");
    item.tabIndex = -1;
    const row = element("div", "row");
    const prefix = element("span", "prefix");
    const toggle = element("span", "toggle", childCount[node] ? "\u25b8" : "");
    toggle.setAttribute("aria-hidden", "true");
    prefix.append(toggle, element("span", "text", prefixText(node)));
    row.style.paddingLeft = depth[node] * 1.2 + 0.3 + "rem";
    const utilization = utilizationOf(node);
    const bar = element("span", "bar");
    const filled = element("span");
    filled.style.width = Math.min(100, utilization * 100) + "%";
    bar.append(filled);
    const use = element("span", "use");
    use.append(bar, element("span", "percent", percent(utilization)));
    const free = bigSize(node) - usedAddresses(node);
    const ids = element("span", "ids", idsText(node));
    ids.title = ids.textContent; // all of them, where the column cuts them short
    row.append(
      prefix,
      ids,
      element("span", "count", childrenText(node)),
      use,
      element("span", "free", short(free) + " free"),
    );
    item.append(row);
    if (childCount[node]) item.setAttribute("aria-expanded", "false");
    return item;
  }

  // A group's state: the next child to add (or -1 when all are in).
  const nextChild = new Map(); // group element -> node

  function fillGroup(group, owner, untilNode) { // add batches until untilNode (or one batch) is in
    let next = nextChild.get(group);
    const stop = owner < 0 ? count : subtreeEnd[owner];
    const more = group.lastElementChild && group.lastElementChild.classList.contains("more-item")
      ? group.lastElementChild : null;
    if (more) more.remove();
    const fragment = document.createDocumentFragment();
    let added = 0;
    while (next >= 0 && next < stop && (added < BATCH || (untilNode !== undefined && next <= untilNode))) {
      fragment.append(makeItem(next));
      next = subtreeEnd[next];
      added++;
    }
    if (next >= stop) next = -1;
    nextChild.set(group, next);
    group.append(fragment);
    if (next >= 0) {
      const holder = element("li", "more-item");
      holder.setAttribute("role", "none");
      const rest = countFrom(next, stop);
      const button = element("button", "more", "Show " + Math.min(BATCH, rest) + " more of " + rest);
      button.type = "button";
      button.tabIndex = -1;
      button.addEventListener("click", () => fillGroup(group, owner));
      holder.append(button);
      group.append(holder);
    }
  }

  function countFrom(child, stop) {
    let total = 0;
    for (; child < stop; child = subtreeEnd[child]) total++;
    return total;
  }

  function groupOf(item) { return item.querySelector(":scope > ul"); }

  function expand(item) {
    const node = nodeOf(item);
    if (!childCount[node] || item.getAttribute("aria-expanded") === "true") return;
    const group = element("ul");
    group.setAttribute("role", "group");
    nextChild.set(group, node + 1);
    item.append(group);
    fillGroup(group, node);
    item.setAttribute("aria-expanded", "true");
    item.querySelector(".toggle").textContent = "\u25be";
  }

  function collapse(item) {
    const group = groupOf(item);
    if (group) group.remove(); // closed: its subtree leaves the DOM
    item.setAttribute("aria-expanded", "false");
    item.querySelector(".toggle").textContent = "\u25b8";
  }

  const expanded = (item) => item.getAttribute("aria-expanded") === "true";

  // -- Moving and selecting, per the APG tree pattern; selection follows focus.
  let selected = null;

  function select(item, focus = true) {
    if (selected && selected !== item) {
      selected.setAttribute("aria-selected", "false");
      selected.tabIndex = -1;
    }
    selected = item;
    item.setAttribute("aria-selected", "true");
    item.tabIndex = 0;
    if (focus) item.focus({ preventScroll: true });
    item.scrollIntoView({ block: "nearest" });
    showDetails(nodeOf(item));
  }

  const treeitemsOf = (group) => group.querySelectorAll(":scope > [role=treeitem]");
  const parentItem = (item) => item.parentElement.closest("[role=treeitem]");

  function nextSiblingItem(item) {
    const sibling = item.nextElementSibling;
    if (sibling && sibling.getAttribute("role") === "treeitem") return sibling;
    const group = item.parentElement;
    if (nextChild.get(group) >= 0) { // more children not in the DOM yet: add them
      const owner = group === tree ? -1 : nodeOf(parentItem(item));
      fillGroup(group, owner);
      return item.nextElementSibling;
    }
    return null;
  }

  function nextVisible(item) {
    if (expanded(item)) return treeitemsOf(groupOf(item))[0];
    for (let current = item; current; current = parentItem(current)) {
      const sibling = nextSiblingItem(current);
      if (sibling) return sibling;
    }
    return null;
  }

  function lastVisible(item) {
    while (expanded(item)) {
      const group = groupOf(item);
      while (nextChild.get(group) >= 0) fillGroup(group, nodeOf(item), subtreeEnd[nodeOf(item)]);
      const items = treeitemsOf(group);
      item = items[items.length - 1];
    }
    return item;
  }

  function previousVisible(item) {
    const sibling = item.previousElementSibling;
    if (sibling) return lastVisible(sibling);
    return parentItem(item);
  }

  tree.addEventListener("keydown", (event) => {
    const item = event.target.closest("[role=treeitem]");
    if (!item || event.altKey || event.ctrlKey || event.metaKey) return;
    let target = null;
    switch (event.key) {
      case "ArrowDown": target = nextVisible(item); break;
      case "ArrowUp": target = previousVisible(item); break;
      case "ArrowRight":
        if (childCount[nodeOf(item)]) {
          if (expanded(item)) target = treeitemsOf(groupOf(item))[0];
          else expand(item);
        }
        break;
      case "ArrowLeft":
        if (expanded(item)) collapse(item);
        else target = parentItem(item);
        break;
      case "Home": target = treeitemsOf(tree)[0]; break;
      case "End": {
        while (nextChild.get(tree) >= 0) fillGroup(tree, -1, count);
        const roots = treeitemsOf(tree);
        target = lastVisible(roots[roots.length - 1]);
        break;
      }
      case "Enter":
      case " ":
        if (expanded(item)) collapse(item); else expand(item);
        break;
      default:
        return;
    }
    event.preventDefault();
    if (target) select(target);
  });

  tree.addEventListener("click", (event) => {
    const item = event.target.closest("[role=treeitem]");
    if (!item || event.target.closest("button")) return;
    if (event.target.closest(".row") !== item.firstElementChild) return;
    if (expanded(item)) collapse(item); else expand(item);
    select(item);
  });

  // -- The selected node's details and, on demand, its free blocks.
  const details = document.getElementById("details");
  const freeList = document.getElementById("free-blocks");
  const freeMore = document.getElementById("free-more");
  let detailsNode = -1;

  function showDetails(node) {
    detailsNode = node;
    details.hidden = false;
    document.getElementById("details-title").textContent = prefixText(node);
    const size = bigSize(node), used = usedAddresses(node);
    const above = parent[node];
    document.getElementById("details-text").replaceChildren( // stored ids isolated (bidi)
      element("bdi", "", idsText(node)), " \u00b7 depth " + depth[node] + " \u00b7 parent " +
      (above < 0 ? "none" : prefixText(above)) + " \u00b7 " + childrenText(node) + " \u00b7 " +
      grouped(size) + " addresses, " + grouped(size - used) + " free (" +
      percent(utilizationOf(node)) + " used)");
    freeList.replaceChildren();
    freeMore.textContent = "";
  }

  document.getElementById("free-button").addEventListener("click", () => {
    if (detailsNode < 0) return;
    const rows = document.createDocumentFragment();
    let blocks = 0;
    const bits = width(detailsNode);
    for (const [low, length, size] of freeBlocks(detailsNode)) {
      if (blocks < FREE_SHOWN) {
        const row = element("li", "", blockText(low, length, bits));
        row.append(element("span", "size", grouped(size)));
        row.dataset.prefix = blockText(low, length, bits);
        rows.append(row);
      }
      blocks++;
    }
    freeList.replaceChildren(rows);
    freeMore.textContent = blocks === 0 ? "No free space: the children cover it all."
      : blocks + (blocks === 1 ? " free block" : " free blocks") +
        (blocks > FREE_SHOWN ? ", the first " + FREE_SHOWN + " shown" : "");
  });

  // -- Find's input, read exactly as the command line reads it (ipam/networks.py, network_key):
  // ipaddress.ip_network(text.strip(), strict=False), a zone id refused. Every step below is one
  // of ipaddress's, in its order, so that what one accepts the other does, as the same network.
  const PYTHON_SPACE = "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
  const PYTHON_STRIP = new RegExp("^[" + PYTHON_SPACE + "]+|[" + PYTHON_SPACE + "]+$", "g");
  const strip = (text) => text.replace(PYTHON_STRIP, ""); // str.strip(): not String.trim's set

  function parseIPv4(text) { // _BaseV4._ip_int_from_string: a BigInt, or null
    const octets = text.split(".");
    if (octets.length !== 4) return null;
    let value = 0n;
    for (const octet of octets) { // ASCII digits, at most 3, no leading zero, at most 255
      if (!/^[0-9]{1,3}$/.test(octet) || (octet.length > 1 && octet[0] === "0")) return null;
      if (Number(octet) > 255) return null;
      value = value * 256n + BigInt(octet);
    }
    return value;
  }

  function parseIPv6(text) { // _BaseV6._ip_int_from_string: a BigInt, or null
    const parts = text.split(":");
    if (parts.length < 3) return null;
    if (parts[parts.length - 1].includes(".")) { // a dotted IPv4 tail: two hextets
      const tail = parseIPv4(parts.pop());
      if (tail === null) return null;
      parts.push((tail >> 16n).toString(16), (tail & 0xffffn).toString(16));
    }
    if (parts.length > 9) return null;
    let skip = -1; // the "::": an empty part that is neither end
    for (let index = 1; index < parts.length - 1; index++) {
      if (parts[index]) continue;
      if (skip >= 0) return null;
      skip = index;
    }
    let high = parts.length, low = 0; // parts taken before and after the "::"
    if (skip >= 0) {
      high = skip;
      low = parts.length - skip - 1;
      if (!parts[0] && --high) return null; // a leading ":" only as part of "::"
      if (!parts[parts.length - 1] && --low) return null; // a trailing one likewise
      if (high + low > 7) return null; // "::" stands for one hextet at least
    } else if (parts.length !== 8) return null;
    let value = 0n;
    const take = (part) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return false;
      value = (value << 16n) | BigInt(parseInt(part, 16));
      return true;
    };
    for (let index = 0; index < high; index++) if (!take(parts[index])) return null;
    value <<= 16n * BigInt(8 - high - low);
    for (let index = parts.length - low; index < parts.length; index++) if (!take(parts[index])) return null;
    return value;
  }

  function maskLength(mask, bits) { // the length of a /1*0*/ netmask, or -1
    const all = (1n << BigInt(bits)) - 1n;
    for (let length = 0; length <= bits; length++) {
      if (mask === (all ^ ((1n << BigInt(bits - length)) - 1n))) return length;
    }
    return -1;
  }

  function prefixLength(text, bits) { // _make_netmask: digits, or (IPv4) a netmask or hostmask
    if (text === undefined) return bits;
    if (/^[0-9]+$/.test(text)) return Number(text) <= bits ? Number(text) : -1; // "024" too
    const mask = bits === 32 ? parseIPv4(text) : null;
    if (mask === null) return -1;
    const length = maskLength(mask, 32); // all ones and all zeros read as netmasks
    return length >= 0 ? length : maskLength(mask ^ 0xffffffffn, 32);
  }

  function parseQuery(input) { // {bits, value, length}, host bits cleared, or a reason
    const text = strip(input);
    if (!text) return "empty";
    const parts = text.split("/");
    if (parts.length > 2) return "only one / permitted";
    if (text.includes("%")) return "a zone id names a link of one host, not a network";
    for (const [bits, parse] of [[32, parseIPv4], [128, parseIPv6]]) { // ip_network's order
      const value = parse(parts[0]);
      if (value === null) continue;
      const length = prefixLength(parts[1], bits);
      if (length < 0) return "not a " + (bits === 32 ? "prefix length, netmask or hostmask" : "prefix length") + ": " + parts[1];
      const size = 1n << BigInt(bits - length);
      return { bits, value: value - (value % size), length };
    }
    return "not an IPv4 or IPv6 address: " + parts[0];
  }

  // -- Find: the closest node containing an address or network.
  function closestNode(query) { // the deepest node containing the query, or -1
    const low = query.bits === 32 ? 0 : ipv4Count, high = query.bits === 32 ? ipv4Count : count;
    const before = (node) => { // node's (address, length) <= the query's
      const start = bigAddress(node);
      return start < query.value || (start === query.value && lengths[node] <= query.length);
    };
    let lo = low, hi = high; // the last node in [low, high) that sorts no later than the query
    while (lo < hi) {
      const middle = Math.floor((lo + hi) / 2);
      if (before(middle)) lo = middle + 1; else hi = middle;
    }
    let node = lo - 1;
    while (node >= low) {
      if (lengths[node] <= query.length && query.value < bigAddress(node) + bigSize(node)) return node;
      node = parent[node];
    }
    return -1;
  }

  function reveal(node) { // open its ancestors, add it to the DOM, select it, scroll to it
    const chain = [];
    for (let above = parent[node]; above >= 0; above = parent[above]) chain.unshift(above);
    let group = tree;
    let owner = -1;
    for (const step of [...chain, node]) {
      if (!itemOf(step)) fillGroup(group, owner, step);
      const item = itemOf(step);
      if (step === node) break;
      expand(item);
      group = groupOf(item);
      owner = step;
    }
    const item = itemOf(node);
    select(item);
    item.scrollIntoView({ block: "center" });
    return item;
  }

  const found = document.getElementById("found");
  document.getElementById("find").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = strip(document.getElementById("query").value);
    found.classList.remove("missing");
    if (!text) { found.textContent = ""; return; }
    const query = parseQuery(text);
    if (typeof query === "string") {
      found.textContent = text + ": " + query;
      found.classList.add("missing");
      return;
    }
    const shown = text.includes("/") ? blockText(query.value, query.length, query.bits)
      : query.bits === 32 ? ipv4Text(Number(query.value)) : ipv6Text(query.value);
    const node = closestNode(query);
    if (node < 0) {
      found.textContent = "No network of the table contains " + shown + ".";
      found.classList.add("missing");
      return;
    }
    reveal(node);
    const name = prefixText(node);
    found.textContent = name === shown || name === blockText(query.value, query.length, query.bits)
      ? name + " is in the table." : shown + " is in " + name + ".";
  });

  // -- Header and invalid rows.
  const summary = document.getElementById("summary");
  for (const [term, value] of [
    ["database", data.database], ["run", data.time], ["rows", grouped(data.rows)],
    ["valid", grouped(data.valid)], ["invalid", grouped(data.invalid)],
    ["networks", grouped(data.networks)],
  ]) {
    const pair = element("div");
    pair.append(element("dt", "", term), element("dd", "", value));
    summary.append(pair);
  }
  if (data.invalid_rows.length) {
    const body = document.querySelector("#invalid tbody");
    const rows = document.createDocumentFragment();
    for (const [id, value, reason] of data.invalid_rows) {
      const row = element("tr");
      row.append(element("td", "", String(id)), element("td", "", JSON.stringify(value)), element("td", "", reason));
      rows.append(row);
    }
    body.append(rows);
    document.getElementById("invalid-section").hidden = false;
  }

  nextChild.set(tree, count ? 0 : -1);
  fillGroup(tree, -1);
  const first = treeitemsOf(tree)[0];
  if (first) first.tabIndex = 0;
  document.documentElement.dataset.readyMs = String(Math.round(performance.now())); // the bench
  document.documentElement.dataset.ready = "true";
})();
