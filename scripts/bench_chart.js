// Run in the page by bench_chart.py: make an auction of `n` events, read it into PriceCharts
// (static/chart.js) through a stand-in connection, time each part.
(async ([n]) => {
  const { PriceCharts } = await import("/static/chart.js");
  const t0 = Date.parse("2026-11-27T10:00:00Z");
  const iso = (ms) => new Date(ms).toISOString();
  const events = [
    { seq: 1, type: "auction_created", at: iso(t0), by: null, data: {} },
    { seq: 2, type: "auction_started", at: iso(t0), by: null, data: { closes_at: iso(t0 + 600000) } },
  ];
  const live = new Map();
  let price = 900000;
  for (let seq = 3; seq <= n; seq++) {
    const at = iso(t0 + seq * 10);
    const supplier = `c-s${seq % 10}`;
    const product_id = seq % 2 ? "p1" : "p2";
    if (seq % 997 === 0) {
      events.push({ seq, type: "duration_extended", at, by: null, data: { closes_at: iso(t0 + seq * 10 + 180000) } });
    } else if (seq % 101 === 0 && live.has(supplier + product_id)) {
      events.push({ seq, type: "bids_revoked", at, by: null,
        data: { product_id, supplier_id: supplier, bid_ids: [live.get(supplier + product_id)] } });
      live.delete(supplier + product_id);
    } else {
      price -= seq % 3 === 0 ? 25 : -20;
      const bid_id = `a:${seq}:0`;
      live.set(supplier + product_id, bid_id);
      events.push({ seq, type: "bid_placed", at, by: null, data: { bid_id, product_id, supplier_id: supplier,
        supplier: { id: supplier, name: supplier }, amount: (price / 100).toFixed(2), is_auto: false } });
    }
  }
  const pages = [];
  for (let i = 0; i < events.length; i += 1000) {
    const page = events.slice(i, i + 1000);
    const next = i + 1000 < events.length ? page[page.length - 1].seq : null;
    pages.push(JSON.stringify({ events: page, next_since: next }));
  }
  let t = performance.now();
  for (const text of pages) JSON.parse(text);
  const parse = performance.now() - t;
  const product = (id) => ({ product_id: id, vessel: { name: "MV " + id, imo: "9300001" }, fuel: "VLSFO",
    quantity_mt: 1500, bids: [{ bid_id: "x", amount: (price / 100).toFixed(2), supplier: { id: "c-s1", name: "c-s1" } }] });
  const auction = { id: "a", seq: n, events: [], view: { status: "open", products: [product("p1"), product("p2")] } };
  let nowMs = t0 + n * 10;
  auction.view.closes_at = iso(nowMs + 180000);
  const ctx = {
    model: { me: { company: { role: "buyer", id: "c-b" } }, get: () => auction, clock: { now: () => nowMs } },
    conn: { request: async (type, f) => JSON.parse(pages[Math.floor(f.since / 1000)]) },
  };
  const charts = new PriceCharts(ctx, "a");
  document.body.append(charts.el);
  t = performance.now();
  await charts.load();
  const load = performance.now() - t;
  const read = charts.builder.events;
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const painted = performance.now() - t;
  const updates = [];
  for (let i = 1; i <= 20; i++) {
    const seq = n + i;
    price -= 25;
    const event = { seq, type: "bid_placed", at: iso(t0 + seq * 10), by: null, data: { bid_id: `a:${seq}:0`,
      product_id: "p1", supplier_id: "c-s1", supplier: { id: "c-s1", name: "c-s1" }, amount: (price / 100).toFixed(2) } };
    auction.events.push(event);
    auction.seq = seq;
    nowMs = t0 + seq * 10;
    auction.view.products[0].bids[0].amount = (price / 100).toFixed(2);
    t = performance.now();
    charts.update();
    updates.push(performance.now() - t);
  }
  updates.sort((a, b) => a - b);
  const paths = [...document.querySelectorAll("path.best")].map((p) => p.getAttribute("d").split(/[MHV]/).length);
  const points = Math.max(...paths);
  document.body.replaceChildren();
  return { parse, load, painted, update: updates[10], points, events: read };
})
