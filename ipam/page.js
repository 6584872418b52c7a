"use strict";
// The prefix tree of prefixes.html, from the columns ipam/page.py embeds (see its docstring).
// Database text is only ever inserted with textContent, never parsed as markup.
//
// The tree is a windowed list: the visible rows (the roots, and the entries of every open node,
// depth first) are numbered, but only those in the scroll container's view, a margin around
// them and the selected row are elements. Nothing costs more than the path from a root to a
// row and the open nodes along it: opening a node of 500,000 children adds one entry to a map.
(function () {
  const started = performance.now(); // the bench: the script's own time, apart from loading
  const data = JSON.parse(document.getElementById("ipam-data").textContent);
  const bytes = (base64) => (Uint8Array.fromBase64 ? Uint8Array.fromBase64(base64)
    : Uint8Array.from(atob(base64), (character) => character.charCodeAt(0)));
  const lengths = bytes(data.l), rises = bytes(data.u), offsets = data.a, idColumn = data.i;
  const count = lengths.length, ipv4Count = data.ipv4;
  const FREE_SHOWN = 1000;
  const MARGIN = 12; // rows kept as elements above and below the view
  const MAX_HEIGHT = 1e7; // px of scroll height at most; browsers cap an element's height
  const IDS_SHOWN = 100; // ids written into a row; its title and the details have them all

  // -- Derived columns: parent, depth, subtree end, IPv4 address; children and used space (IPv4).
  // Only what the first rows need is derived before drawing them: IPv6 addresses (BigInt) are
  // made when first asked, and a node's list of children when it is opened.
  const parent = new Int32Array(count);
  const depth = new Uint8Array(count);
  const subtreeEnd = new Int32Array(count);
  const childCount = new Int32Array(count);
  const childIndex = new Int32Array(count); // the node's place among its parent's children
  const address4 = new Float64Array(ipv4Count); // Numbers, no bitwise operators (2^31)
  const used4 = new Float64Array(ipv4Count);
  const address6 = new Array(count - ipv4Count); // BigInt, made on first use by address6Of
  const path = new Int32Array(129); // the ancestors of the node before, by depth (/0 to /128)
  let rootCount = 0;
  for (let node = 0; node < count; node++) {
    const level = (node ? depth[node - 1] : -1) + 1 - rises[node];
    const above = level ? path[level - 1] : -1;
    path[level] = node;
    parent[node] = above;
    subtreeEnd[node] = node + 1;
    depth[node] = level;
    if (above >= 0) {
      childIndex[node] = childCount[above]++;
    } else {
      childIndex[node] = rootCount++;
    }
    if (node < ipv4Count) {
      address4[node] = (above >= 0 ? address4[above] : 0) + offsets[node] * 2 ** (32 - lengths[node]);
      if (above >= 0) used4[above] += 2 ** (32 - lengths[node]);
    }
  }
  for (let node = count - 1; node >= 0; node--) {
    const above = parent[node];
    if (above >= 0 && subtreeEnd[node] > subtreeEnd[above]) subtreeEnd[above] = subtreeEnd[node];
  }
  const childrenCount = (node) => (node < 0 ? rootCount : childCount[node]);

  function childList(node) { // node -1: the roots; an open node's, for its k-th child in one step
    const list = new Int32Array(childrenCount(node));
    const stop = node < 0 ? count : subtreeEnd[node];
    for (let child = node + 1, k = 0; child < stop; child = subtreeEnd[child]) list[k++] = child;
    return list;
  }

  function address6Of(node) { // the parent's address plus the offset, in the node's own blocks
    let address = address6[node - ipv4Count];
    if (address === undefined) {
      const above = parent[node];
      address = (above >= 0 ? address6Of(above) : 0n) +
        (BigInt(offsets[node]) << BigInt(128 - lengths[node]));
      address6[node - ipv4Count] = address;
    }
    return address;
  }

  const isIPv4 = (node) => node < ipv4Count;
  const width = (node) => (isIPv4(node) ? 32 : 128);
  const bigAddress = (node) => (isIPv4(node) ? BigInt(address4[node]) : address6Of(node));
  const bigSize = (node) => 1n << BigInt(width(node) - lengths[node]);

  function* childrenOf(node) { // node -1: the roots
    const stop = node < 0 ? count : subtreeEnd[node];
    for (let child = node + 1; child < stop; child = subtreeEnd[child]) yield child;
  }

  const used6 = new Map(); // IPv6 node -> its children's addresses, summed once when first asked
  function usedAddresses(node) { // the children's addresses, summed, as a BigInt
    if (isIPv4(node)) return BigInt(used4[node]);
    let used = used6.get(node);
    if (used === undefined) {
      used = 0n;
      for (const child of childrenOf(node)) used += bigSize(child);
      used6.set(node, used);
    }
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
    return node < ipv4Count ? ipv4Text(address4[node]) + "/" + lengths[node]
      : blockText(bigAddress(node), lengths[node], 128);
  }

  function percent(node) { // from the exact BigInts, as ipam/view.py's percent: never via a float
    const used = usedAddresses(node), size = bigSize(node);
    if (!used || used === size) return used ? "100%" : "0%";
    let tenths = (used * 1000n) / size;
    const twice = 2n * ((used * 1000n) % size); // rounds half to even
    if (twice > size || (twice === size && tenths % 2n === 1n)) tenths++;
    if (tenths === 0n) return "<0.1%";
    if (tenths === 1000n) return ">99.9%";
    return (tenths / 10n).toString() + (tenths % 10n ? "." + (tenths % 10n) : "") + "%";
  }

  function utilizationOf(node) {
    const used = usedAddresses(node);
    return used ? Number(used) / Number(bigSize(node)) : 0;
  }

  const idsOf = (node) => (typeof idColumn[node] === "number" ? [idColumn[node]] : idColumn[node]);
  const idText = (id) => (id === null ? "None" : String(id));

  function idsText(node) {
    const ids = idsOf(node).map(idText);
    return (ids.length > 1 ? "ids " : "id ") + ids.join(",");
  }

  // "id 7" or "ids a,b": each stored id in a <bdi> of its own, so that no direction mark in one
  // reorders the text around it (the label, the commas, the other ids).
  function appendIds(target, node, most) {
    const ids = idsOf(node);
    target.append(ids.length > 1 ? "ids " : "id ");
    const shown = Math.min(ids.length, most);
    for (let index = 0; index < shown; index++) {
      if (index) target.append(",");
      target.append(element("bdi", "id", idText(ids[index])));
    }
    if (shown < ids.length) target.append(", \u2026 " + (ids.length - shown) + " more");
  }

  const childrenText = (node) => childCount[node] + (childCount[node] === 1 ? " child" : " children");
  const grouped = (value) => value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const short = (value) => (value < 10n ** 15n ? grouped(value) : Number(value).toPrecision(3)); // a row's width

  // -- Free blocks: the node minus its children, as maximal CIDR blocks in address order.
  // (From here to the end of run6, the page's tests run this code alone, on many gaps.)
  function* split(low, high, bits) { // BigInts: [low, high) as the largest aligned blocks
    while (low < high) {
      let size = low === 0n ? 1n << bits : low & -low; // the largest block aligned at low
      while (low + size > high) size >>= 1n;
      yield [low, Number(bits) - bitLength(size) + 1, size];
      low += size;
    }
  }

  const bitLength = (value) => (value ? value.toString(2).length : 0); // a BigInt's

  // The blocks of [low, high) rise, then fall: the gap splits at m, high with its bits below d
  // cleared, d being the highest bit where low and high - 1 differ; the blocks from low to m are
  // the 1 bits of m - low, lowest first, and from m to high those of high - m, highest first.
  // The k-th block, found by walking those bits: only the rows drawn make blocks.
  function blockAt(low, high, bits, k) { // BigInts but bits, a Number: [low, length, size]
    const d = BigInt(Math.max(0, bitLength(low ^ (high - 1n)) - 1));
    const middle = (high >> d) << d, rise = middle - low, fall = high - middle;
    const block = (size) => [low, bits - bitLength(size) + 1, size];
    for (let size = 1n; size <= rise; size <<= 1n) {
      if (!(rise & size)) continue;
      if (!k--) return block(size);
      low += size;
    }
    for (let size = 1n << d; size; size >>= 1n) {
      if (!(fall & size)) continue;
      if (!k--) return block(size);
      low += size;
    }
    return null; // not reached: k is below the gap's count
  }

  // The largest power of two dividing an IPv4 address (0: all 2^32). Bitwise operators take
  // the low 32 bits, all of an address's, as a signed integer: >>> 0 reads the bit unsigned.
  const lowBit4 = (value) => (value ? (value & -value) >>> 0 : 2 ** 32);

  function blockCount4(low, high) { // split(low, high, 32n), counted in Numbers: no BigInt
    let blocks = 0;
    while (low < high) {
      let size = lowBit4(low);
      while (low + size > high) size /= 2;
      low += size;
      blocks++;
    }
    return blocks;
  }

  // The same count for IPv6 without a BigInt: an address is four 32-bit words (Numbers), the
  // highest first. Up to m, the blocks reach the next multiple of 2^d above low: as many as the
  // 1 bits of 2^d minus low's bits below d, which are the lowest 1 bit of those and each 0 bit
  // above it (one block of 2^d when they are all 0). Mirrored (complementing every address maps
  // aligned blocks to aligned blocks), the blocks from m to high count the same on the bits of
  // ~(high - 1). When both are all 0, [low, high) is the one block of 2^(d+1).
  const pop32 = (word) => { // the 1 bits of a 32-bit word
    word -= (word >>> 1) & 0x55555555;
    word = (word & 0x33333333) + ((word >>> 2) & 0x33333333);
    return Math.imul((word + (word >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
  };

  function blockCount6(low, last) { // [low, last], last included (high - 1 is always 128 bits)
    let top = 0; // the first word where they differ
    while (top < 3 && low[top] === last[top]) top++;
    const differ = (low[top] ^ last[top]) >>> 0;
    if (!differ) return 1; // a single address
    const bit = 31 - Math.clz32(differ); // d is this bit of that word
    const rising = run6(low, 0, top, bit), falling = run6(last, -1, top, bit);
    return rising || falling ? (rising || 1) + (falling || 1) : 1;
  }

  // 1 + the 0 bits above the lowest 1 bit, of the bits below d (bit `bit` of word `top`) of
  // the words, XOR flip (-1: complemented); 0 when those bits are all 0.
  function run6(words, flip, top, bit) {
    let ones = 0, zeros = 0, found = false; // zeros: below the lowest 1 bit
    for (let at = 3; at >= top; at--) {
      const word = ((words[at] ^ flip) & (at > top ? 0xffffffff : 2 ** bit - 1)) >>> 0;
      ones += pop32(word);
      if (found) continue;
      zeros += word ? 31 - Math.clz32(word & -word) : at > top ? 32 : bit;
      found = word !== 0;
    }
    return found ? 1 + 32 * (3 - top) + bit - ones - zeros : 0;
  }

  function* freeBlocks(node) {
    const bits = BigInt(width(node));
    const start = bigAddress(node), stop = start + bigSize(node);
    let cursor = start;
    for (const child of childrenOf(node)) {
      const childStart = bigAddress(child);
      if (childStart > cursor) yield* split(cursor, childStart, bits);
      cursor = childStart + bigSize(child);
    }
    if (cursor < stop) yield* split(cursor, stop, bits);
  }

  // An IPv6 node's first and last addresses as words: its address (the BigInt, made once) cut
  // in four through a DataView, and for the last the bits below the node's size set.
  const wordsView = new DataView(new ArrayBuffer(16));
  function span6(node, first, last) { // into two Uint32Arrays of 4
    const address = address6Of(node), shift = 128 - lengths[node];
    wordsView.setBigUint64(0, address >> 64n);
    wordsView.setBigUint64(8, BigInt.asUintN(64, address));
    for (let at = 0; at < 4; at++) {
      first[at] = wordsView.getUint32(4 * at);
      const below = shift - 32 * (3 - at); // the word's bits below the node's size
      last[at] = below >= 32 ? 0xffffffff : below > 0 ? (first[at] | (2 ** below - 1)) >>> 0 : first[at];
    }
  }

  const compare6 = (a, b) => { // -1, 0 or 1
    for (let at = 0; at < 4; at++) if (a[at] !== b[at]) return a[at] < b[at] ? -1 : 1;
    return 0;
  };

  function step6(words, by) { // add by (1 or -1) in place; false when it wraps around
    for (let at = 3; at >= 0; at--) {
      const value = words[at] + by;
      words[at] = value >>> 0;
      if (value >= 0 && value < 2 ** 32) return true;
    }
    return false;
  }

  // The free blocks of an open node, counted gap by gap: gaps[k] is how many lie before its
  // child k (after child n - 1 for k = n), summed, so that the node's entries (free blocks and
  // children in address order) can be numbered and found by a binary search.
  function freeCounts(node, children) {
    const n = childCount[node];
    const gaps = new Int32Array(n + 1);
    let total = 0;
    if (isIPv4(node)) {
      let cursor = address4[node];
      for (let k = 0; k < n; k++) {
        const child = children[k];
        total += blockCount4(cursor, address4[child]);
        gaps[k] = total;
        cursor = address4[child] + 2 ** (32 - lengths[child]);
      }
      total += blockCount4(cursor, address4[node] + 2 ** (32 - lengths[node]));
    } else { // in words: see blockCount6
      const low = new Uint32Array(4), end = new Uint32Array(4);
      const first = new Uint32Array(4), last = new Uint32Array(4);
      span6(node, low, end);
      let inside = true; // low is an address: the child before did not end at 2^128
      for (let k = 0; k < n; k++) {
        span6(children[k], first, last);
        if (compare6(low, first) < 0) { // a gap: [low, first - 1]
          step6(first, -1);
          total += blockCount6(low, first);
        }
        gaps[k] = total;
        low.set(last);
        inside = step6(low, 1);
      }
      if (inside && compare6(low, end) <= 0) total += blockCount6(low, end);
    }
    gaps[n] = total;
    return gaps;
  }

  // -- The rows. An open node's entries are its children, with its free blocks among them in
  // address order when free space is shown; the rows are the entries of the open nodes, each
  // followed by its own rows when it is open. `open` maps each open node (-1: the level of the
  // roots, always open) to its row count below it, its open children in order, and the list of
  // all its children (made when it opens: the k-th child in one step).
  const open = new Map();
  open.set(-1, { size: rootCount, kids: [], gaps: null, children: childList(-1) });
  let showFree = false;
  const childAt = (owner, k) => open.get(owner).children[k]; // owner open (-1: the roots)

  const entryCount = (node) => {
    const gaps = open.get(node).gaps;
    return childrenCount(node) + (gaps ? gaps[gaps.length - 1] : 0);
  };

  function entryOf(node) { // a node's entry number in its parent
    const gaps = open.get(parent[node]).gaps;
    return childIndex[node] + (gaps ? gaps[childIndex[node]] : 0);
  }

  function nodeAt(owner, entry) { // the node of an entry, -1 for a free block
    const gaps = open.get(owner).gaps;
    if (!gaps) return childAt(owner, entry);
    const k = gapOf(gaps, entry);
    return k < childCount[owner] && k + gaps[k] === entry ? childAt(owner, k) : -1;
  }

  function gapOf(gaps, entry) { // the first child k at or after the entry (n when none)
    let low = 0, high = gaps.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (middle + gaps[middle] >= entry) high = middle; else low = middle + 1;
    }
    return low;
  }

  function freeBlockAt(owner, entry) { // [low, length, size] of a free-block entry
    const gaps = open.get(owner).gaps;
    const k = gapOf(gaps, entry);
    const skip = entry - k - (k ? gaps[k - 1] : 0);
    const before = k ? childAt(owner, k - 1) : -1;
    const low = before < 0 ? bigAddress(owner) : bigAddress(before) + bigSize(before);
    const high = k < childCount[owner] ? bigAddress(childAt(owner, k))
      : bigAddress(owner) + bigSize(owner);
    return blockAt(low, high, width(owner), skip);
  }

  const rowCount = () => open.get(-1).size;
  const makeRow = (owner, entry) => ({ owner, entry, node: nodeAt(owner, entry) });
  const keyOf = (row) => (row.node >= 0 ? "n" + row.node : "f" + row.owner + "-" + row.entry);

  function rowAt(index) { // the index-th visible row
    let owner = -1;
    for (;;) {
      let skipped = 0, inside = false;
      for (const kid of open.get(owner).kids) {
        const at = entryOf(kid) + skipped;
        if (index < at) break;
        if (index === at) return { owner, entry: index - skipped, node: kid };
        const size = open.get(kid).size;
        if (index <= at + size) { owner = kid; index -= at + 1; inside = true; break; }
        skipped += size;
      }
      if (!inside) return makeRow(owner, index - skipped);
    }
  }

  function indexOf(owner, entry) { // the row number of an entry of an open node
    let index = entry;
    for (const kid of open.get(owner).kids) {
      if (entryOf(kid) >= entry) break;
      index += open.get(kid).size;
    }
    return owner < 0 ? index : indexOf(parent[owner], entryOf(owner)) + 1 + index;
  }

  const nodeRow = (node) => ({ owner: parent[node], entry: entryOf(node), node });
  const rowIndex = (row) => (row.node >= 0 ? indexOf(row.owner, entryOf(row.node)) : indexOf(row.owner, row.entry));

  function nextRow(row) { // the row after, or null after the last
    if (row.node >= 0 && open.has(row.node) && entryCount(row.node)) return makeRow(row.node, 0);
    let owner = row.owner, entry = row.entry + 1;
    while (entry >= entryCount(owner)) {
      if (owner < 0) return null;
      entry = entryOf(owner) + 1;
      owner = parent[owner];
    }
    return makeRow(owner, entry);
  }

  function isShown(row) { // all its ancestors are open (and its free block still listed)
    for (let above = row.owner; above >= 0; above = parent[above]) if (!open.has(above)) return false;
    return row.node >= 0 || (showFree && row.entry < entryCount(row.owner));
  }

  function resize(node, change) { // a node's row count changed: so did its ancestors'
    for (let above = node; ; above = parent[above]) {
      open.get(above).size += change;
      if (above < 0) return;
    }
  }

  function expand(node) {
    if (!childCount[node] || open.has(node)) return;
    const children = childList(node);
    const info = { size: 0, kids: [], gaps: showFree ? freeCounts(node, children) : null, children };
    open.set(node, info);
    const siblings = open.get(parent[node]).kids;
    let at = siblings.length;
    while (at > 0 && siblings[at - 1] > node) at--; // nodes are numbered in address order
    siblings.splice(at, 0, node);
    resize(parent[node], entryCount(node)); // through the parent: its own size counts too
    info.size = entryCount(node);
  }

  function collapse(node) {
    if (!open.has(node)) return;
    const size = open.get(node).size;
    const drop = (above) => {
      for (const kid of open.get(above).kids) drop(kid);
      open.delete(above);
    };
    drop(node);
    const siblings = open.get(parent[node]).kids;
    siblings.splice(siblings.indexOf(node), 1);
    resize(parent[node], -size);
  }

  function setShowFree(on) { // the gaps of every open node, then every row count again
    showFree = on;
    const recount = (node) => {
      const info = open.get(node);
      if (node >= 0) info.gaps = on ? freeCounts(node, info.children) : null;
      info.size = entryCount(node);
      for (const kid of info.kids) info.size += recount(kid);
      return info.size;
    };
    recount(-1);
  }

  // -- The DOM: a WAI-ARIA tree of the rows in view, each an absolutely placed treeitem.
  const scroller = document.getElementById("tree-scroll");
  const header = scroller.querySelector(".columns");
  const tree = document.getElementById("tree");
  const element = (tag, className, text) => {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
  };

  function makeItem() { // an empty row, filled (and refilled as the list scrolls) by fillItem
    const item = element("div");
    item.setAttribute("role", "treeitem");
    const row = element("div", "row");
    const prefix = element("span", "prefix");
    const toggle = element("span", "toggle");
    toggle.setAttribute("aria-hidden", "true");
    prefix.append(toggle, element("bdi", "text"));
    const bar = element("span", "bar");
    bar.append(element("span"));
    const use = element("span", "use");
    use.append(bar, element("span", "percent"));
    row.append(prefix, element("span", "ids"), element("span", "count"), use, element("span", "free"));
    item.append(row);
    return item;
  }

  function fillItem(item, row) {
    const node = row.node, owner = row.owner;
    const [prefix, ids, children, use, free] = item.firstElementChild.children;
    item.id = keyOf(row);
    item.ipamRow = row;
    item.classList.toggle("free-row", node < 0);
    item.setAttribute("aria-level", String(owner < 0 ? 1 : depth[owner] + 2));
    item.setAttribute("aria-setsize", String(entryCount(owner)));
    item.setAttribute("aria-posinset", String(row.entry + 1));
    prefix.style.setProperty("--depth", owner < 0 ? 0 : depth[owner] + 1);
    const [bar, share] = use.children;
    ids.replaceChildren();
    if (node >= 0) {
      prefix.lastElementChild.textContent = prefixText(node);
      appendIds(ids, node, IDS_SHOWN);
      ids.title = idsText(node); // all of them, where the column cuts them short
      children.textContent = childrenText(node);
      const utilization = utilizationOf(node);
      bar.hidden = false;
      bar.firstElementChild.style.width = Math.min(100, utilization * 100) + "%";
      share.textContent = percent(node);
      free.textContent = short(bigSize(node) - usedAddresses(node)) + " free";
    } else {
      const [low, length, size] = freeBlockAt(owner, row.entry);
      prefix.lastElementChild.textContent = blockText(low, length, width(owner));
      ids.title = "";
      children.textContent = "free block";
      bar.hidden = true;
      share.textContent = "";
      free.textContent = short(size) + " free";
    }
  }

  function markItem(item, row, active) { // the state that changes without the row changing
    const node = row.node;
    const expandable = node >= 0 && childCount[node] > 0;
    if (expandable) item.setAttribute("aria-expanded", String(open.has(node)));
    else item.removeAttribute("aria-expanded");
    item.firstElementChild.firstElementChild.firstElementChild.textContent =
      expandable ? (open.has(node) ? "\u25be" : "\u25b8") : "";
    item.setAttribute("aria-selected", String(selected !== null && keyOf(selected) === item.id));
    item.tabIndex = active ? 0 : -1;
  }

  let rowHeight = 0; // px, measured from a row (the stylesheet says how tall)
  const shown = new Map(); // key -> element, the rows in the DOM
  let selected = null; // the selected row, or null

  function geometry() {
    const total = rowCount();
    const full = total * rowHeight;
    const height = Math.min(full, MAX_HEIGHT);
    const view = Math.max(rowHeight, scroller.clientHeight - header.offsetHeight);
    // Past MAX_HEIGHT the scroll position is scaled: scrolling the whole height crosses all rows.
    const ratio = height > view ? (full - view) / (height - view) : 1;
    return { total, height, view, ratio };
  }

  function render() {
    if (!rowHeight) measure();
    const { total, height, view, ratio } = geometry();
    if (tree.style.height !== height + "px") tree.style.height = height + "px";
    const top = scroller.scrollTop; // after the height: a shorter list may have moved it
    const virtualTop = top * ratio;
    const inView = Math.min(Math.floor(virtualTop / rowHeight), Math.max(0, total - 1));
    const first = Math.max(0, inView - MARGIN);
    const last = Math.min(total - 1, Math.floor((virtualTop + view) / rowHeight) + MARGIN);
    const place = (index) => top + index * rowHeight - virtualTop;
    const wanted = [];
    let row = total ? rowAt(first) : null;
    for (let index = first; index <= last && row; index++, row = nextRow(row)) {
      wanted.push([row, place(index)]);
    }
    if (selected !== null && !isShown(selected)) selected = null;
    let active = selected; // the tree's one tab stop: the selected row, else the first in view
    if (active === null && total) active = wanted[Math.min(inView - first, wanted.length - 1)][0];
    if (selected !== null) { // kept as an element wherever it is: it may have the focus
      const index = rowIndex(selected);
      if (index < first) wanted.unshift([selected, Math.max(0, place(first) - rowHeight)]);
      else if (index > last) wanted.push([selected, place(last) + rowHeight]);
    }
    const keys = new Set(wanted.map(([row]) => keyOf(row)));
    const spare = [];
    for (const [key, item] of shown) {
      if (!keys.has(key)) { spare.push(item); shown.delete(key); }
    }
    const focused = document.activeElement;
    let at = tree.firstElementChild;
    const activeKey = active && keyOf(active);
    for (const [row, offset] of wanted) {
      const key = keyOf(row);
      let item = shown.get(key);
      if (!item) {
        item = spare.pop() || makeItem();
        fillItem(item, row);
        shown.set(key, item);
      } else {
        item.ipamRow = row;
      }
      markItem(item, row, key === activeKey);
      item.style.top = offset + "px";
      if (item === at) at = at.nextElementSibling; // in row order in the DOM, as read
      else tree.insertBefore(item, at);
    }
    for (const item of spare) item.remove();
    if (focused !== document.activeElement && tree.contains(focused)) focused.focus({ preventScroll: true });
  }

  function measure() { // one row's height, from the stylesheet (a phone's rows may be taller)
    const probe = makeItem();
    probe.style.visibility = "hidden";
    tree.append(probe);
    rowHeight = probe.getBoundingClientRect().height || 24;
    probe.remove();
  }

  function scrollToRow(index, center) { // put a row in view (nearest edge, or the middle)
    const { height, view, ratio } = geometry();
    tree.style.height = height + "px";
    const virtualTop = scroller.scrollTop * ratio;
    const top = index * rowHeight;
    let wanted = virtualTop;
    if (center) wanted = top - (view - rowHeight) / 2;
    else if (top < virtualTop) wanted = top;
    else if (top + rowHeight > virtualTop + view) wanted = top + rowHeight - view;
    if (wanted !== virtualTop) scroller.scrollTop = Math.max(0, wanted / ratio);
    render();
  }

  // -- Moving and selecting, per the APG tree pattern; selection follows focus.
  function select(row, { focus = true, center = false } = {}) {
    selected = row;
    scrollToRow(rowIndex(row), center);
    const item = shown.get(keyOf(row));
    if (focus && document.activeElement !== item) item.focus({ preventScroll: true });
    const box = item.getBoundingClientRect(); // the page around the list scrolls too
    if (box.bottom > window.innerHeight) window.scrollBy(0, box.bottom - window.innerHeight);
    else if (box.top < 0) window.scrollBy(0, box.top);
    showDetails(row);
  }

  function toggle(node) {
    if (open.has(node)) collapse(node); else expand(node);
    render();
  }

  const pageRows = () => Math.max(1, Math.floor(geometry().view / rowHeight) - 1);

  tree.addEventListener("keydown", (event) => {
    const item = event.target.closest("[role=treeitem]");
    if (!item || event.altKey || event.ctrlKey || event.metaKey) return;
    const row = item.ipamRow, node = row.node;
    const index = rowIndex(row), last = rowCount() - 1;
    let target = -1;
    switch (event.key) {
      case "ArrowDown": target = Math.min(index + 1, last); break;
      case "ArrowUp": target = Math.max(index - 1, 0); break;
      case "ArrowRight":
        if (node >= 0 && childCount[node]) {
          if (open.has(node)) target = index + 1;
          else toggle(node);
        }
        break;
      case "ArrowLeft":
        if (node >= 0 && open.has(node)) toggle(node);
        else if (row.owner >= 0) target = indexOf(parent[row.owner], entryOf(row.owner));
        break;
      case "Home": target = 0; break;
      case "End": target = last; break;
      case "PageDown": target = Math.min(index + pageRows(), last); break;
      case "PageUp": target = Math.max(index - pageRows(), 0); break;
      case "Enter":
      case " ":
        if (node >= 0 && childCount[node]) toggle(node);
        break;
      default:
        if (event.key.length !== 1) return; // not a character
        typeAhead(event.key, index);
    }
    event.preventDefault();
    if (target >= 0 && target !== index) select(rowAt(target));
  });

  // Type-ahead: the typed characters (within a second of each other) move to the next visible
  // node whose prefix starts with them; a new first character starts after the current row.
  let typed = "", typedAt = -Infinity;
  function typeAhead(character, index) {
    const now = performance.now();
    typed = (now - typedAt < 1000 ? typed : "") + character.toLowerCase();
    typedAt = now;
    const total = rowCount();
    let row = rowAt(index);
    for (let step = typed.length > 1 ? 0 : 1; step <= total; step++) {
      if (step) row = nextRow(row) || rowAt(0);
      if (row.node >= 0 && prefixText(row.node).startsWith(typed)) {
        if (step % total) select(row);
        return;
      }
    }
  }

  // Focus from Tab selects; focus from a press of the mouse waits for the click, which selects
  // and opens: selecting at once would show the details and move the row from under the mouse.
  let pressing = false;
  tree.addEventListener("mousedown", () => { pressing = true; });
  document.addEventListener("mouseup", () => { pressing = false; }, true);
  tree.addEventListener("focusin", (event) => {
    const item = event.target.closest("[role=treeitem]");
    if (item && !pressing && (selected === null || keyOf(selected) !== item.id)) {
      select(item.ipamRow, { focus: false });
    }
  });

  tree.addEventListener("click", (event) => {
    const item = event.target.closest("[role=treeitem]");
    if (!item || !event.target.closest(".row")) return;
    const row = item.ipamRow;
    if (row.node >= 0 && childCount[row.node]) toggle(row.node);
    select(row);
  });

  scroller.addEventListener("scroll", render, { passive: true });
  new ResizeObserver(() => { measure(); render(); }).observe(scroller);

  const freeSwitch = document.getElementById("free-switch");
  freeSwitch.addEventListener("change", () => {
    setShowFree(freeSwitch.checked);
    for (const item of shown.values()) item.remove(); // every row's place and set changed
    shown.clear();
    const keep = selected === null ? -1 : selected.node >= 0 ? selected.node : selected.owner;
    selected = null; // a free block's row gives way to its node
    if (keep >= 0) select(nodeRow(keep), { focus: false }); else render();
  });

  // -- The selected node's details and, on demand, its free blocks.
  const details = document.getElementById("details");
  const freeList = document.getElementById("free-blocks");
  const freeMore = document.getElementById("free-more");
  const freeButton = document.getElementById("free-button");
  let detailsNode = -1;

  function showDetails(row) {
    const node = row.node;
    details.hidden = false;
    freeList.replaceChildren();
    freeMore.textContent = "";
    const text = document.getElementById("details-text");
    text.replaceChildren();
    freeButton.hidden = node < 0;
    detailsNode = node;
    if (node < 0) { // a free block's row
      const [low, length, size] = freeBlockAt(row.owner, row.entry);
      document.getElementById("details-title").textContent = blockText(low, length, width(row.owner));
      text.append("free block \u00b7 in " + prefixText(row.owner) + " \u00b7 " + grouped(size) + " addresses");
      return;
    }
    document.getElementById("details-title").textContent = prefixText(node);
    const size = bigSize(node), used = usedAddresses(node);
    const above = parent[node];
    appendIds(text, node, Infinity);
    text.append(" \u00b7 depth " + depth[node] + " \u00b7 parent " +
      (above < 0 ? "none" : prefixText(above)) + " \u00b7 " + childrenText(node) + " \u00b7 " +
      grouped(size) + " addresses, " + grouped(size - used) + " free (" +
      percent(node) + " used)");
  }

  freeButton.addEventListener("click", () => {
    if (detailsNode < 0) return;
    const rows = document.createDocumentFragment();
    const gaps = freeCounts(detailsNode, childList(detailsNode)); // counted, not made
    const blocks = gaps[gaps.length - 1];
    const bits = width(detailsNode);
    for (const [low, length, size] of freeBlocks(detailsNode)) {
      if (rows.childElementCount === FREE_SHOWN) break;
      const row = element("li", "", blockText(low, length, bits));
      row.append(element("span", "size", grouped(size)));
      row.dataset.prefix = blockText(low, length, bits);
      rows.append(row);
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

  function reveal(node) { // open its ancestors, select it, scroll it to the middle of the view
    const chain = [];
    for (let above = parent[node]; above >= 0; above = parent[above]) chain.unshift(above);
    for (const above of chain) expand(above);
    select(nodeRow(node), { center: true });
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

  render();
  document.documentElement.dataset.readyMs = String(Math.round(performance.now())); // the bench
  document.documentElement.dataset.scriptMs = String(Math.round(performance.now() - started));
  document.documentElement.dataset.ready = "true";
})();
